package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// queryWarehouse makes a warehouse with one issued invoice and one run.
func queryWarehouse(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "var", "warehouse.duckdb")
	db, err := warehouse.Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO runs VALUES (1, '20260310T120000Z-000001', TIMESTAMPTZ '2026-03-10 12:00:00+00', TIMESTAMPTZ '2026-03-10 12:00:00+00', 'succeeded')`,
		`INSERT INTO invoices (invoice_number, year, seq, tenant_id, period_start, period_end, currency,
			exceeding_credits, price_per_credit, amount, issued_on, issued_run, due_date, payment_days,
			customer_name, tax_rate, tax_amount, total_amount)
			VALUES ('INV-2026-000001', 2026, 1, 'acme', DATE '2026-01-01', DATE '2026-02-01',
			'EUR', 25.5, 0.05, 1.28, DATE '2026-03-10', 1, DATE '2026-04-09', 30, 'Acme', 0, 0, 1.28)`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestQueryPrintsCSVAndTable(t *testing.T) {
	wh := queryWarehouse(t)
	q := "SELECT invoice_number, tenant_id, period_start, exceeding_credits, amount, NULL AS note FROM invoices ORDER BY seq"
	code, out, errOut := runCmd("query", "--warehouse", wh, q)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "invoice_number,tenant_id,period_start,exceeding_credits,amount,note\nINV-2026-000001,acme,2026-01-01,25.5,1.28,\n"
	if out != want {
		t.Errorf("csv (not a terminal, the default):\n%s\nwant\n%s", out, want)
	}
	code, out, errOut = runCmd("query", "--warehouse", wh, "--format", "table", q)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "---") || lines[3] != "(1 rows)" {
		t.Fatalf("table:\n%s", out)
	}
	// columns are aligned: each header name starts where its value does
	for _, col := range []string{"tenant_id", "period_start", "amount", "note"} {
		if h, v := strings.Index(lines[0], col), strings.Index(lines[2], map[string]string{
			"tenant_id": "acme", "period_start": "2026-01-01", "amount": "1.28", "note": "NULL"}[col]); h != v {
			t.Errorf("column %s at %d, value at %d:\n%s", col, h, v, out)
		}
	}
}

// TestQueryRefusesWrites: the warehouse is opened read-only, so no statement can change it.
func TestQueryRefusesWrites(t *testing.T) {
	wh := queryWarehouse(t)
	before, err := os.ReadFile(wh)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.duckdb")
	for _, stmt := range []string{
		"CREATE TABLE x (a INTEGER)",
		"INSERT INTO runs VALUES (2, 'r2', now(), now(), 'succeeded')",
		"UPDATE invoices SET amount = 0",
		"DELETE FROM invoices",
		"DROP TABLE invoices",
		"ALTER TABLE runs ADD COLUMN x INTEGER",
		"CREATE VIEW v AS SELECT 1",
		"ATTACH '" + other + "' AS o; CREATE TABLE o.t AS SELECT * FROM invoices",
		"COPY invoices TO '" + filepath.Join(filepath.Dir(other), "leak.csv") + "'",
		"SET access_mode = 'read_write'",
		"SET enable_external_access = true",
		"SET lock_configuration = false",
	} {
		code, _, errOut := runCmd("query", "--warehouse", wh, stmt)
		if code != exitFailed {
			t.Errorf("%s: exit %d, want %d (refused); stderr %s", stmt, code, exitFailed, errOut)
		}
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("ATTACH created another database")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(other), "leak.csv")); err == nil {
		t.Error("COPY wrote a file")
	}
	after, err := os.ReadFile(wh)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the warehouse file changed")
	}
	code, out, _ := runCmd("query", "--warehouse", wh, "SELECT count(*) AS n FROM invoices")
	if code != exitOK || out != "n\n1\n" {
		t.Errorf("invoices after the attempts: exit %d %q", code, out)
	}
	if code, _, _ := runCmd("query", "--warehouse", wh); code != exitUsage {
		t.Errorf("no SQL: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCmd("query", "--warehouse", wh, "--format", "xml", "SELECT 1"); code != exitUsage {
		t.Errorf("bad format: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCmd("query", "--warehouse", filepath.Join(t.TempDir(), "missing.duckdb"), "SELECT 1"); code != exitFailed {
		t.Errorf("missing warehouse: exit %d, want %d", code, exitFailed)
	}
}

// TestQueryPrintsJSON (issue 12): JSON values printed as JSON, exactly (a number past 2^53
// too), and lists, structs and maps as JSON; a query the rewrite cannot take (two
// statements) still prints JSON.
func TestQueryPrintsJSON(t *testing.T) {
	wh := queryWarehouse(t)
	q := `SELECT '{"n": 12345678901234567890, "s": "a\"b", "l": [1, 2.50]}'::JSON AS j, [1, 2] AS l,
		{'x': 1.5::DECIMAL(4,2), 'd': DATE '2026-01-01'} AS s, MAP {'k': 2} AS m, NULL::JSON AS nothing,
		'"text"'::JSON AS js -- a trailing comment;
		;`
	code, out, errOut := runCmd("query", "--warehouse", wh, q)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "j,l,s,m,nothing,js\n" +
		`"{""n"": 12345678901234567890, ""s"": ""a\""b"", ""l"": [1, 2.50]}","[1,2]","{""d"":""2026-01-01T00:00:00Z"",""x"":1.5}","{""k"":2}",,"""text"""` + "\n"
	if out != want {
		t.Errorf("csv:\n%s\nwant\n%s", out, want)
	}
	// statements the rewrite cannot take: the decoded value is encoded again
	code, out, errOut = runCmd("query", "--warehouse", wh, `SELECT 1; SELECT '{"a": [1, "x"]}'::JSON AS j`)
	if code != exitOK || out != "j\n\"{\"\"a\"\":[1,\"\"x\"\"]}\"\n" {
		t.Errorf("exit %d: %q %s", code, out, errOut)
	}
}

// TestQueryReadsSnapshotParquet (issue 12): on the analysts' snapshot, a query reads the
// snapshot's Parquet files (analytics/parquet/ beside it), by an absolute or a relative
// path, and no other file: not one reached with .., not another directory, not on a
// warehouse.
func TestQueryReadsSnapshotParquet(t *testing.T) {
	root := t.TempDir()
	analytics := filepath.Join(root, "out", "analytics")
	snap := filepath.Join(analytics, "warehouse.duckdb")
	part := filepath.Join(analytics, "parquet", "invoices", "tenant_id=acme")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(root, "secret.parquet")
	db, err := sql.Open("duckdb", snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE SCHEMA meta", "CREATE TABLE meta.snapshot (layout INTEGER)", "CREATE VIEW v AS SELECT 1 AS one",
		"COPY (SELECT 'INV-2026-000001' AS invoice_number, 1.25::DECIMAL(38,2) AS amount) TO " + warehouse.Literal(filepath.Join(part, "part0.parquet")) + " (FORMAT parquet)",
		"COPY (SELECT 'secret' AS s) TO " + warehouse.Literal(secret) + " (FORMAT parquet)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	glob := filepath.ToSlash(filepath.Join(analytics, "parquet", "invoices", "*", "*.parquet"))
	code, out, errOut := runCmd("query", "--warehouse", snap,
		"SELECT tenant_id, invoice_number, amount FROM read_parquet('"+glob+"', hive_partitioning = true)")
	if code != exitOK || out != "tenant_id,invoice_number,amount\nacme,INV-2026-000001,1.25\n" {
		t.Errorf("snapshot Parquet: exit %d %q %s", code, out, errOut)
	}
	for _, q := range []string{"DESCRIBE v", "SHOW TABLES", "SUMMARIZE v", "SELECT * FROM v"} {
		if code, _, errOut := runCmd("query", "--warehouse", snap, q); code != exitOK {
			t.Errorf("%s on the snapshot: exit %d %s", q, code, errOut)
		}
	}
	t.Chdir(filepath.Join(root, "out"))
	code, out, errOut = runCmd("query", "--warehouse", filepath.Join("analytics", "warehouse.duckdb"),
		"SELECT count(*) AS n FROM 'analytics/parquet/invoices/*/*.parquet'")
	if code != exitOK || out != "n\n1\n" {
		t.Errorf("relative path: exit %d %q %s", code, out, errOut)
	}
	for _, q := range []string{
		"SELECT * FROM read_parquet(" + warehouse.Literal(secret) + ")",
		"SELECT * FROM read_parquet(" + warehouse.Literal(filepath.Join(analytics, "parquet", "..", "..", "..", "secret.parquet")) + ")",
		"SELECT * FROM read_csv('/etc/passwd')",
		"SET allowed_directories = ['/']",
		"COPY (SELECT 1 AS x) TO " + warehouse.Literal(filepath.Join(analytics, "parquet", "written.csv")),
		"COPY (SELECT 1 AS x) TO " + warehouse.Literal(filepath.Join(analytics, "parquet", "written.parquet")) + " (FORMAT parquet)",
		"SELECT 1; COPY (SELECT 1 AS x) TO " + warehouse.Literal(filepath.Join(analytics, "parquet", "written.csv")),
		"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO " + warehouse.Literal(filepath.Join(analytics, "parquet", "written.csv")),
		"EXPORT DATABASE " + warehouse.Literal(filepath.Join(analytics, "parquet", "export")),
	} {
		if code, out, _ := runCmd("query", "--warehouse", snap, q); code != exitFailed || strings.Contains(out, "secret") {
			t.Errorf("%s: exit %d %q, want refused", q, code, out)
		}
	}
	for _, f := range []string{"written.csv", "written.parquet"} {
		if _, err := os.Stat(filepath.Join(analytics, "parquet", f)); err == nil {
			t.Errorf("a query wrote %s into the snapshot's Parquet directory", f)
		}
	}
	// a warehouse reads no file, not even Parquet under a parquet/ directory beside it
	wh := queryWarehouse(t)
	other := filepath.Join(filepath.Dir(wh), "parquet")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(part, "part0.parquet"), filepath.Join(other, "x.parquet"))
	if code, _, _ := runCmd("query", "--warehouse", wh, "SELECT * FROM read_parquet("+warehouse.Literal(filepath.Join(other, "x.parquet"))+")"); code != exitFailed {
		t.Errorf("a warehouse read a Parquet file: exit %d", code)
	}
}
