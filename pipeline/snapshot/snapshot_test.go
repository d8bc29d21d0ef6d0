package snapshot_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/snapshot"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// The tests run real runs (jobs.Runner) on a source directory and compare the snapshot
// the runs kept up to date, delta by delta, with one rebuilt from scratch from the same
// warehouse (snapshot.Rebuild): the two must hold the same rows.

const cards = `rate_cards:
  - id: std
    effective_from: 2025-01-01T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: video, kind: per_unit, per: 60, credits: 210, rounding: ceil, allowance: video_minutes}
      - {event_type: search, kind: free}
`

// danceRule is added to the rate card later: lines quarantined as unknown_event_type
// become billable.
const danceRule = "      - {event_type: dance, kind: per_event, credits: 7}\n"

const (
	acmeYAML = `  - {id: acme, rate_card: std, timezone: Europe/Rome, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 15,
     overage: {policy: bill, price_per_credit: 0.05}, allowances: [{pool: video_minutes, name: included, units: 2}]}
`
	betaYAML = `  - {id: beta, rate_card: std, timezone: UTC, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 100, overage: {policy: block}}
`
	gammaYAML = `  - {id: gamma, rate_card: std, timezone: UTC, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-02-01, service_end: 2026-12-31, credits_plan: 5,
     overage: {policy: bill, price_per_credit: 0.1}}
`
	nobodyYAML = `  - {id: nobody, rate_card: std, timezone: UTC, currency: USD, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 0,
     overage: {policy: bill, price_per_credit: 1}}
`
)

func configOf(rules string, tenants ...string) string {
	return cards + rules + "tenants:\n" + strings.Join(tenants, "")
}

// Personal data in the raw events and the user directory: none of it may reach the snapshot.
var personal = []string{"Alessandra", "Rossellini", "alex.ross", "Bartholomew", "Quigley", "bquig", "Zebulon"}

// ev renders one raw event as a JSON line: tenant acme, user u-1, chat, value 1, on
// 2026-01-10, with the pairs given overriding fields (nil removes one).
func ev(id string, kv ...any) string {
	m := map[string]any{"event_id": id, "occurred_at": "2026-01-10T10:00:00Z", "tenant_id": "acme",
		"user_id": "u-1", "event_type": "chat", "event_value": 1, "event_unit": "attempt"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
			continue
		}
		m[kv[i].(string)] = kv[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.String()
}

// world is one installation kept across runs: configuration, source, output, warehouse.
type world struct {
	t                  *testing.T
	cfg                string
	root, src, out, wh string
	log                bytes.Buffer // the last run's log
}

func newWorld(t *testing.T, cfg string) *world {
	t.Helper()
	root := t.TempDir()
	w := &world{t: t, cfg: cfg, root: root, src: filepath.Join(root, "raw"), out: filepath.Join(root, "out"),
		wh: filepath.Join(root, "var", "warehouse.duckdb")}
	must(t, os.MkdirAll(w.src, 0o755))
	return w
}

// snap is the snapshot database the runs keep beside the warehouse.
func (w *world) snap() string { return w.wh + ".analytics.duckdb" }

// put writes a source object; a rewritten one gets a later modification time (a new ETag).
func (w *world) put(key, content string) {
	w.t.Helper()
	p := filepath.Join(w.src, filepath.FromSlash(key))
	must(w.t, os.MkdirAll(filepath.Dir(p), 0o755))
	var old time.Time
	if st, err := os.Stat(p); err == nil {
		old = st.ModTime()
	}
	must(w.t, os.WriteFile(p, []byte(content), 0o644))
	if !old.IsZero() {
		must(w.t, os.Chtimes(p, old.Add(time.Minute), old.Add(time.Minute)))
	}
}

func (w *world) tryRun(now string) (*jobs.Manifest, error) {
	w.t.Helper()
	cfg, err := schemas.ParseConfig([]byte(w.cfg), "test.yaml", w.root)
	if err != nil {
		w.t.Fatalf("configuration: %v\n%s", err, w.cfg)
	}
	at, err := time.Parse(time.RFC3339, now)
	must(w.t, err)
	w.log.Reset()
	r, err := jobs.New(jobs.Config{Config: cfg, Log: slog.New(slog.NewTextHandler(&w.log, nil))})
	must(w.t, err)
	return r.Run(context.Background(), jobs.Options{Source: w.src, Output: w.out, Warehouse: w.wh, Now: at})
}

func (w *world) run(now string) *jobs.Manifest {
	w.t.Helper()
	m, err := w.tryRun(now)
	if err != nil {
		w.t.Fatalf("run at %s: %v", now, err)
	}
	return m
}

// rebuilt builds a snapshot from scratch from the warehouse as it stands.
func (w *world) rebuilt() string {
	w.t.Helper()
	ctx := context.Background()
	db, err := warehouse.OpenReadOnly(w.wh)
	must(w.t, err)
	defer db.Close()
	conn, err := db.Conn(ctx)
	must(w.t, err)
	defer conn.Close()
	p := filepath.Join(w.t.TempDir(), "rebuilt.duckdb")
	must(w.t, snapshot.Rebuild(ctx, conn, p, 0, "rebuilt", w.t.TempDir()))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sameRows fails the test when two snapshot databases differ in a table's columns or rows
// (compared as multisets, with their keys).
func sameRows(t *testing.T, what, a, b string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	must(t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"ATTACH " + warehouse.Literal(a) + " AS a (READ_ONLY)",
		"ATTACH " + warehouse.Literal(b) + " AS b (READ_ONLY)",
	} {
		_, err := db.Exec(s)
		must(t, err)
	}
	tables := func(cat string) []string {
		return queryText(t, db, "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'data' ORDER BY ALL", cat)
	}
	ta, tb := tables("a"), tables("b")
	if !slices.Equal(ta, tb) || len(ta) < 5 {
		t.Fatalf("%s: data tables %v and %v", what, ta, tb)
	}
	for _, tbl := range ta {
		cols := func(cat string) string {
			var s string
			must(t, db.QueryRow(fmt.Sprintf("SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE %s.data.%s)", cat, tbl)).Scan(&s))
			return s
		}
		if ca, cb := cols("a"), cols("b"); ca != cb {
			t.Errorf("%s: data.%s columns differ:\n  %s\n  %s", what, tbl, ca, cb)
			continue
		}
		for _, d := range [][2]string{{"a", "b"}, {"b", "a"}} {
			q := fmt.Sprintf("SELECT * FROM %s.data.%s EXCEPT ALL SELECT * FROM %s.data.%s", d[0], tbl, d[1], tbl)
			rows := queryText(t, db, q)
			if len(rows) > 0 {
				t.Errorf("%s: data.%s: %d rows only in %s, e.g. %v", what, tbl, len(rows), map[string]string{"a": a, "b": b}[d[0]], rows[:min(3, len(rows))])
			}
		}
	}
}

// queryText runs a query and returns its rows as text.
func queryText(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...))
		out = append(out, fmt.Sprint(vals...))
	}
	must(t, rows.Err())
	return out
}

// checkPublished checks the published snapshot against the one the runs keep: the same
// rows in analytics/warehouse.duckdb, and one Parquet file per table and tenant holding the
// tenant's rows.
func (w *world) checkPublished(what string) {
	w.t.Helper()
	pub := filepath.Join(w.out, filepath.FromSlash(snapshot.DBKey))
	sameRows(w.t, what+" (published copy)", w.snap(), pub)
	db, err := sql.Open("duckdb", "")
	must(w.t, err)
	defer db.Close()
	db.SetMaxOpenConns(1)
	_, err = db.Exec("ATTACH " + warehouse.Literal(w.snap()) + " AS s (READ_ONLY)")
	must(w.t, err)
	for _, tbl := range snapshot.ParquetTables {
		glob := filepath.ToSlash(filepath.Join(w.out, "analytics", "parquet", tbl, "*", "*.parquet"))
		files, _ := filepath.Glob(filepath.FromSlash(glob))
		if len(files) == 0 {
			if n := queryText(w.t, db, fmt.Sprintf("SELECT count(*) FROM s.%s", tbl)); n[0] != "0" {
				w.t.Errorf("%s: no Parquet file for %s, which has %s rows", what, tbl, n[0])
			}
			continue
		}
		src := fmt.Sprintf("read_parquet(%s, hive_partitioning = true, hive_types_autocast = false)", warehouse.Literal(glob))
		want := fmt.Sprintf("SELECT * EXCLUDE (tenant_id), tenant_id FROM s.%s", tbl)
		got := fmt.Sprintf("SELECT * EXCLUDE (tenant_id), tenant_id FROM %s", src)
		for _, d := range [][2]string{{want, got}, {got, want}} {
			q := fmt.Sprintf("(%s) EXCEPT ALL (%s)", d[0], d[1])
			if rows := queryText(w.t, db, q); len(rows) > 0 {
				w.t.Errorf("%s: analytics/parquet/%s differs from the snapshot: %d rows, e.g. %v", what, tbl, len(rows), rows[:min(3, len(rows))])
			}
		}
	}
}

// checkIncremental checks that the snapshot kept by the runs holds what a rebuild holds,
// and that it is what was published.
func (w *world) checkIncremental(what string) {
	w.t.Helper()
	sameRows(w.t, what, w.snap(), w.rebuilt())
	w.checkPublished(what)
}

// files lists the published analytics files with their modification times and contents.
type fileState struct {
	mod  time.Time
	data string
}

func (w *world) analytics() map[string]fileState {
	w.t.Helper()
	out := map[string]fileState{}
	root := filepath.Join(w.out, "analytics")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.out, p)
		out[filepath.ToSlash(rel)] = fileState{st.ModTime(), string(b)}
		return nil
	})
	must(w.t, err)
	return out
}

// analyticsOutputs are the analytics files a run wrote, from its manifest.
func analyticsOutputs(m *jobs.Manifest) []string {
	var out []string
	for _, o := range m.Outputs {
		if strings.HasPrefix(o.Key, "analytics/") {
			out = append(out, o.Key)
		}
	}
	slices.Sort(out)
	return out
}

// history is a sequence of runs that exercises every way a run changes the snapshot.
func history(t *testing.T, w *world, after func(step string, m *jobs.Manifest)) {
	t.Helper()
	// 1. Loads: accepted events, duplicates, parse failures, unknown tenants and event
	// types, an unreadable object, personal data in events and in the user directory.
	w.put("2026/01/a.jsonl", lines(
		ev("a1", "username", "alex.ross", "first_name", "Alessandra", "last_name", "Rossellini"),
		ev("a2", "event_type", "video", "event_value", 150, "event_unit", "second"),
		ev("a3", "tenant_id", "beta", "user_id", "u-2", "occurred_at", "2026-01-11T10:00:00Z"),
		ev("a4", "tenant_id", "beta", "event_type", "search", "user_id", "u-2"),
		ev("a5", "occurred_at", "yesterday", "first_name", "Alessandra"),
		`not json at all, Rossellini Zebulon`,
		ev("a1", "username", "alex.ross", "first_name", "Alessandra", "last_name", "Rossellini"),
		ev("a6", "tenant_id", "nobody"),
		ev("a7", "event_type", "dance"),
		ev("a8", "occurred_at", "2026-01-12T10:00:00Z"),
		ev("a9", "tenant_id", "gamma", "occurred_at", "2026-02-02T10:00:00Z"),
	))
	w.put("users/dir.csv", "user_id,username,first_name,last_name\nu-2,bquig,Bartholomew,Quigley\n")
	w.put("2026/01/x.jsonl.gz", "this is not gzip at all")
	after("first load", w.run("2026-01-20T00:00:00Z"))

	// 2. More events: exact and conflicting duplicates of earlier lines.
	w.put("2026/01/b.jsonl", lines(
		ev("a1", "username", "alex.ross", "first_name", "Alessandra", "last_name", "Rossellini"),
		ev("a8", "event_value", 3),
		ev("b1", "occurred_at", "2026-01-21T10:00:00Z"),
		ev("b2", "tenant_id", "beta", "occurred_at", "2026-01-22T10:00:00Z", "user_id", "u-2"),
		ev("b3", "occurred_at", "2026-01-23T10:00:00Z"),
		ev("b6", "occurred_at", "2026-02-07T10:00:00Z"),
	))
	after("duplicates", w.run("2026-01-25T00:00:00Z"))

	// 3. January becomes final: frozen events, an invoice.
	after("finalization", w.run("2026-02-10T00:00:00Z"))

	// 4. Late events for the final January, and February's.
	w.put("2026/02/c.jsonl", lines(
		ev("c1", "occurred_at", "2026-01-30T10:00:00Z"),
		ev("c2", "tenant_id", "beta", "occurred_at", "2026-01-30T10:00:00Z", "user_id", "u-2"),
		ev("c3", "occurred_at", "2026-02-03T10:00:00Z"),
		ev("c4", "tenant_id", "gamma", "occurred_at", "2026-02-04T10:00:00Z"),
		ev("b6", "occurred_at", "2026-02-07T10:00:00Z"),
	))
	// An object under an earlier key: its line becomes the first of an open identity, the
	// earlier first a duplicate.
	w.put("2026/01/0.jsonl", lines(ev("a9", "tenant_id", "gamma", "occurred_at", "2026-02-02T10:00:00Z")))
	after("late events", w.run("2026-02-11T00:00:00Z"))

	// 5. ETag changes: b.jsonl rewritten (lines billed in January stand, the others go
	// or change; b6's duplicate in c.jsonl becomes the first), the unreadable object fixed.
	w.put("2026/01/b.jsonl", lines(
		ev("b1", "occurred_at", "2026-01-21T10:00:00Z"),
		ev("b4", "occurred_at", "2026-02-05T10:00:00Z"),
		ev("b5", "tenant_id", "beta", "occurred_at", "2026-02-05T10:00:00Z", "event_value", 2),
	))
	w.put("2026/01/x.jsonl.gz", gz(lines(ev("x1", "occurred_at", "2026-02-06T10:00:00Z"), ev("x2", "tenant_id", "gamma", "occurred_at", "2026-02-06T11:00:00Z"))))
	after("changed ETags", w.run("2026-02-12T00:00:00Z"))

	// 6. A configuration change: a new rule and a new tenant make quarantined lines
	// billable (reconsidered every run), gamma moves to another time zone (no final
	// period yet).
	w.cfg = configOf(danceRule, acmeYAML, betaYAML,
		strings.Replace(gammaYAML, "timezone: UTC", "timezone: Asia/Tokyo", 1), nobodyYAML)
	after("configuration change", w.run("2026-02-13T00:00:00Z"))

	// 7. gamma is no longer configured: its open periods go, its events are quarantined.
	w.cfg = configOf(danceRule, acmeYAML, betaYAML, nobodyYAML)
	after("tenant removed", w.run("2026-02-14T00:00:00Z"))

	// 8. A configuration refused (acme has final periods), then the run after it.
	good := w.cfg
	w.cfg = configOf(danceRule, betaYAML, nobodyYAML)
	if _, err := w.tryRun("2026-02-15T00:00:00Z"); err == nil {
		t.Fatal("removing a tenant with final periods should be refused")
	}
	w.cfg = good
	w.put("2026/02/d.jsonl", lines(ev("d1", "occurred_at", "2026-02-15T10:00:00Z"),
		ev("d1", "occurred_at", "2026-02-15T10:00:00Z", "event_value", 2)))
	after("after a refused run", w.run("2026-02-15T01:00:00Z"))

	// 9. February becomes final.
	after("second finalization", w.run("2026-03-10T00:00:00Z"))
}

// TestIncrementalEqualsRebuild: after every run of a history with loads, duplicates, late
// events, ETag changes, finalizations, configuration changes and a refused run, the
// snapshot kept up to date by deltas holds the same rows as one rebuilt from scratch,
// and what was published is that snapshot.
func TestIncrementalEqualsRebuild(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML, gammaYAML))
	history(t, w, func(step string, m *jobs.Manifest) {
		// Only the first run and the one after a refused run (which the snapshot missed)
		// rebuild; every other run applies its delta.
		rebuilt := strings.Contains(w.log.String(), "snapshot rebuilt in full")
		if want := step == "first load" || step == "after a refused run"; rebuilt != want {
			t.Errorf("%s: rebuilt %v, want %v", step, rebuilt, want)
		}
		w.checkIncremental(step)
	})
	// The history did exercise what it means to: late events, quarantine, invoices.
	db, err := warehouse.OpenReadOnly(w.snap())
	must(t, err)
	defer db.Close()
	for q, want := range map[string]string{
		"SELECT count(*) > 0 FROM rated_events WHERE late":                                                     "true",
		"SELECT count(*) > 1 FROM invoices":                                                                    "true",
		"SELECT count(*) FROM quarantine WHERE reason = 'unreadable_object' AND object_key LIKE '%x.jsonl.gz'": "0",
		"SELECT count(*) > 0 FROM quarantine WHERE reason = 'conflicting_duplicate'":                           "true",
		"SELECT count(*) > 0 FROM events WHERE status = 'duplicate'":                                           "true",
		"SELECT count(*) FROM period_usage WHERE tenant_id = 'gamma'":                                          "0",
		"SELECT count(*) > 0 FROM quarantine WHERE tenant_id = 'gamma' AND reason = 'unknown_tenant'":          "true",
		"SELECT count(*) > 0 FROM rated_events WHERE event_type = 'dance'":                                     "true",
		"SELECT count(*) > 0 FROM rated_events WHERE tenant_id = 'nobody'":                                     "true",
		"SELECT count(*) FROM events WHERE event_id = 'b2'":                                                    "1",
	} {
		if got := queryText(t, db, q); got[0] != want {
			t.Errorf("%s = %s, want %s", q, got[0], want)
		}
	}
}

// TestNothingNewWritesNothing: a run with nothing new leaves every analytics file
// byte-identical and unwritten, and publishes none.
func TestNothingNewWritesNothing(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML, gammaYAML))
	history(t, w, func(string, *jobs.Manifest) {})
	before := w.analytics()
	if len(before) < 6 {
		t.Fatalf("analytics files %v", slices.Collect(func(yield func(string) bool) {
			for k := range before {
				if !yield(k) {
					return
				}
			}
		}))
	}
	time.Sleep(10 * time.Millisecond) // a rewrite would show in the modification times
	for _, now := range []string{"2026-03-10T00:00:00Z", "2026-03-10T06:00:00Z"} {
		m := w.run(now)
		if got := analyticsOutputs(m); len(got) > 0 {
			t.Errorf("run at %s with nothing new wrote %v", now, got)
		}
		after := w.analytics()
		if len(after) != len(before) {
			t.Errorf("run at %s: %d analytics files, were %d", now, len(after), len(before))
		}
		for k, b := range before {
			a := after[k]
			if a.data != b.data || !a.mod.Equal(b.mod) {
				t.Errorf("run at %s rewrote %s", now, k)
			}
		}
	}
	w.checkIncremental("after runs with nothing new")
}

// TestOneTenantRewritesItsFiles: a run that touches one tenant publishes the snapshot
// database and that tenant's Parquet files, and leaves the other tenants' untouched.
func TestOneTenantRewritesItsFiles(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML, gammaYAML))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "tenant_id", "beta"), ev("a3", "tenant_id", "gamma", "occurred_at", "2026-02-02T10:00:00Z")))
	w.run("2026-02-10T00:00:00Z")
	before := w.analytics()
	time.Sleep(10 * time.Millisecond)
	w.put("b.jsonl", lines(ev("b1", "tenant_id", "beta", "occurred_at", "2026-02-08T10:00:00Z")))
	m := w.run("2026-02-10T01:00:00Z")
	want := []string{
		"analytics/parquet/period_usage/tenant_id=beta/part0.parquet",
		"analytics/parquet/rated_events/tenant_id=beta/part0.parquet",
		"analytics/warehouse.duckdb",
	}
	if got := analyticsOutputs(m); !slices.Equal(got, want) {
		t.Errorf("published %v, want %v", got, want)
	}
	after := w.analytics()
	for k, b := range before {
		if strings.Contains(k, "tenant_id=beta") || k == snapshot.DBKey {
			continue
		}
		if a := after[k]; a.data != b.data || !a.mod.Equal(b.mod) {
			t.Errorf("%s was rewritten", k)
		}
	}
	w.checkIncremental("one tenant")
}

// TestMissedRunRebuilds: a snapshot that missed a run (a crash between the warehouse's
// commit and the snapshot's: its recorded run is stale) is rebuilt by the next run, with
// the same rows; the Parquet files come out byte-identical, so only the database is
// published again.
func TestMissedRunRebuilds(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML, gammaYAML))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "tenant_id", "beta"), ev("a3", "event_type", "dance"),
		ev("a4", "occurred_at", "2026-02-02T10:00:00Z")))
	w.run("2026-02-10T00:00:00Z")
	w.put("b.jsonl", lines(ev("b1", "occurred_at", "2026-02-03T10:00:00Z")))
	w.run("2026-02-10T01:00:00Z")
	incremental := filepath.Join(t.TempDir(), "incremental.duckdb")
	copyTo(t, w.snap(), incremental)

	// The snapshot says it holds the run before the last one.
	db, err := sql.Open("duckdb", w.snap())
	must(t, err)
	_, err = db.Exec("UPDATE meta.snapshot SET run_seq = run_seq - 1")
	must(t, err)
	must(t, db.Close())

	m := w.run("2026-02-10T02:00:00Z")
	if got, want := analyticsOutputs(m), []string{snapshot.DBKey}; !slices.Equal(got, want) {
		t.Errorf("the rebuilding run published %v, want %v (the Parquet files unchanged)", got, want)
	}
	sameRows(t, "rebuilt after a missed run", incremental, w.snap())
	w.checkIncremental("rebuilt after a missed run")
	// The next run applies its delta again.
	w.put("c.jsonl", lines(ev("c1", "occurred_at", "2026-02-04T10:00:00Z")))
	w.run("2026-02-10T03:00:00Z")
	w.checkIncremental("delta after the rebuild")

	// A snapshot of another layout, or one that cannot be read, is rebuilt too.
	must(t, os.WriteFile(w.snap(), []byte("not a database"), 0o644))
	w.run("2026-02-10T04:00:00Z")
	w.checkIncremental("rebuilt over an unreadable file")
}

// TestUnpublishedChangeIsPublished: when a run updated the snapshot but died before the
// output index recorded its files, the next run publishes them, though it changes nothing.
func TestUnpublishedChangeIsPublished(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "tenant_id", "beta")))
	w.run("2026-02-10T00:00:00Z")
	w.put("b.jsonl", lines(ev("b1", "occurred_at", "2026-02-03T10:00:00Z")))
	w.run("2026-02-10T01:00:00Z")
	// As if the last run's files never reached the output index: it still lists the
	// first run's.
	db, err := warehouse.Open(context.Background(), w.wh)
	must(t, err)
	_, err = db.Exec("UPDATE outputs SET run_seq = 1 WHERE key LIKE 'analytics/%'")
	must(t, err)
	must(t, db.Close())
	m := w.run("2026-02-10T02:00:00Z")
	if got := analyticsOutputs(m); !slices.Contains(got, snapshot.DBKey) {
		t.Errorf("published %v, want the snapshot database again", got)
	}
	w.checkIncremental("published again")
}

// TestNoPersonalData: no username, name or raw line text in the snapshot: no such column,
// no such value, not in the bytes of any file.
func TestNoPersonalData(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML, gammaYAML))
	history(t, w, func(string, *jobs.Manifest) {})
	db, err := warehouse.OpenReadOnly(w.snap())
	must(t, err)
	defer db.Close()
	if n := queryText(t, db, `SELECT count(*) FROM duckdb_columns() WHERE column_name IN ('username', 'first_name', 'last_name', 'raw')`); n[0] != "0" {
		t.Errorf("%s personal-data columns in the snapshot", n[0])
	}
	rels := queryText(t, db, `SELECT schema_name || '.' || table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal`)
	if len(rels) < 10 {
		t.Fatalf("relations %v", rels)
	}
	for _, r := range rels {
		for _, row := range queryText(t, db, "SELECT * FROM "+r) {
			for _, p := range personal {
				if strings.Contains(row, p) {
					t.Errorf("%s holds personal data %q: %s", r, p, row)
				}
			}
		}
	}
	// Every view is there and documented.
	for _, v := range snapshot.Views {
		c := queryText(t, db, "SELECT comment FROM duckdb_views() WHERE view_name = ? AND NOT internal", v)
		if len(c) != 1 || len(c[0]) < 20 {
			t.Errorf("view %s is not documented: %v", v, c)
		}
	}
	files := []string{w.snap()}
	for k := range w.analytics() {
		files = append(files, filepath.Join(w.out, filepath.FromSlash(k)))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		for _, p := range personal {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("%s holds the bytes of %q", f, p)
			}
		}
	}
	// The warehouse does hold them (the test's personal data reached the pipeline).
	b, err := os.ReadFile(w.wh)
	must(t, err)
	if !bytes.Contains(b, []byte("Bartholomew")) && !bytes.Contains(b, []byte("Rossellini")) {
		t.Log("the warehouse file does not show the names in its bytes (compressed); the value scan above stands")
	}
}

// TestSnapshotWhileRunGoes: the published snapshot is a file of its own: a local copy
// opens read-only (and refuses writes), and replacing it by Install leaves its open readers
// undisturbed.
func TestSnapshotWhileRunGoes(t *testing.T) {
	w := newWorld(t, configOf("", acmeYAML, betaYAML))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "tenant_id", "beta")))
	w.run("2026-02-10T00:00:00Z")
	local := filepath.Join(t.TempDir(), "analytics", "creditmeter.duckdb")
	must(t, snapshot.Install(filepath.Join(w.out, filepath.FromSlash(snapshot.DBKey)), local))
	analyst, err := warehouse.OpenReadOnly(local)
	must(t, err)
	defer analyst.Close()
	if n := queryText(t, analyst, "SELECT count(*) FROM rated_events"); n[0] != "2" {
		t.Errorf("rated_events %s, want 2", n[0])
	}
	for _, stmt := range []string{"CREATE TABLE x (a INT)", "DELETE FROM data.invoices", "DROP VIEW events"} {
		if _, err := analyst.Exec(stmt); err == nil || !strings.Contains(strings.ToLower(err.Error()), "read-only") {
			t.Errorf("%s on the snapshot: err %v, want a read-only refusal", stmt, err)
		}
	}
	w.put("b.jsonl", lines(ev("b1", "occurred_at", "2026-02-03T10:00:00Z")))
	w.run("2026-02-10T01:00:00Z")
	must(t, snapshot.Install(filepath.Join(w.out, filepath.FromSlash(snapshot.DBKey)), local))
	if n := queryText(t, analyst, "SELECT count(*) FROM rated_events"); n[0] != "2" {
		t.Errorf("the open copy now has %s rated events, want the 2 it had", n[0])
	}
	pub, err := warehouse.OpenReadOnly(filepath.Join(w.out, filepath.FromSlash(snapshot.DBKey)))
	must(t, err)
	defer pub.Close()
	if n := queryText(t, pub, "SELECT count(*) FROM rated_events"); n[0] != "3" {
		t.Errorf("the published copy has %s rated events, want 3", n[0])
	}
	// (a process shares one database per path: the new reader opens after the old one
	// closed, as an analyst's new session would in a process of its own)
	must(t, analyst.Close())
	fresh, err := warehouse.OpenReadOnly(local)
	must(t, err)
	defer fresh.Close()
	if n := queryText(t, fresh, "SELECT count(*) FROM rated_events"); n[0] != "3" {
		t.Errorf("the new copy has %s rated events, want 3", n[0])
	}
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	must(t, err)
	must(t, os.WriteFile(dst, b, 0o644))
	if _, err := os.Stat(src + ".wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s has a write-ahead log", src)
	}
}

// TestConfigurationAndNotifications (issue 12): the snapshot lists the configured tenants,
// their deposits and member caps, and the threshold notifications without their
// recipients; a configuration change reaches them by the run's delta (equal to a rebuild),
// and a run with nothing new leaves them, and every file, as they were.
func TestConfigurationAndNotifications(t *testing.T) {
	acme := func(capU1 string, extraDeposit string) string {
		return `  - {id: acme, name: Acme Learning, rate_card: std, timezone: Europe/Rome, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 15,
     overage: {policy: bill, price_per_credit: 0.05}, payment_terms: net 14,
     bank: [{id: PO-1, credits: 10, at: 2026-01-01}` + extraDeposit + `],
     members: [{user_id: u-1, cap: ` + capU1 + `}, {user_id: u-9, cap: 0}],
     notify: {thresholds: [0.5, 1.0], email: [billing.secret@acme.example]}}
`
	}
	w := newWorld(t, configOf("", acme("40", ""), betaYAML))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "occurred_at", "2026-01-11T10:00:00Z"), ev("a3", "tenant_id", "beta"),
		ev("a4", "occurred_at", "2026-01-12T10:00:00Z")))
	w.run("2026-01-20T00:00:00Z")
	w.checkIncremental("configuration listed")
	db, err := warehouse.OpenReadOnly(w.snap())
	must(t, err)
	for q, want := range map[string]string{
		"SELECT string_agg(tenant_id || ' ' || coalesce(tenant_name, '-') || ' ' || currency || ' ' || timezone || ' ' || credits_plan || ' ' || policy || ' ' || coalesce(CAST(price_per_credit AS VARCHAR), '-') || ' ' || payment_days, '; ' ORDER BY tenant_id) FROM tenants": "acme Acme Learning EUR Europe/Rome 15.0000 bill 0.050000 14; beta - EUR UTC 100.0000 block - 30",
		"SELECT string_agg(tenant_id || ' ' || deposit_id || ' ' || credits || ' ' || CAST(deposited_at AS VARCHAR), '; ') FROM deposits":                                                                                                                                         "acme PO-1 10.0000 2025-12-31 23:00:00+00",
		"SELECT string_agg(tenant_id || ' ' || user_id || ' ' || cap, '; ' ORDER BY user_id) FROM member_caps":                                                                                                                                                                    "acme u-1 40.0000; acme u-9 0.0000",
		"SELECT string_agg(period_start || ' ' || threshold || ' ' || status, '; ' ORDER BY threshold) FROM notifications":                                                                                                                                                        "2026-01-01 0.500000 pending; 2026-01-01 1.000000 pending",
		"SELECT count(*) FROM duckdb_columns() WHERE table_name = 'notifications' AND column_name = 'emails'":                                                                                                                                                                     "0",
	} {
		if got := queryText(t, db, q); got[0] != want {
			t.Errorf("%s\n = %s\nwant %s", q, got[0], want)
		}
	}
	must(t, db.Close())
	if b, err := os.ReadFile(filepath.Join(w.out, filepath.FromSlash(snapshot.DBKey))); err != nil || bytes.Contains(b, []byte("billing.secret")) {
		t.Errorf("the published snapshot holds a notification recipient (%v)", err)
	}

	// A configuration change: another cap, one more deposit.
	w.cfg = configOf("", acme("25", ", {id: PO-2, credits: 5, at: 2026-01-15}"), betaYAML)
	m := w.run("2026-01-20T01:00:00Z")
	if got := analyticsOutputs(m); !slices.Contains(got, snapshot.DBKey) {
		t.Errorf("a configuration change published %v", got)
	}
	w.checkIncremental("configuration changed")
	db, err = warehouse.OpenReadOnly(w.snap())
	must(t, err)
	if got := queryText(t, db, "SELECT count(*) || ' ' || max(cap) FROM member_caps WHERE user_id = 'u-1'"); got[0] != "1 25.0000" {
		t.Errorf("member cap after the change: %s", got[0])
	}
	if got := queryText(t, db, "SELECT count(*) FROM deposits"); got[0] != "2" {
		t.Errorf("deposits after the change: %s", got[0])
	}
	if got := queryText(t, db, "SELECT string_agg(view_name, ' ' ORDER BY view_name) FROM duckdb_views() WHERE NOT internal AND comment IS NOT NULL"); got[0] != "deposits events invoices member_caps notifications period_usage quarantine rated_events tenants" {
		t.Errorf("documented views: %s", got[0])
	}
	must(t, db.Close())
	// nothing new: nothing written
	if got := analyticsOutputs(w.run("2026-01-20T02:00:00Z")); len(got) > 0 {
		t.Errorf("a run with nothing new wrote %v", got)
	}
}
