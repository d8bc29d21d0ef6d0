package jobs_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/schemas"
)

// Hostile input and unlucky operations (issue "Hostile input and faults"): one bad object or
// line never stops billing for everyone, nothing leaks, nothing vanishes. Each test fails on
// version 1 of the pipeline.

func TestHugeValuesDoNotOverflow(t *testing.T) {
	// Given 30 valid video events of 999,999,999,999 seconds (below the 10^12 limit), each
	// 16,666,666,667 blocks of 210 credits,
	w := newWorld(t, config("", tenantYAML("acme")))
	var ls []string
	for i := range 30 {
		ls = append(ls, ev("v"+itoa(int64(i)), "event_type", "video", "event_value", raw("999999999999"), "event_unit", "second"))
	}
	w.put("big.jsonl", lines(append(ls, ev("ok"))...))
	// When a run finalizes January,
	m := w.run("2026-02-10T00:00:00Z")
	// Then it succeeds and the sums are exact: 30 x 3,500,000,000,070 credits + 10, less
	// the plan of 100.
	check(t, "accepted", m.Counts.Accepted, int64(31))
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{
		"plan_used": "100", "exceeding_credits": "105000000002010"})
	check(t, "invoices", len(w.invoices()), 1)
}

func TestAttributeKeyWithQuote(t *testing.T) {
	// Given a duplicated event whose attribute keys hold a quote, a backslash and a slash
	// (an attacker's JSON path), and a voice rule whose ratio attribute is read by name,
	w := newWorld(t, config("", tenantYAML("acme")))
	a := attrs(`k"ey`, 1, `b\s`, 2, "a/b", 3, "configured_seconds", 600)
	w.put("a.jsonl", lines(ev("q1", "attributes", a, "event_type", "voice", "event_value", 400),
		ev("q1", "attributes", a, "event_type", "voice", "event_value", 400)))
	// When two runs happen,
	w.run("2026-01-20T00:00:00Z")
	w.put("b.jsonl", lines(ev("q2")))
	m := w.run("2026-01-21T00:00:00Z")
	// Then both succeed: one event, one duplicate, the voice rated by its ratio.
	check(t, "duplicates", m.Counts.Duplicates, int64(1))
	check(t, "q1 rated", w.event("q1").Rated, "55")
}

func TestUnreadableObjectsDoNotStopBilling(t *testing.T) {
	// Given a good object, a corrupt .gz, a truncated .gz, a .parquet that is not one, and
	// a user directory that is not CSV,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("g1")))
	w.put("b.jsonl.gz", "this is not gzip")
	var gzb bytes.Buffer
	zw := gzip.NewWriter(&gzb)
	_, _ = zw.Write([]byte(lines(ev("g2"), ev("g3"))))
	_ = zw.Close()
	w.put("c.jsonl.gz", string(gzb.Bytes()[:gzb.Len()-12]))
	w.put("d.parquet", "PAR1 truncated")
	// When a run happens,
	m := w.run("2026-01-20T00:00:00Z")
	// Then it succeeds, bills the good object, and lists each bad one once as
	// unreadable_object in its quarantine file (one entry per object, no lines).
	check(t, "g1", w.event("g1").Rated, "10")
	check(t, "unreadable objects", m.Objects.Unreadable, 3)
	q := readJSONL(t, filepath.Join(w.out, "quarantine", m.RunID+".jsonl"))
	got := map[string]string{}
	for _, e := range q {
		got[e["object_key"].(string)] = e["reason"].(string)
	}
	for _, k := range []string{"b.jsonl.gz", "c.jsonl.gz", "d.parquet"} {
		check(t, k, got[k], "unreadable_object")
	}
	// When the truncated object is delivered again whole (a new ETag),
	w.put("c.jsonl.gz", gzb.String())
	w.run("2026-01-21T00:00:00Z")
	// Then its events are billed.
	check(t, "g3", w.event("g3").Rated, "10")
}

func TestFormulaCellsNeutralised(t *testing.T) {
	// Given events whose text fields start with =, +, -, @, a tab and a carriage return, and
	// a tenant whose name is a formula,
	w := newWorld(t, config("", tenantYAML("acme", "name", `"=HYPERLINK(\"http://x\")"`, "credits_plan", "0")))
	w.put("a.jsonl", lines(
		ev("f1", "user_id", "=1+2", "domain_name", "@SUM(1)", "username", "+cmd"),
		ev("f2", "user_id", "-2", "event_unit", "\tx", "first_name", "\rboom")))
	// When a run finalizes and invoices January,
	w.run("2026-02-10T00:00:00Z")
	// Then every such cell of the usage reports and the invoice CSV starts with a quote,
	// and numbers stay numbers.
	for _, k := range []string{"usage/acme/2026-01-01_ai_credits_usage.csv", "restricted/usage/acme/2026-01-01_ai_credits_usage.csv",
		"invoices/INV-2026-000001.csv"} {
		for _, rec := range w.csvRows(k) {
			for col, v := range rec {
				if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
					t.Errorf("%s: %s = %q is a formula", k, col, v)
				}
			}
		}
	}
	rows := w.csvRows("restricted/usage/acme/2026-01-01_ai_credits_usage.csv")
	check(t, "user_id", rows[0]["user_id"], "'=1+2")
	check(t, "domain", rows[0]["domain_name"], "'@SUM(1)")
	check(t, "username", rows[0]["username"], "'+cmd")
	check(t, "consumed", rows[0]["consumed_credits"], "10")
}

func TestPersonalDataOnlyUnderRestricted(t *testing.T) {
	// Given a quarantined line and a billed one that carry a username and names,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("p1", "username", "secret-user", "first_name", "Secretfirst"),
		ev("p2", "username", "secret-user", "event_type", "hologram")))
	m := w.run("2026-01-20T00:00:00Z")
	// Then no file outside restricted/ holds them, the quarantine file has no raw text, its
	// restricted twin has it, and restricted files are readable by their owner only.
	err := filepath.Walk(w.out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(w.out, p)
		b, _ := os.ReadFile(p)
		restricted := strings.HasPrefix(filepath.ToSlash(rel), "restricted/")
		if !restricted && (bytes.Contains(b, []byte("secret-user")) || bytes.Contains(b, []byte("Secretfirst"))) {
			t.Errorf("%s holds personal data", rel)
		}
		if restricted && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range readJSONL(t, filepath.Join(w.out, "quarantine", m.RunID+".jsonl")) {
		if _, ok := e["raw"]; ok {
			t.Errorf("quarantine line with raw text: %v", e)
		}
	}
	r := readJSONL(t, filepath.Join(w.out, "restricted", "quarantine", m.RunID+".jsonl"))
	if len(r) != 1 || !strings.Contains(r[0]["raw"].(string), "secret-user") {
		t.Errorf("restricted quarantine: %v", r)
	}
}

func TestStringsDecodedNumbersExact(t *testing.T) {
	// Given an event whose JSON strings hold escapes and whose value has 6 places,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", `{"event_id":"x1","occurred_at":"2026-01-10T10:00:00Z","tenant_id":"acme","user_id":"o\"neil","domain_name":"a\tb\u00e9","event_type":"tick","event_value":123456.123456,"event_unit":"s"}`+"\n")
	w.run("2026-01-20T00:00:00Z")
	// Then the report shows the decoded strings and the exact number.
	rows := w.csvRows("usage/acme/2026-01-01_ai_credits_usage.csv")
	check(t, "user_id", rows[0]["user_id"], `o"neil`)
	check(t, "domain_name", rows[0]["domain_name"], "a\tbé")
	check(t, "event_value", rows[0]["event_value"], "123456.123456")
	check(t, "consumed (value / 2, exact)", rows[0]["consumed_credits"], "61728.0617")
}

func TestRunIDsDistinctAtOneInstant(t *testing.T) {
	// Given two runs at the same --now second,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("r1")))
	m1 := w.run("2026-01-20T00:00:00Z")
	m2 := w.run("2026-01-20T00:00:00Z")
	// Then each has its own manifest.
	if m1.RunID == m2.RunID {
		t.Fatalf("both runs are %s", m1.RunID)
	}
	for _, id := range []string{m1.RunID, m2.RunID} {
		if _, err := os.Stat(filepath.Join(w.out, "runs", id+".json")); err != nil {
			t.Errorf("manifest of %s: %v", id, err)
		}
	}
}

func TestOutputInsideSourceRefused(t *testing.T) {
	// Given an output inside the source directory,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("o1")))
	w.out = filepath.Join(w.src, "out")
	// When a run starts,
	_, err := w.tryRun("2026-01-20T00:00:00Z")
	// Then it is refused as a configuration error before anything is read or written.
	var ce *schemas.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "output") {
		t.Fatalf("error %v, want a configuration error about the output", err)
	}
	if _, err := os.Stat(w.out); err == nil {
		t.Errorf("the refused run wrote %s", w.out)
	}
}

func TestObjectNameNotUTF8(t *testing.T) {
	// Given a local object whose name is not valid UTF-8,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("bad\xffname.jsonl", lines(ev("n1")))
	// When runs happen,
	w.run("2026-01-20T00:00:00Z")
	m := w.run("2026-01-21T00:00:00Z")
	// Then it is read once, under its name with the byte escaped, and billed.
	check(t, "n1", w.event("n1").Rated, "10")
	check(t, "objects read again", m.Objects.Ingested, 0)
}

func TestInvalidUTF8IDsNeverMerge(t *testing.T) {
	// Given two events whose ids differ only in invalid UTF-8 bytes,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(strings.Replace(ev("a?b"), "?", "\xff", 1), strings.Replace(ev("a?b"), "?", "\xfe", 1)))
	m := w.run("2026-01-20T00:00:00Z")
	// Then neither is a duplicate of the other: both are malformed on event_id (JSON is
	// UTF-8), listed, and counted.
	check(t, "duplicates", m.Counts.Duplicates, int64(0))
	check(t, "quarantined", m.Counts.Quarantined, int64(2))
	check(t, "line 1", w.reason("a.jsonl", 1), "malformed")
	check(t, "line 2", w.reason("a.jsonl", 2), "malformed")
}

func TestLimitsQuarantineAndDefer(t *testing.T) {
	// Given limits of 200 bytes a line, 3 attribute keys, 2 objects a run and 1 KiB an
	// object, and a long line, an event with 4 attribute keys, and a 2 KiB object,
	w := newWorld(t, "limits: {max_line_bytes: 200, max_attributes: 3, max_objects_per_run: 2, max_object_bytes: 1KiB}\n"+
		config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("l1"), ev("l2", "domain_name", strings.Repeat("x", 300)),
		ev("l3", "attributes", attrs("a", 1, "b", 2, "c", 3, "d", 4))))
	w.put("b.jsonl", strings.Repeat(lines(ev("l4")), 20))
	w.put("c.jsonl", lines(ev("l5")))
	// When a run happens,
	m := w.run("2026-01-20T00:00:00Z")
	// Then the long line and the wide attributes are malformed, the big object unreadable,
	// the third object waits for the next run, and the good event is billed.
	check(t, "l1", w.event("l1").Rated, "10")
	check(t, "long line", w.reason("a.jsonl", 2), "malformed")
	check(t, "wide attributes", w.reason("a.jsonl", 3), "malformed")
	check(t, "unreadable", m.Objects.Unreadable, 1)
	check(t, "deferred", m.Objects.Deferred, 1)
	q := readJSONL(t, filepath.Join(w.out, "quarantine", m.RunID+".jsonl"))
	limits := 0
	for _, e := range q {
		if d, _ := e["detail"].(string); strings.Contains(d, "limits.") {
			limits++
		}
	}
	check(t, "quarantine entries naming a limit", limits, 3)
	w.run("2026-01-21T00:00:00Z")
	check(t, "l5 next run", w.event("l5").Rated, "10")
}

func TestByteOrderMarkFirstLine(t *testing.T) {
	// Given a JSON Lines object that starts with a UTF-8 byte-order mark,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", "\xef\xbb\xbf"+lines(ev("b1"), ev("b2")))
	m := w.run("2026-01-20T00:00:00Z")
	// Then its first line is an event like the others.
	check(t, "accepted", m.Counts.Accepted, int64(2))
}

func TestFailedUploadIsNotSuccess(t *testing.T) {
	// Given an output where ledger/ is a file, so nothing can be written under it,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("u1")))
	if err := os.MkdirAll(w.out, 0o755); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(w.out, "ledger")
	if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	// When a run happens, Then it fails and is not recorded as succeeded,
	if _, err := w.tryRun("2026-01-20T00:00:00Z"); err == nil {
		t.Fatal("a run whose outputs cannot be published succeeded")
	}
	if _, err := os.Stat(filepath.Join(w.out, "runs")); err == nil {
		t.Error("the failed run wrote a manifest")
	}
	// and when the way is clear, the next run (nothing new to compute) publishes what the
	// failed one committed.
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	w.run("2026-01-20T01:00:00Z")
	check(t, "u1", w.event("u1").Rated, "10")
	check(t, "January events", w.period("acme", "2026-01-01")["events"], "1")
}

// readJSONL reads a JSON Lines file into maps.
func readJSONL(t *testing.T, p string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, m)
	}
	return out
}
