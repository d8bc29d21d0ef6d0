package main

import (
	"bytes"
	"context"
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
		`INSERT INTO invoices VALUES ('INV-2026-000001', 2026, 1, 'acme', DATE '2026-01-01', DATE '2026-02-01',
			'EUR', 25.5, 0.05, 1.28, DATE '2026-03-10', 1)`,
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
