package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvoicesPullDrafts (issue 11): invoices --drafts copies the draft invoices of the store
// (invoices/drafts/{tenant}_{period_start}.csv and .xlsx), filtered by tenant and period,
// and sums them per currency from their CSVs; the issued invoices are left alone.
func TestInvoicesPullDrafts(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	store := invoiceStore(t)
	header := "number,invoice_date,tenant_id,currency,net_amount,tax_amount,total_amount\n"
	files := map[string]string{
		"invoices/drafts/beta-rome_2026-03-01.csv":  header + "DRAFT,,beta-rome,EUR,0.48,0.00,0.48\nDRAFT,,beta-rome,EUR,0.48,0.00,0.48\n",
		"invoices/drafts/beta-rome_2026-03-01.xlsx": "xlsx",
		"invoices/drafts/alpha-la_2026-02-01.csv":   header + "DRAFT,,alpha-la,USD,10.00,1.00,11.00\n",
		"invoices/drafts/alpha-la_2026-02-01.xlsx":  "xlsx",
		"invoices/drafts/not-a-draft.csv":           "ignored",
	}
	for k, v := range files {
		p := filepath.Join(store, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		args  []string
		files []string
		out   string
	}{
		{"all", nil, []string{"alpha-la_2026-02-01.csv", "alpha-la_2026-02-01.xlsx", "beta-rome_2026-03-01.csv", "beta-rome_2026-03-01.xlsx"},
			"2 draft invoices (not issued, not payable) from " + store + " written to OUT\nEUR: 1 invoices, net 0.48, tax 0.00, total 0.48\nUSD: 1 invoices, net 10.00, tax 1.00, total 11.00\n"},
		{"by tenant, xlsx", []string{"--tenant", "beta-rome", "--format", "xlsx"}, []string{"beta-rome_2026-03-01.xlsx"},
			"1 draft invoices (not issued, not payable) from " + store + " written to OUT\nEUR: 1 invoices, net 0.48, tax 0.00, total 0.48\n"},
		{"by period", []string{"--period", "2026-02"}, []string{"alpha-la_2026-02-01.csv", "alpha-la_2026-02-01.xlsx"},
			"1 draft invoices (not issued, not payable) from " + store + " written to OUT\nUSD: 1 invoices, net 10.00, tax 1.00, total 11.00\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pulled")
			var stdout, stderr bytes.Buffer
			args := append([]string{"invoices", "--drafts", "--config", cfg, "--output", store, "--out", out}, c.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := listDir(t, out); strings.Join(got, " ") != strings.Join(c.files, " ") {
				t.Errorf("files %v, want %v", got, c.files)
			}
			if got := strings.ReplaceAll(stdout.String(), out, "OUT"); got != c.out {
				t.Errorf("stdout %q, want %q", got, c.out)
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"invoices", "--drafts", "--issued", "2026-03", "--config", cfg, "--output", store, "--out", t.TempDir()}, &stdout, &stderr); code != exitUsage {
		t.Errorf("--drafts --issued: exit %d, want %d", code, exitUsage)
	}
}

// TestRunDryRunFlags: --report-dir needs --dry-run; a report directory inside the output is
// refused (a dry run publishes nowhere a run does).
func TestRunDryRunFlags(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--config", cfg, "--report-dir", t.TempDir()}, &stdout, &stderr); code != exitUsage {
		t.Errorf("--report-dir without --dry-run: exit %d, want %d", code, exitUsage)
	}
	root := t.TempDir()
	out := filepath.Join(root, "out")
	stderr.Reset()
	code := run(context.Background(), []string{"run", "--config", cfg, "--dry-run", "--source", filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "raw"),
		"--output", out, "--warehouse", filepath.Join(root, "wh", "w.duckdb"), "--report-dir", filepath.Join(out, "report")}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--report-dir") {
		t.Errorf("report directory inside the output: exit %d, %s", code, stderr.String())
	}
}

// TestRunDryRunPrints: run --dry-run on the worked example (a fresh warehouse) prints the
// periods it would finalize and the invoice it would issue with its amounts, and leaves no
// warehouse and no output file behind.
func TestRunDryRunPrints(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example")
	root := t.TempDir()
	wh, out := filepath.Join(root, "wh", "w.duckdb"), filepath.Join(root, "out")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "--config", filepath.Join(dir, "creditmeter.yaml"), "--source", filepath.Join(dir, "raw"),
		"--output", out, "--warehouse", wh, "--now", "2026-03-10T12:00:00Z", "--dry-run", "--log-level", "error"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"dry run 20260310T120000Z-000001: nothing committed, published or sent\n",
		"would finalize 2 period(s)\n  acme 2026-01-01\n  acme 2026-02-01\n",
		"would issue 1 invoice(s)\n  INV-2026-000001  acme  2026-01-01 to 2026-01-31  25.0000 exceeding credits  net EUR 1.25, tax 0.00, total 1.25\n",
		"not kept (--report-dir DIR keeps them)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout without %q:\n%s", want, stdout.String())
		}
	}
	if _, err := os.Stat(wh); !os.IsNotExist(err) {
		t.Errorf("the dry run left a warehouse: %v", err)
	}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("the dry run left %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
