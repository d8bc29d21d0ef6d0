package snapshot_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/fund"
	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/snapshot"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

const testConfig = `
rate_cards:
  - id: std
    effective_from: 2026-01-01T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: search, kind: free}
tenants:
  - {id: acme, rate_card: std, timezone: Europe/Rome, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 15,
     overage: {policy: bill, price_per_credit: 0.05}}
  - {id: beta, rate_card: std, timezone: UTC, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 100,
     overage: {policy: block}}
`

// Personal data in the raw events and the user directory: none of it may reach the snapshot.
var personal = []string{"Alessandra", "Rossellini", "alex.ross", "Bartholomew", "Quigley", "bquig"}

var rawObjects = map[string]string{
	"2026/01/a.jsonl": `{"event_id":"e1","occurred_at":"2026-01-10T10:00:00Z","tenant_id":"acme","user_id":"u-1","event_type":"chat","event_value":1,"event_unit":"attempt","username":"alex.ross","first_name":"Alessandra","last_name":"Rossellini"}
{"event_id":"e2","occurred_at":"2026-01-11T10:00:00Z","tenant_id":"acme","user_id":"u-1","event_type":"chat","event_value":1,"event_unit":"attempt","username":"alex.ross","first_name":"Alessandra","last_name":"Rossellini"}
{"event_id":"e3","occurred_at":"2026-02-02T10:00:00Z","tenant_id":"beta","user_id":"u-2","event_type":"chat","event_value":1,"event_unit":"attempt"}
{"event_id":"e4","occurred_at":"2026-02-03T10:00:00Z","tenant_id":"beta","user_id":"u-2","event_type":"search","event_value":1,"event_unit":"request"}
{"event_id":"bad","occurred_at":"yesterday","tenant_id":"acme","user_id":"u-9","event_type":"chat","event_value":1,"event_unit":"attempt","first_name":"Alessandra"}
not json at all, Rossellini
{"event_id":"e1","occurred_at":"2026-01-10T10:00:00Z","tenant_id":"acme","user_id":"u-1","event_type":"chat","event_value":1,"event_unit":"attempt","username":"alex.ross","first_name":"Alessandra","last_name":"Rossellini"}
`,
	"users/dir.csv": "user_id,username,first_name,last_name\nu-2,bquig,Bartholomew,Quigley\n",
}

// pipelineConn runs the stages of a run up to aggregation on a connection of a new
// warehouse and returns it with the run's temp tables in place, as publish sees them.
func pipelineConn(t *testing.T, now string) (*sql.DB, *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	src := filepath.Join(root, "raw")
	for k, v := range rawObjects {
		p := filepath.Join(src, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := schemas.ParseConfig([]byte(testConfig), "test.yaml", root)
	if err != nil {
		t.Fatal(err)
	}
	db, err := warehouse.Open(ctx, filepath.Join(root, "var", "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	at, _ := time.Parse(time.RFC3339, now)
	cal, err := rate.NewCalendar(cfg, map[string]map[string]bool{})
	must(t, err)
	must(t, rate.Prepare(ctx, conn, cfg, cal, at))
	store, err := objstore.Open(ctx, src, objstore.Options{})
	must(t, err)
	listing, err := store.List(ctx)
	must(t, err)
	known, err := load.Known(ctx, conn)
	must(t, err)
	ld, err := load.New(load.Config{Conn: conn, RunSeq: 1})
	must(t, err)
	f := &pull.Fetcher{Store: store, StageDir: t.TempDir()}
	var batch []pull.Fetched
	for i, o := range pull.Plan(listing, known) {
		fe, err := f.Fetch(ctx, o, i)
		must(t, err)
		batch = append(batch, fe)
	}
	_, err = ld.Batch(ctx, batch)
	must(t, err)
	must(t, rate.Run(ctx, conn))
	w, err := fund.New(rate.Tenants(cfg, cal))
	must(t, err)
	_, err = fund.Stream(ctx, conn, w)
	must(t, err)
	must(t, aggregate.Run(ctx, conn))
	return db, conn
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeInRun writes the snapshot as the run does: inside its finalize transaction, after
// finalization has written to the warehouse.
func writeInRun(t *testing.T, conn *sql.Conn, dir string) []string {
	t.Helper()
	ctx := context.Background()
	_, err := conn.ExecContext(ctx, "BEGIN TRANSACTION")
	must(t, err)
	must(t, aggregate.Finalize(ctx, conn, 1, time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)))
	files, err := snapshot.Write(ctx, conn, dir)
	must(t, err)
	_, err = conn.ExecContext(ctx, "COMMIT")
	must(t, err)
	return files
}

func TestWriteSnapshot(t *testing.T) {
	_, conn := pipelineConn(t, "2026-03-10T12:00:00Z")
	out := t.TempDir()
	files := writeInRun(t, conn, out)
	for _, want := range []string{
		"analytics/warehouse.duckdb",
		"analytics/parquet/rated_events/tenant_id=acme/part0.parquet",
		"analytics/parquet/rated_events/tenant_id=beta/part0.parquet",
		"analytics/parquet/period_usage/tenant_id=acme/part0.parquet",
		"analytics/parquet/period_usage/tenant_id=beta/part0.parquet",
		"analytics/parquet/invoices/tenant_id=acme/part0.parquet",
	} {
		if !slices.Contains(files, want) {
			t.Errorf("missing %s in %v", want, files)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".wal") || strings.HasSuffix(f, ".tmp") {
			t.Errorf("stray file %s", f)
		}
	}

	db, err := warehouse.OpenReadOnly(filepath.Join(out, snapshot.DBKey))
	must(t, err)
	defer db.Close()
	count := func(q string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// Every view is there and documented.
	for _, v := range snapshot.Views {
		var comment sql.NullString
		if err := db.QueryRow("SELECT comment FROM duckdb_views() WHERE view_name = ? AND NOT internal", v).Scan(&comment); err != nil {
			t.Errorf("view %s: %v", v, err)
			continue
		}
		if len(comment.String) < 20 {
			t.Errorf("view %s is not documented: %q", v, comment.String)
		}
	}
	checks := []struct {
		q    string
		want int64
	}{
		{"SELECT count(*) FROM events", 7},
		{"SELECT count(*) FROM events WHERE status = 'accepted'", 4},
		{"SELECT count(*) FROM events WHERE status = 'duplicate'", 1},
		{"SELECT count(*) FROM quarantine", 2},
		{"SELECT count(*) FROM rated_events", 4},
		{"SELECT count(*) FROM rated_events WHERE event_type = 'chat' AND rated_credits = 10", 3},
		{"SELECT CAST(sum(exceeding_credits) AS BIGINT) FROM period_usage WHERE tenant_id = 'acme' AND period_start = DATE '2026-01-01'", 5},
		{"SELECT count(*) FROM period_usage WHERE tenant_id = 'acme' AND status = 'final'", 2},
		{"SELECT count(*) FROM invoices WHERE tenant_id = 'acme'", 1},
		// the Parquet export reads back with its partition column
		{fmt.Sprintf("SELECT count(*) FROM read_parquet('%s/analytics/parquet/rated_events/*/*.parquet', hive_partitioning = true) WHERE tenant_id = 'beta'", filepath.ToSlash(out)), 2},
	}
	for _, c := range checks {
		if got := count(c.q); got != c.want {
			t.Errorf("%s = %d, want %d", c.q, got, c.want)
		}
	}

	// No personal data: no such column anywhere, and no name in any value.
	if n := count(`SELECT count(*) FROM duckdb_columns() WHERE column_name IN ('username', 'first_name', 'last_name', 'raw')`); n != 0 {
		t.Errorf("%d personal-data columns in the snapshot", n)
	}
	rows, err := db.Query(`SELECT schema_name || '.' || table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal`)
	must(t, err)
	var rels []string
	for rows.Next() {
		var r string
		must(t, rows.Scan(&r))
		rels = append(rels, r)
	}
	rows.Close()
	if len(rels) < 10 {
		t.Fatalf("relations %v", rels)
	}
	for _, r := range rels {
		assertNoPersonal(t, db, "SELECT * FROM "+r, r)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".parquet") {
			assertNoPersonal(t, db, fmt.Sprintf("SELECT * FROM read_parquet('%s')", filepath.ToSlash(filepath.Join(out, f))), f)
		}
	}
}

// assertNoPersonal scans every value the query returns for the personal data of the fixture.
func assertNoPersonal(t *testing.T, db *sql.DB, q, what string) {
	t.Helper()
	rows, err := db.Query(q)
	must(t, err)
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		must(t, rows.Scan(ptrs...))
		text := fmt.Sprint(vals...)
		for _, p := range personal {
			if strings.Contains(text, p) {
				t.Errorf("%s holds personal data %q: %s", what, p, text)
			}
		}
	}
	must(t, rows.Err())
}

// TestSnapshotWhileRunGoes: the snapshot is a file of its own: it opens read-only (and
// refuses writes) while the warehouse is held open for writing with a transaction going,
// and a local copy replaced by Install leaves its open readers undisturbed.
func TestSnapshotWhileRunGoes(t *testing.T) {
	ctx := context.Background()
	_, conn := pipelineConn(t, "2026-03-10T12:00:00Z")
	out := t.TempDir()
	writeInRun(t, conn, out)
	local := filepath.Join(t.TempDir(), "analytics", "creditmeter.duckdb")
	must(t, snapshot.Install(filepath.Join(out, snapshot.DBKey), local))

	// A run goes: the warehouse is open for writing, in a transaction that wrote.
	_, err := conn.ExecContext(ctx, "BEGIN TRANSACTION")
	must(t, err)
	_, err = conn.ExecContext(ctx, "INSERT INTO runs VALUES (2, 'r2', now(), 'running')")
	must(t, err)
	defer conn.ExecContext(ctx, "ROLLBACK") //nolint:errcheck

	analyst, err := warehouse.OpenReadOnly(local)
	must(t, err)
	defer analyst.Close()
	var n int64
	must(t, analyst.QueryRow("SELECT count(*) FROM rated_events").Scan(&n))
	if n != 4 {
		t.Errorf("rated_events %d, want 4", n)
	}
	for _, stmt := range []string{"CREATE TABLE x (a INT)", "DELETE FROM data.invoices", "DROP VIEW events"} {
		if _, err := analyst.Exec(stmt); err == nil || !strings.Contains(strings.ToLower(err.Error()), "read-only") {
			t.Errorf("%s on the snapshot: err %v, want a read-only refusal", stmt, err)
		}
	}

	// The run writes its next snapshot while the analyst still reads the old one.
	out2 := t.TempDir()
	files, err := snapshot.Write(ctx, conn, out2)
	must(t, err)
	if len(files) == 0 {
		t.Fatal("no files")
	}
	must(t, snapshot.Install(filepath.Join(out2, snapshot.DBKey), local))
	must(t, analyst.QueryRow("SELECT count(*) FROM events").Scan(&n))
	if n != 7 {
		t.Errorf("events %d on the open copy, want 7", n)
	}
	fresh, err := warehouse.OpenReadOnly(local)
	must(t, err)
	defer fresh.Close()
	must(t, fresh.QueryRow("SELECT count(*) FROM period_usage").Scan(&n))
	if n == 0 {
		t.Error("the new copy has no periods")
	}
}

// TestSnapshotIsReproducible: the same inputs give byte-identical snapshot files, so a
// re-run with nothing new does not upload them again.
func TestSnapshotIsReproducible(t *testing.T) {
	_, conn := pipelineConn(t, "2026-03-10T12:00:00Z")
	a, b := t.TempDir(), t.TempDir()
	fa := writeInRun(t, conn, a)
	fb, err := snapshot.Write(context.Background(), conn, b)
	must(t, err)
	if !slices.Equal(fa, fb) {
		t.Fatalf("files differ: %v vs %v", fa, fb)
	}
	for _, f := range fa {
		x, err := os.ReadFile(filepath.Join(a, f))
		must(t, err)
		y, err := os.ReadFile(filepath.Join(b, f))
		must(t, err)
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two writes of the same run", f)
		}
	}
}
