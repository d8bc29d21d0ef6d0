package jobs_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// The helpers below let a rule test read as Given (configuration and raw objects), When (one
// or more runs at fixed instants) and Then (assertions on the published outputs).

// rateCards is the price list most cases share. Version std@2026-01-01 (listed second on
// purpose: versions need not be listed in order) and std@2026-01-16 where chat costs 12 and
// legacy is gone.
const rateCards = `rate_cards:
  - id: std
    effective_from: 2026-01-16T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 12}
  - id: std
    effective_from: 2026-01-01T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: legacy, kind: per_event, credits: 1}
  - id: full
    effective_from: 2025-01-01T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: voice, kind: per_event_if_ratio, credits: 55, ratio_attribute: configured_seconds, min_ratio: 0.30}
      - {event_type: video, kind: per_unit, per: 60, credits: 210, rounding: ceil, allowance: video_minutes}
      - {event_type: video_exact, kind: per_unit, per: 60, credits: 210, rounding: exact}
      - {event_type: tick, kind: per_unit, per: 2, credits: 1, rounding: exact}
      - {event_type: assistant, kind: per_token, input_per_1k: 0.01, output_per_1k: 0.03}
      - {event_type: search, kind: free}
  - id: later
    effective_from: 2026-01-10T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
`

// tenantYAML renders one tenant entry: sensible defaults (rate card full, UTC, monthly from
// 2026-01-01 to 2026-12-31, plan 100, overage billed at 0.05) overridden or extended by
// key/value pairs written as YAML flow text.
func tenantYAML(id string, kv ...string) string {
	fields := map[string]string{
		"rate_card":     "full",
		"timezone":      "UTC",
		"currency":      "EUR",
		"period":        "monthly",
		"anchor_day":    "1",
		"service_start": "2026-01-01",
		"service_end":   "2026-12-31",
		"credits_plan":  "100",
		"overage":       "{policy: bill, price_per_credit: 0.05}",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(fields, kv[i])
			continue
		}
		fields[kv[i]] = kv[i+1]
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("  - id: " + id + "\n")
	for _, k := range keys {
		b.WriteString("    " + k + ": " + fields[k] + "\n")
	}
	return b.String()
}

// config joins the shared rate cards, any further rate-card entries (YAML list items) and the
// given tenants.
func config(cards string, tenants ...string) string {
	return rateCards + cards + "tenants:\n" + strings.Join(tenants, "")
}

// ev renders one raw event as a JSON line. Defaults: tenant acme, user u-1, chat, value 1,
// unit attempt, at 2026-01-10T10:00:00Z. Pairs override fields: a nil value removes the
// field, json.RawMessage is written as it is, anything else is JSON-encoded.
func ev(id string, kv ...any) string {
	m := map[string]any{
		"event_id":    id,
		"occurred_at": "2026-01-10T10:00:00Z",
		"tenant_id":   "acme",
		"user_id":     "u-1",
		"event_type":  "chat",
		"event_value": 1,
		"event_unit":  "attempt",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// lines joins JSON lines into an object's text.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// world is one installation: a configuration, a source directory, an output directory and a
// warehouse file, all in a temporary directory, kept across runs.
type world struct {
	t                  *testing.T
	cfg                string
	src, out, wh, root string
	last               *jobs.Manifest
}

func newWorld(t *testing.T, cfg string) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, cfg: cfg, root: root, src: filepath.Join(root, "raw"),
		out: filepath.Join(root, "out"), wh: filepath.Join(root, "wh", "warehouse.duckdb")}
	if err := os.MkdirAll(w.src, 0o755); err != nil {
		t.Fatal(err)
	}
	return w
}

// put writes a source object (key relative to the source directory). A rewritten object
// gets a modification time one minute later than before, so its ETag changes.
func (w *world) put(key, content string) {
	w.t.Helper()
	p := filepath.Join(w.src, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	var old time.Time
	if st, err := os.Stat(p); err == nil {
		old = st.ModTime()
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if !old.IsZero() {
		if err := os.Chtimes(p, old.Add(time.Minute), old.Add(time.Minute)); err != nil {
			w.t.Fatal(err)
		}
	}
}

// run runs the pipeline at now (RFC 3339) and fails the test on any error.
func (w *world) run(now string) *jobs.Manifest {
	w.t.Helper()
	m, err := w.tryRun(now)
	if err != nil {
		w.t.Fatalf("run at %s: %v", now, err)
	}
	return m
}

func (w *world) tryRun(now string) (*jobs.Manifest, error) {
	w.t.Helper()
	cfg, err := schemas.ParseConfig([]byte(w.cfg), "test.yaml", w.root)
	if err != nil {
		w.t.Fatalf("configuration: %v\n%s", err, w.cfg)
	}
	at, err := time.Parse(time.RFC3339, now)
	if err != nil {
		w.t.Fatalf("now %q: %v", now, err)
	}
	r, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		w.t.Fatalf("new runner: %v", err)
	}
	m, err := r.Run(context.Background(), jobs.Options{Source: w.src, Output: w.out, Warehouse: w.wh, Now: at})
	if err == nil {
		w.last = m
	}
	return m, err
}

// csvRows reads a published CSV as maps by column name.
func (w *world) csvRows(rel string) []map[string]string {
	w.t.Helper()
	f, err := os.Open(filepath.Join(w.out, filepath.FromSlash(rel)))
	if err != nil {
		w.t.Fatalf("read %s: %v", rel, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		w.t.Fatalf("parse %s: %v", rel, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// period returns the ledger row of a tenant's period (period_start YYYY-MM-DD).
func (w *world) period(tenant, start string) map[string]string {
	w.t.Helper()
	for _, r := range w.csvRows("ledger/period_usage.csv") {
		if r["tenant_id"] == tenant && r["period_start"] == start {
			return r
		}
	}
	w.t.Fatalf("ledger/period_usage.csv: no row for %s %s", tenant, start)
	return nil
}

// invoices returns the invoice register.
func (w *world) invoices() []map[string]string {
	w.t.Helper()
	return w.csvRows("invoices/register.csv")
}

// qline is one quarantined line as it stands: the fields of quarantine/{run_id}.jsonl and
// the raw text of its restricted twin.
type qline struct {
	ObjectKey string  `json:"object_key"`
	Line      int64   `json:"line"`
	Reason    string  `json:"reason"`
	Field     *string `json:"field"`
	EventID   *string `json:"event_id"`
	Raw       string  `json:"raw"`
}

// quarantine reads every line quarantined as of the last run, keyed "object_key:line", from
// the warehouse (the quarantine files list only what each run newly quarantined).
func (w *world) quarantine() map[string]qline {
	w.t.Helper()
	if w.last == nil {
		w.t.Fatal("no run yet")
	}
	db, err := sql.Open("duckdb", w.wh+"?access_mode=read_only")
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT o.key, l.line_no, coalesce(p.reason, l.reason), CASE WHEN p.reason IS NOT NULL THEN p.field ELSE l.field END,
			l.event_id, l.raw
		FROM lines l JOIN objects o ON o.obj_no = l.obj_no
		LEFT JOIN pending p ON p.line_id = l.line_id
		WHERE l.status = 'quarantined' OR p.reason IS NOT NULL`)
	if err != nil {
		w.t.Fatalf("read quarantine: %v", err)
	}
	defer rows.Close()
	out := map[string]qline{}
	for rows.Next() {
		var q qline
		if err := rows.Scan(&q.ObjectKey, &q.Line, &q.Reason, &q.Field, &q.EventID, &q.Raw); err != nil {
			w.t.Fatal(err)
		}
		out[q.ObjectKey+":"+itoa(q.Line)] = q
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// qtext writes quarantine lines as comparable text.
func qtext(q map[string]qline) map[string]string {
	out := map[string]string{}
	deref := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	for k, v := range q {
		out[k] = strings.Join([]string{v.Reason, deref(v.Field), deref(v.EventID), v.Raw}, "|")
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// reason returns the quarantine reason of a line ("" when the line is not quarantined).
func (w *world) reason(key string, line int64) string {
	w.t.Helper()
	return w.quarantine()[key+":"+itoa(line)].Reason
}

// rated is one row of ledger/rated_events.parquet, decimals as trimmed text.
type rated struct {
	EventID, TenantID, Period                    string
	Rated, Allowance, Plan, Bank, Exceeding, Blk string
	Late                                         bool
	Reason, Version                              string
}

// rated reads ledger/rated_events.parquet by event_id.
func (w *world) rated() map[string]rated {
	w.t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	p := filepath.ToSlash(filepath.Join(w.out, "ledger", "rated_events.parquet"))
	rows, err := db.Query(`SELECT event_id, tenant_id, strftime(billed_period_start, '%Y-%m-%d'),
		CAST(rated_credits AS VARCHAR), CAST(allowance_units AS VARCHAR), CAST(plan_credits AS VARCHAR),
		CAST(bank_credits AS VARCHAR), CAST(exceeding_credits AS VARCHAR), CAST(blocked_credits AS VARCHAR),
		late, coalesce(reason, ''), coalesce(rate_card_version, '')
		FROM read_parquet(?)`, p)
	if err != nil {
		w.t.Fatalf("read rated events: %v", err)
	}
	defer rows.Close()
	out := map[string]rated{}
	for rows.Next() {
		var r rated
		if err := rows.Scan(&r.EventID, &r.TenantID, &r.Period, &r.Rated, &r.Allowance, &r.Plan, &r.Bank,
			&r.Exceeding, &r.Blk, &r.Late, &r.Reason, &r.Version); err != nil {
			w.t.Fatal(err)
		}
		for _, s := range []*string{&r.Rated, &r.Allowance, &r.Plan, &r.Bank, &r.Exceeding, &r.Blk} {
			*s = trimDec(*s)
		}
		out[r.EventID] = r
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// event returns one rated event, failing when it was not billed.
func (w *world) event(id string) rated {
	w.t.Helper()
	r, ok := w.rated()[id]
	if !ok {
		w.t.Fatalf("event %s is not in rated_events.parquet (quarantine: %v)", id, w.quarantine())
	}
	return r
}

// trimDec writes a decimal plainly: "10.5000" -> "10.5", "0.0000" -> "0".
func trimDec(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "" || s == "-0" {
		s = "0"
	}
	return s
}

// snapshot returns the sha256 of every published file but the run manifests.
func (w *world) snapshot() map[string]string {
	w.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(w.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(w.out, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "runs/") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// check compares named values and reports every difference.
func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkRow compares some columns of a CSV row.
func checkRow(t *testing.T, what string, row map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, row[k], v)
		}
	}
}

// checkSplit compares a rated event with "rated/allowance/plan/bank/exceeding/blocked".
func checkSplit(t *testing.T, r rated, want string) {
	t.Helper()
	got := strings.Join([]string{r.Rated, r.Allowance, r.Plan, r.Bank, r.Exceeding, r.Blk}, "/")
	if got != want {
		t.Errorf("event %s: rated/allowance/plan/bank/exceeding/blocked = %s, want %s", r.EventID, got, want)
	}
}

// obj is one source object of a case.
type obj struct{ key, text string }

// rcase is one end-to-end case: Given cfg and objs, When a run happens at now, Then then.
type rcase struct {
	name string
	cfg  string // default: one tenant acme with the defaults of tenantYAML
	objs []obj
	now  string // default: 2026-02-10T00:00:00Z (January final)
	then func(t *testing.T, w *world)
}

const defaultNow = "2026-02-10T00:00:00Z"

// runCases runs every case in a world of its own.
func runCases(t *testing.T, cases []rcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			if cfg == "" {
				cfg = config("", tenantYAML("acme"))
			}
			now := c.now
			if now == "" {
				now = defaultNow
			}
			w := newWorld(t, cfg)
			for _, o := range c.objs {
				w.put(o.key, o.text)
			}
			w.run(now)
			c.then(t, w)
		})
	}
}
