package load_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/pull"
)

// TestUnreadableObjects (BILLING.md section 2, unreadable_object): an object that cannot be
// read as a whole (corrupt or truncated gzip, truncated Parquet, Parquet without an event_id
// column, a gzip bomb past MaxObjectBytes, an object listed larger than that) is recorded
// with status unreadable and one qlog entry, keeps none of its lines (not even those parsed
// and staged before the defect showed), and the other objects of its batch load normally.
// It is not read again until its ETag changes; then it replaces its unreadable version.
//
// BUG (the Parquet and user-directory cases): a file DuckDB cannot read fails the whole
// batch with "Current transaction is aborted (please ROLLBACK)", so the run fails, and so
// does every later run, since the object is never recorded. Loader.parquet (and users) run
// DuckDB's reader inside the batch's transaction, and in DuckDB a failed statement aborts
// the transaction: the error cannot be caught and the batch go on. Fix: read Parquet
// objects in the worker with arrow-go (parquet/pqarrow, already a dependency of
// pipeline/warehouse) into parse.RecordBuilder, like the text formats, so that a defect is a
// Go error; or have DuckDB read each staged Parquet and user file before the batch's
// transaction begins (e.g. copy it into a staged Arrow-schema file) and treat a failure
// there as unreadable.
func TestUnreadableObjects(t *testing.T) {
	const limit = 16 << 20
	var many bytes.Buffer
	for i := range 60_000 { // 10 MB of text: several record batches are staged before the cut
		many.WriteString(ev(fmt.Sprintf("t-%06d", i), "acme", "1") + "\n")
	}
	manyGz := gzipped(t, many.Bytes())
	bomb := gzipped(t, make([]byte, 50<<20)) // about 50 KB stored
	if len(bomb) >= limit || many.Len() >= limit {
		t.Fatalf("fixtures: bomb %d bytes stored, text %d bytes", len(bomb), many.Len())
	}
	const event = `SELECT 'p1' AS event_id, TIMESTAMPTZ '2026-01-12 09:00:00+00' AS occurred_at,
		'acme' AS tenant_id, 'u-1' AS user_id, 'ai_coaching_chat' AS event_type,
		CAST(1 AS DECIMAL(18,6)) AS event_value, 'attempt' AS event_unit`
	cases := []struct {
		name string
		key  string
		data func(e *env) []byte
	}{
		{"corrupt gzip", "bad.jsonl.gz", func(*env) []byte { return []byte(ev("x1", "acme", "1") + "\n") }},
		{"truncated gzip", "bad.jsonl.gz", func(*env) []byte { return manyGz[:len(manyGz)*3/4] }},
		{"gzip bomb", "bad.csv.gz", func(*env) []byte { return bomb }},
		{"listed past the limit", "bad.jsonl", func(*env) []byte { return bytes.Repeat([]byte("\n"), limit+1) }},
		{"truncated parquet", "bad.parquet", func(e *env) []byte {
			p := e.parquetOf(event + " FROM range(1000)")
			return p[:len(p)/2]
		}},
		{"not parquet at all", "bad.parquet", func(*env) []byte { return []byte(ev("x1", "acme", "1") + "\n") }},
		{"parquet without event_id", "bad.parquet", func(e *env) []byte {
			return e.parquetOf(`SELECT 'acme' AS tenant_id, 'u-1' AS user_id, 1 AS event_value`)
		}},
		{"user directory DuckDB cannot read", "users/bad.csv", func(*env) []byte {
			return []byte("user_id,username\n\"unterminated,x\n")
		}},
	}
	good := func(e *env) map[string][]byte {
		return map[string][]byte{
			"good.jsonl":   jsonl(ev("g1", "acme", "1"), ev("g2", "acme", "2")),
			"good.csv.gz":  gzipped(t, []byte("event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit\nc1,2026-01-12T09:00:00Z,acme,u-1,ai_coaching_chat,1,attempt\n")),
			"good.parquet": e.parquetOf(strings.Replace(event, "'p1'", "'q1'", 1)),
			"skip.txt":     []byte("not an event object\n"),
		}
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			e.maxObjectBytes = limit
			objs := good(e)
			for k, v := range objs {
				e.put(k, v)
			}
			e.put(c.key, c.data(e))

			res := e.mustLoad()
			if res.Objects != 5 || res.Unreadable != 1 || res.Lines != 4 {
				t.Errorf("Batch = %+v, want 5 objects, 1 unreadable, 4 lines", res)
			}
			e.want("objects", `SELECT key, status, reason, lines, detail <> '' FROM objects WHERE key LIKE '%bad%'`,
				c.key+"|unreadable|unreadable_object|0|true")
			e.want("other objects", `SELECT key, format, status, reason, lines, detail FROM objects WHERE key NOT LIKE '%bad%' ORDER BY key`,
				"good.csv.gz|csv|read|∅|1|∅", "good.jsonl|json|read|∅|2|∅", "good.parquet|parquet|read|∅|1|∅",
				"skip.txt|skipped|skipped|∅|0|∅")
			for k, v := range objs {
				if k != "skip.txt" {
					if got := e.one(`SELECT sha256 FROM objects WHERE key = ?`, k); got != sum(v) {
						t.Errorf("%s: sha256 %s, want %s (of the stored bytes)", k, got, sum(v))
					}
				}
			}
			e.want("qlog: one entry for the object, none per line",
				`SELECT o.key, q.line_id, q.line_no, q.reason, q.detail = o.detail, q.logged_run FROM qlog q JOIN objects o USING (obj_no)`,
				c.key+"|∅|∅|unreadable_object|true|1")
			e.want("lines: only the readable objects'", `SELECT o.key, count(*) FROM lines l JOIN objects o USING (obj_no) GROUP BY o.key ORDER BY 1`,
				"good.csv.gz|1", "good.jsonl|2", "good.parquet|1")
			e.want("pending", `SELECT key, event_id FROM pending ORDER BY 1, 2`,
				"good.csv.gz|c1", "good.jsonl|g1", "good.jsonl|g2", "good.parquet|q1")
			e.want("nothing left staged", `SELECT count(*) FROM stage_lines`, "0")
			e.want("no user directory rows", `SELECT count(*) FROM user_directory`, "0")

			// Given the same objects, then nothing is read again.
			if res := e.mustLoad(); res.Objects != 0 {
				t.Errorf("second run read %d objects, want 0", res.Objects)
			}
			// Given the object rewritten readable (a new ETag), then it is read again and
			// replaces its unreadable version.
			fixed := jsonl(ev("x1", "acme", "1"))
			switch {
			case strings.HasSuffix(c.key, ".gz"):
				fixed = gzipped(t, fixed)
			case strings.HasSuffix(c.key, ".parquet"):
				fixed = e.parquetOf(strings.Replace(event, "'p1'", "'x1'", 1))
			case strings.HasPrefix(c.key, "users/"):
				fixed = []byte("user_id,username,first_name,last_name\nu-1,mrossi,Mario,Rossi\n")
			}
			e.put(c.key, fixed)
			if res := e.mustLoad(); res.Objects != 1 || res.Unreadable != 0 {
				t.Errorf("after the fix: Batch = %+v, want 1 object read", res)
			}
			e.want("the fixed object", `SELECT status, run_seq FROM objects WHERE key = '`+c.key+`' ORDER BY obj_no`,
				"replaced|1", "read|3")
		})
	}
}

// TestUserDirectory (FORMATS.md "Raw events": users/ CSV objects): a user directory object
// is read into user_directory, recorded as read, and not quarantined; the tenants with open
// events of its users are marked dirty (their restricted reports show the names).
//
// BUG: every user directory is recorded unreadable_object, with a quarantine entry, though
// its rows were loaded: the second statement of sql/load_users.sql uses only $3, and
// duckdb-go binds arguments by position up to the number of parameters a statement uses
// ("Values were not provided for the following prepared statement parameters: 3"); the
// tenants are never marked dirty. Fix: number the parameters so that every statement uses
// a prefix of them, e.g. $1 obj_no, $2 key, $3 the staged file, with the second statement
// on $1, and call warehouse.Exec(ctx, conn, "load_users.sql", o.no, o.Display, o.staged).
// (No other embedded SQL statement skips a parameter number.)
//
// BUG: a quoted name with a doubled quote ("Jo ""JJ"" Lee") is stored with the quotes still
// doubled: read_csv with explicit columns does not detect the dialect, and its default
// escape is not the quote. Fix: pass quote = '"', escape = '"' to read_csv in
// sql/load_users.sql (RFC 4180, as the event CSV objects are read).
func TestUserDirectory(t *testing.T) {
	e := newEnv(t, "")
	e.put("a.jsonl", jsonl(ev("e1", "acme", "1")))
	e.mustLoad()
	e.put("users/u.csv", []byte("user_id,username,first_name,last_name\nu-1,mrossi,Mario,Rossi\nu-2,jo,\"Jo \"\"JJ\"\" Lee\",Lee\n"))
	res := e.mustLoad()
	if res.Objects != 1 || res.Unreadable != 0 || res.Lines != 0 {
		t.Errorf("Batch = %+v, want 1 object, none unreadable, no event lines", res)
	}
	e.want("objects", `SELECT key, format, status, reason, detail FROM objects ORDER BY obj_no`,
		"a.jsonl|json|read|∅|∅", "users/u.csv|users|read|∅|∅")
	e.want("user_directory", `SELECT key, user_id, username, first_name, last_name FROM user_directory ORDER BY user_id`,
		"users/u.csv|u-1|mrossi|Mario|Rossi", `users/u.csv|u-2|jo|Jo "JJ" Lee|Lee`)
	e.want("qlog", qQlog)
	e.want("dirty_tenants", qDirty, "acme")
}

// TestSourceErrorFailsBatch: a failure of the store on one object fails the whole batch:
// nothing of it is committed (no object, line, working-set or quarantine row), and the next
// run reads every object once.
func TestSourceErrorFailsBatch(t *testing.T) {
	e := newEnv(t, "")
	var big bytes.Buffer
	for i := range 5000 {
		big.WriteString(ev(fmt.Sprintf("b-%05d", i), "acme", "1") + "\n")
	}
	e.put("a.jsonl", jsonl(ev("a1", "acme", "1"), "not json"))
	e.put("b.jsonl", big.Bytes())
	e.put("c.jsonl.gz", gzipped(t, jsonl(ev("c1", "acme", "1"), ev("a1", "acme", "2"))))
	for _, key := range []string{"a.jsonl", "b.jsonl", "c.jsonl.gz"} {
		t.Run(key, func(t *testing.T) {
			e.t = t
			_, err := e.load(&failingStore{Store: e.local, key: key, after: 100})
			var se *pull.SourceError
			if !errors.As(err, &se) || !errors.Is(err, errNetwork) {
				t.Fatalf("Batch: err = %v, want a SourceError of the store's failure", err)
			}
			for _, table := range []string{"objects", "lines", "pending", "dup_lines", "qlog", "dirty_tenants"} {
				if n := e.one("SELECT count(*) FROM " + table); n != "0" {
					t.Errorf("%s has %s rows after a failed batch", table, n)
				}
			}
		})
	}
	e.t = t
	res := e.mustLoad()
	if res.Objects != 3 || res.Lines != 5004 || res.Unreadable != 0 {
		t.Errorf("next run: Batch = %+v, want 3 objects, 5004 lines", res)
	}
	e.want("lines per object", `SELECT o.key, o.obj_no, count(*), count(DISTINCT l.line_no) FROM lines l JOIN objects o USING (obj_no) GROUP BY ALL ORDER BY 1`,
		"a.jsonl|1|2|2", "b.jsonl|2|5000|5000", "c.jsonl.gz|3|2|2")
	e.want("qlog", qQlog,
		"a.jsonl|2|∅|∅|malformed|(line)|4",
		"c.jsonl.gz|2|acme|a1|conflicting_duplicate|event_id|4")
}

// TestIdentityWithinBatch (BILLING.md sections 2 and 9): the identity is (tenant_id,
// event_id); the first line stands, a later one with the same content (compared parsed:
// the same instant, numbers by value, attributes whatever their order, an empty optional
// string as absent, the same event in another format) is a duplicate, one with other
// content is quarantined as conflicting_duplicate.
func TestIdentityWithinBatch(t *testing.T) {
	cases := []struct {
		name    string
		objects map[string][]byte
		lines   []string
		pending []string
		dups    []string
		qlog    []string
	}{
		{
			name:    "exact duplicate",
			objects: map[string][]byte{"a.jsonl": jsonl(ev("e1", "acme", "1"), ev("e1", "acme", "1"))},
			lines:   []string{"a.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|2|acme|e1|duplicate|∅|∅"},
			pending: []string{"a.jsonl|1|acme|e1"},
			dups:    []string{"a.jsonl|2|acme|e1"},
		},
		{
			name: "same content, other spelling",
			objects: map[string][]byte{"a.jsonl": jsonl(
				`{"event_id":"e1","occurred_at":"2026-01-12T09:00:00Z","tenant_id":"acme","user_id":"u-1","event_type":"ai_assistant","event_value":1.5,"event_unit":"request","attributes":{"input_tokens":900,"output_tokens":300}}`,
				`{"attributes":{"output_tokens":3e2,"input_tokens":900.0},"event_unit":"request","event_value":1.50,"event_type":"ai_assistant","user_id":"u-1","domain_name":"","preview":false,"tenant_id":"acme","occurred_at":"2026-01-12T10:00:00+01:00","event_id":"e1"}`,
				`{"event_id":"e\u0031","occurred_at":"2026-01-12t09:00:00.000z","tenant_id":"acme","user_id":"u-1","event_type":"ai_assistant","event_value":15e-1,"event_unit":"request","attributes":{"input_tokens":900,"output_tokens":300}}`)},
			lines:   []string{"a.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|2|acme|e1|duplicate|∅|∅", "a.jsonl|3|acme|e1|duplicate|∅|∅"},
			pending: []string{"a.jsonl|1|acme|e1"},
			dups:    []string{"a.jsonl|2|acme|e1", "a.jsonl|3|acme|e1"},
		},
		{
			name:    "conflicting duplicate",
			objects: map[string][]byte{"a.jsonl": jsonl(ev("e1", "acme", "1"), ev("e1", "acme", "2"), ev("e1", "acme", "1.000"))},
			lines: []string{"a.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|2|acme|e1|quarantined|conflicting_duplicate|event_id",
				"a.jsonl|3|acme|e1|duplicate|∅|∅"},
			pending: []string{"a.jsonl|1|acme|e1"},
			dups:    []string{"a.jsonl|2|acme|e1", "a.jsonl|3|acme|e1"},
			qlog:    []string{"a.jsonl|2|acme|e1|conflicting_duplicate|event_id|1"},
		},
		{
			name: "first by key, then line, across objects and formats",
			objects: map[string][]byte{
				"b.jsonl": jsonl(ev("e1", "acme", "1"), ev("e2", "acme", "1")),
				"a.csv": []byte("event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit\n" +
					"e2,2026-01-12T09:00:00Z,acme,u-1,ai_coaching_chat,2,attempt\n" +
					"e1,2026-01-12T09:00:00Z,acme,u-1,ai_coaching_chat,1,attempt\n"),
			},
			lines: []string{"a.csv|2|acme|e2|event|∅|∅", "a.csv|3|acme|e1|event|∅|∅",
				"b.jsonl|1|acme|e1|duplicate|∅|∅", "b.jsonl|2|acme|e2|quarantined|conflicting_duplicate|event_id"},
			pending: []string{"a.csv|2|acme|e2", "a.csv|3|acme|e1"},
			dups:    []string{"b.jsonl|1|acme|e1", "b.jsonl|2|acme|e2"},
			qlog:    []string{"b.jsonl|2|acme|e2|conflicting_duplicate|event_id|1"},
		},
		{
			name:    "one event_id under two tenants is two events",
			objects: map[string][]byte{"a.jsonl": jsonl(ev("e1", "acme", "1"), ev("e1", "globex", "2"), ev("e1", "globex", "3"))},
			lines: []string{"a.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|2|globex|e1|event|∅|∅",
				"a.jsonl|3|globex|e1|quarantined|conflicting_duplicate|event_id"},
			pending: []string{"a.jsonl|1|acme|e1", "a.jsonl|2|globex|e1"},
			dups:    []string{"a.jsonl|3|globex|e1"},
			qlog:    []string{"a.jsonl|3|globex|e1|conflicting_duplicate|event_id|1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			for k, v := range c.objects {
				e.put(k, v)
			}
			e.mustLoad()
			e.want("lines", qLines, c.lines...)
			e.want("pending", qPending, c.pending...)
			if !knownDupLinesBug { // TestDupLinesWithinBatch fails meanwhile
				e.want("dup_lines", qDups, c.dups...)
			}
			e.want("qlog", qQlog, c.qlog...)
			e.want("dirty_tenants", qDirty)
		})
	}
}

// TestDupLinesWithinBatch: every parsed line that is not the first of its identity is in
// dup_lines (sql/schema.sql), so that a later change of first (an object replaced, an
// earlier key) ranks the identity again; that includes lines whose first came in the same
// batch.
//
// BUG: dup_lines is only written by load_moved.sql, which runs only when the batch's
// identities had earlier members (load_earlier.sql). Duplicates whose first is in the same
// batch (or is a billed event) are never recorded; TestReplacedFirstPromotesDuplicate
// shows the event that is then lost. Fix: record the batch's own non-first lines in
// load_commit.sql, which always runs:
//
//	INSERT INTO dup_lines
//	SELECT line_id, tenant_id, event_id, digest, key, line_no FROM ranked
//	WHERE src = 'new' AND NOT is_first;
//
// and have load_moved.sql rebuild only the earlier members (its INSERT INTO dup_lines with
// "AND src IN ('pending', 'dup')"), so that no line is recorded twice.
func TestDupLinesWithinBatch(t *testing.T) {
	e := newEnv(t, "")
	e.put("a.jsonl", jsonl(ev("e1", "acme", "1"), ev("e1", "acme", "1"), ev("e1", "acme", "2")))
	e.put("b.jsonl", jsonl(ev("e1", "acme", "1")))
	e.mustLoad()
	e.want("dup_lines", qDups, "a.jsonl|2|acme|e1", "a.jsonl|3|acme|e1", "b.jsonl|1|acme|e1")
}

// TestReplacedFirstPromotesDuplicate (BILLING.md section 5): when the object holding the
// first line of an identity is replaced by a version without it, a duplicate from another
// object becomes the first, also when the two objects were loaded in one batch.
//
// BUG: fails because of the missing dup_lines rows (TestDupLinesWithinBatch): the event
// disappears from the working set, and its remaining line stays "duplicate" of nothing.
func TestReplacedFirstPromotesDuplicate(t *testing.T) {
	e := newEnv(t, "")
	e.put("a.jsonl", jsonl(ev("e1", "acme", "1")))
	e.put("b.jsonl", jsonl(ev("e1", "acme", "1")))
	e.mustLoad()
	e.exec(`UPDATE pending SET validated_run = 1`)
	e.put("a.jsonl", jsonl(ev("e9", "acme", "1")))
	e.mustLoad()
	e.want("lines", qLines, "b.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|1|acme|e9|event|∅|∅")
	e.want("pending", qPending, "a.jsonl|1|acme|e9", "b.jsonl|1|acme|e1")
	e.want("dup_lines", qDups)
	e.want("dirty_tenants", qDirty, "acme")
}

// TestEarlierKeyDisplacesOpenFirst (BILLING.md section 2: "first" is the first object by
// key): a later batch with an earlier key takes the place of an open first, which becomes
// its duplicate (exact or conflicting). When the displaced first had been accepted, its
// tenant is marked dirty (its accepted events changed); a line never validated, or
// quarantined, changes no result.
func TestEarlierKeyDisplacesOpenFirst(t *testing.T) {
	cases := []struct {
		name      string
		validated string // SQL SET of the displaced first after run 1; "" for none
		value     string // of the earlier key's line
		lines     []string
		qlog      []string
		dirty     []string
	}{
		{
			name: "accepted, same content", validated: "validated_run = 1", value: "1",
			lines: []string{"b.jsonl|1|acme|e1|duplicate|∅|∅", "b.jsonl|2|acme|e2|event|∅|∅", "b.jsonl|3|globex|e1|event|∅|∅",
				"a.jsonl|1|acme|e1|event|∅|∅"},
			dirty: []string{"acme"},
		},
		{
			name: "accepted, other content", validated: "validated_run = 1", value: "5",
			lines: []string{"b.jsonl|1|acme|e1|quarantined|conflicting_duplicate|event_id", "b.jsonl|2|acme|e2|event|∅|∅",
				"b.jsonl|3|globex|e1|event|∅|∅", "a.jsonl|1|acme|e1|event|∅|∅"},
			qlog:  []string{"b.jsonl|1|acme|e1|conflicting_duplicate|event_id|2"},
			dirty: []string{"acme"},
		},
		{
			name: "never validated", value: "5",
			lines: []string{"b.jsonl|1|acme|e1|quarantined|conflicting_duplicate|event_id", "b.jsonl|2|acme|e2|event|∅|∅",
				"b.jsonl|3|globex|e1|event|∅|∅", "a.jsonl|1|acme|e1|event|∅|∅"},
			qlog: []string{"b.jsonl|1|acme|e1|conflicting_duplicate|event_id|2"},
		},
		{
			name: "validated and quarantined", validated: "validated_run = 1, reason = 'unknown_event_type', field = 'event_type'", value: "1",
			lines: []string{"b.jsonl|1|acme|e1|duplicate|∅|∅", "b.jsonl|2|acme|e2|event|∅|∅", "b.jsonl|3|globex|e1|event|∅|∅",
				"a.jsonl|1|acme|e1|event|∅|∅"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			e.put("b.jsonl", jsonl(ev("e1", "acme", "1"), ev("e2", "acme", "1"), ev("e1", "globex", "1")))
			e.mustLoad()
			e.exec(`UPDATE pending SET validated_run = 1`) // every tenant's events validated...
			if c.validated != "" {                         // ...and the one to be displaced as the case says
				e.exec(`UPDATE pending SET ` + c.validated + ` WHERE key = 'b.jsonl' AND line_no = 1`)
			} else {
				e.exec(`UPDATE pending SET validated_run = NULL WHERE key = 'b.jsonl' AND line_no = 1`)
			}
			e.put("a.jsonl", jsonl(ev("e1", "acme", c.value)))
			e.mustLoad()
			e.want("lines", qLines, c.lines...)
			e.want("pending", qPending, "a.jsonl|1|acme|e1", "b.jsonl|2|acme|e2", "b.jsonl|3|globex|e1")
			e.want("dup_lines", qDups, "b.jsonl|1|acme|e1")
			e.want("qlog", qQlog, c.qlog...)
			e.want("dirty_tenants", qDirty, c.dirty...)
			e.want("the new first waits for validation", `SELECT validated_run FROM pending WHERE key = 'a.jsonl'`, "∅")
		})
	}
}

// freeze stands for the run that finalized the period billing an open first line: the
// event leaves the working set for frozen_events (sql/finalize.sql).
func (e *env) freeze(key string, lineNo int) {
	e.t.Helper()
	e.exec(`INSERT INTO frozen_events
		SELECT line_id, tenant_id, event_id, digest, user_id, event_type, occurred_at,
			DATE '2026-01-01', DATE '2026-02-01', false, 'creator', NULL, NULL,
			100000, 0, 100000, 0, 0, 0, 1, domain_name, event_value, event_unit
		FROM pending WHERE key = ? AND line_no = ?`, key, lineNo)
	e.exec(`DELETE FROM pending WHERE key = ? AND line_no = ?`, key, lineNo)
	if n := e.one(`SELECT count(*) FROM frozen_events f JOIN lines l USING (line_id)
		JOIN objects o USING (obj_no) WHERE o.key = ? AND l.line_no = ?`, key, lineNo); n != "1" {
		e.t.Fatalf("freeze %s:%d: %s frozen rows", key, lineNo, n)
	}
}

// TestBilledEventStands (BILLING.md sections 2 and 5, CHANGES v2): an event billed in a
// final period is the first of its identity whatever arrives later, under any key: a later
// line with an earlier key is its duplicate (or a conflicting one), never the first.
func TestBilledEventStands(t *testing.T) {
	e := newEnv(t, "")
	e.put("b.jsonl", jsonl(ev("e1", "acme", "1")))
	e.mustLoad()
	e.exec(`UPDATE pending SET validated_run = 1`)
	e.freeze("b.jsonl", 1)
	e.put("a.jsonl", jsonl(ev("e1", "acme", "2"), ev("e1", "acme", "1")))
	e.mustLoad()
	e.want("lines", qLines, "b.jsonl|1|acme|e1|event|∅|∅",
		"a.jsonl|1|acme|e1|quarantined|conflicting_duplicate|event_id", "a.jsonl|2|acme|e1|duplicate|∅|∅")
	e.want("pending", qPending)
	e.want("qlog", qQlog, "a.jsonl|1|acme|e1|conflicting_duplicate|event_id|2")
	e.want("dirty_tenants", qDirty)
	e.want("frozen_events", `SELECT o.key, l.line_no, f.event_id FROM frozen_events f JOIN lines l USING (line_id) JOIN objects o USING (obj_no)`,
		"b.jsonl|1|e1")
}

// TestObjectReplaced (BILLING.md section 5): an object read again with a new ETag replaces
// its earlier version: that version's lines go, except those billed in a final period
// (frozen_events), which stand; a duplicate in another object of an identity whose first
// went becomes the first (a conflicting duplicate too: there is no other line left); the
// tenant whose accepted events went is dirty; the snapshot hears of the removed lines.
func TestObjectReplaced(t *testing.T) {
	e := newEnv(t, "")
	e.put("a.jsonl", jsonl(ev("e1", "acme", "1"), ev("e2", "acme", "1"), ev("e3", "acme", "1"), ev("e5", "acme", "1")))
	e.mustLoad() // run 1: obj 1
	e.exec(`UPDATE pending SET validated_run = 1`)
	e.freeze("a.jsonl", 1) // e1 billed
	e.put("b.jsonl", jsonl(ev("e2", "acme", "1"), ev("e3", "acme", "9")))
	e.mustLoad() // run 2: obj 2, duplicates of open firsts
	e.want("before: lines", qLines,
		"a.jsonl|1|acme|e1|event|∅|∅", "a.jsonl|2|acme|e2|event|∅|∅", "a.jsonl|3|acme|e3|event|∅|∅", "a.jsonl|4|acme|e5|event|∅|∅",
		"b.jsonl|1|acme|e2|duplicate|∅|∅", "b.jsonl|2|acme|e3|quarantined|conflicting_duplicate|event_id")
	e.want("before: dup_lines", qDups, "b.jsonl|1|acme|e2", "b.jsonl|2|acme|e3")
	e.exec(`DELETE FROM dirty_tenants`)

	e.put("a.jsonl", jsonl(ev("e1", "acme", "7"), ev("e4", "acme", "1"), ev("e5", "acme", "1")))
	res := e.mustLoad() // run 3: obj 3 replaces obj 1
	if res.Objects != 1 || res.Lines != 3 {
		t.Errorf("Batch = %+v, want 1 object of 3 lines", res)
	}
	e.want("objects", `SELECT obj_no, key, status, lines, run_seq FROM objects ORDER BY obj_no`,
		"1|a.jsonl|replaced|4|1", "2|b.jsonl|read|2|2", "3|a.jsonl|read|3|3")
	e.want("lines", `SELECT obj_no, line_no, event_id, status, reason FROM lines ORDER BY obj_no, line_no`,
		"1|1|e1|event|∅", // billed: stands
		"2|1|e2|event|∅", // promoted
		"2|2|e3|event|∅", // promoted: was a conflicting duplicate of a line that is gone
		"3|1|e1|quarantined|conflicting_duplicate",
		"3|2|e4|event|∅",
		"3|3|e5|event|∅")
	e.want("pending", `SELECT obj_no, key, line_no, event_id, validated_run FROM pending ORDER BY obj_no, line_no`,
		"2|b.jsonl|1|e2|∅", "2|b.jsonl|2|e3|∅", "3|a.jsonl|2|e4|∅", "3|a.jsonl|3|e5|∅")
	e.want("dup_lines", `SELECT line_id >> 32, line_no, event_id FROM dup_lines ORDER BY 1, 2`, "3|1|e1")
	e.want("frozen_events", `SELECT line_id >> 32, line_id & 4294967295, event_id FROM frozen_events`, "1|1|e1")
	e.want("dirty_tenants: accepted events went", qDirty, "acme")
	e.want("qlog", `SELECT obj_no, line_no, event_id, reason, logged_run FROM qlog ORDER BY logged_run, obj_no, line_no`,
		"2|2|e3|conflicting_duplicate|2", "3|1|e1|conflicting_duplicate|3")
	e.want("removed_lines", `SELECT line_id >> 32, line_id & 4294967295 FROM removed_lines ORDER BY 1, 2`,
		"1|2", "1|3", "1|4")

	// Given nothing changed, then nothing is read.
	if res := e.mustLoad(); res.Objects != 0 || res.Lines != 0 {
		t.Errorf("a run without changes: Batch = %+v", res)
	}
}

// TestInvalidUTF8 (parse doc: bytes are never repaired): an id with bytes that are not
// UTF-8 makes its line malformed, naming the field; it is never merged with another id
// (two invalid ids, or an invalid one and U+FFFD). The raw text is stored as valid UTF-8.
func TestInvalidUTF8(t *testing.T) {
	e := newEnv(t, "")
	line := func(id, tenant string) string {
		return `{"event_id":"` + id + `","occurred_at":"2026-01-12T09:00:00Z","tenant_id":"` + tenant +
			`","user_id":"u-1","event_type":"ai_coaching_chat","event_value":1,"event_unit":"attempt"}`
	}
	e.put("a.jsonl", jsonl(
		line("\xff", "acme"),
		line("\xfe", "acme"),
		line("\xff", "acme"),
		line("\uFFFD", "acme"),       // the replacement character itself: a valid id
		line(`\ud800`, "acme"),       // a lone surrogate escape
		line(`\ufffd`, "acme"),       // an escape of U+FFFD: the id of line 4
		line("e1", "acme\xff"),       // the tenant
		line("e1\xc3", "acme"),       // a rune cut short
		line("\xed\xa0\x80", "acme"), // an encoded surrogate
	))
	e.put("b.csv", []byte("event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit\n"+
		"\xff,2026-01-12T09:00:00Z,acme,u-1,ai_coaching_chat,1,attempt\n"+
		"\uFFFD,2026-01-12T09:00:00Z,acme,u-1,ai_coaching_chat,1,attempt\n"))
	e.mustLoad()
	e.want("lines", `SELECT o.key, l.line_no, l.parse_reason, l.parse_field, l.status, l.reason FROM lines l JOIN objects o USING (obj_no) ORDER BY o.key, l.line_no`,
		"a.jsonl|1|malformed|event_id|quarantined|malformed",
		"a.jsonl|2|malformed|event_id|quarantined|malformed",
		"a.jsonl|3|malformed|event_id|quarantined|malformed",
		"a.jsonl|4|∅|∅|event|∅",
		"a.jsonl|5|malformed|event_id|quarantined|malformed",
		"a.jsonl|6|∅|∅|duplicate|∅",
		"a.jsonl|7|malformed|tenant_id|quarantined|malformed",
		"a.jsonl|8|malformed|event_id|quarantined|malformed",
		"a.jsonl|9|malformed|event_id|quarantined|malformed",
		"b.csv|2|malformed|event_id|quarantined|malformed",
		"b.csv|3|∅|∅|duplicate|∅",
	)
	e.want("pending", `SELECT key, line_no, event_id = chr(65533) FROM pending`, "a.jsonl|4|true")
	e.want("raw is stored as valid UTF-8, each bad byte as U+FFFD", `SELECT raw FROM lines WHERE obj_no = 1 AND line_no = 1`,
		line("\uFFFD", "acme"))
}

// TestValuesExact (BILLING.md section 9): quantities are exact decimals from their text and
// strings their decoded value, whatever the format; the same event in JSON Lines, CSV and
// Parquet has one content (the later ones are exact duplicates).
func TestValuesExact(t *testing.T) {
	e := newEnv(t, "")
	e.put("a.jsonl", jsonl(
		`{"event_id":"e1","occurred_at":"2026-01-12T09:00:00.123456+01:00","tenant_id":"acme","user_id":"u-\u00e9","event_type":"ai_video_presenter","event_value":123456.123456,"event_unit":"second","attributes":{"b":1.50,"a":"x\ty","c":[1e3,-0]},"username":"jo","first_name":"Chloé","last_name":"Jo \"JJ\" Lee"}`,
		`{"event_id":"e2","occurred_at":"2026-01-12T09:00:00Z","tenant_id":"acme","user_id":"u-2","event_type":"ai_video_presenter","event_value":999999999999.999999,"event_unit":"second"}`,
		`{"event_id":"e3","occurred_at":"2026-01-12T09:00:00Z","tenant_id":"acme","user_id":"u-2","event_type":"ai_video_presenter","event_value":0.000001,"event_unit":"second","domain_name":"o'neil.example"}`,
	))
	e.put("b.csv", []byte("event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit,attributes,username,first_name,last_name\n"+
		`e1,2026-01-12T08:00:00.123456Z,acme,u-é,ai_video_presenter,123456.123456000,second,"{""c"":[1000,0],""a"":""x\ty"",""b"":1.5}",jo,Chloé,"Jo ""JJ"" Lee"`+"\n"))
	e.put("c.parquet", e.parquetOf(`SELECT 'e1' AS event_id, TIMESTAMPTZ '2026-01-12 08:00:00.123456+00' AS occurred_at,
		'acme' AS tenant_id, 'u-é' AS user_id, 'ai_video_presenter' AS event_type,
		CAST('123456.123456' AS DECIMAL(18,6)) AS event_value, 'second' AS event_unit,
		'{"a":"x\ty","b":1.5,"c":[1000,0]}' AS attributes, 'jo' AS username, 'Chloé' AS first_name,
		'Jo "JJ" Lee' AS last_name`))
	e.mustLoad()
	e.want("values", `SELECT o.key, l.event_id, CAST(l.event_value AS VARCHAR), epoch_us(l.occurred_at), l.user_id,
			l.attributes, l.first_name, l.last_name, l.domain_name, l.status
		FROM lines l JOIN objects o USING (obj_no) ORDER BY o.key, l.line_no`,
		`a.jsonl|e1|123456.123456|1768204800123456|u-é|{"a":"x\ty","b":1.5,"c":[1000,0]}|Chloé|Jo "JJ" Lee|∅|event`,
		`a.jsonl|e2|999999999999.999999|1768208400000000|u-2|∅|∅|∅|∅|event`,
		`a.jsonl|e3|0.000001|1768208400000000|u-2|∅|∅|∅|o'neil.example|event`,
		`b.csv|e1|123456.123456|1768204800123456|u-é|{"a":"x\ty","b":1.5,"c":[1000,0]}|Chloé|Jo "JJ" Lee|∅|duplicate`,
		`c.parquet|e1|123456.123456|1768204800123456|u-é|{"a":"x\ty","b":1.5,"c":[1000,0]}|Chloé|Jo "JJ" Lee|∅|duplicate`,
	)
	// the digests agree: the same content in three formats
	e.want("one digest", `SELECT count(DISTINCT digest) FROM lines WHERE event_id = 'e1'`, "1")
}

// TestNonUTF8Key: a local object whose name is not UTF-8 is read under its display key
// (pull.DisplayKey), and a second run recognizes it by that key: it is not read again.
func TestNonUTF8Key(t *testing.T) {
	e := newEnv(t, "")
	e.put("caf\xe9.jsonl", jsonl(ev("e1", "acme", "1")))
	if res := e.mustLoad(); res.Objects != 1 || res.Lines != 1 {
		t.Fatalf("Batch = %+v", res)
	}
	e.want("objects", `SELECT key FROM objects`, `caf\xe9.jsonl`)
	e.want("pending", `SELECT key FROM pending`, `caf\xe9.jsonl`)
	if res := e.mustLoad(); res.Objects != 0 {
		t.Errorf("second run read %d objects again", res.Objects)
	}
	if strings.Contains(e.one(`SELECT key FROM objects`), "\xe9") {
		t.Error("the warehouse holds a key that is not UTF-8")
	}
}
