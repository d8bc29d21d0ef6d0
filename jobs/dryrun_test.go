package jobs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// countingSMTP listens on a loopback port and counts the connections made to it (each is
// closed at once: a delivery attempted there fails, but it is seen).
func countingSMTP(t *testing.T) (port int, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, conns
}

// treeSums is every file under dir with its checksum (nil when dir does not exist).
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dryRun runs `run --dry-run` on the world at now, the reports into reportDir.
func (w *world) dryRun(now, reportDir string) *jobs.DryRunResult {
	w.t.Helper()
	cfg, err := schemas.ParseConfig([]byte(w.cfg), "test.yaml", w.root)
	if err != nil {
		w.t.Fatalf("configuration: %v", err)
	}
	at, err := time.Parse(time.RFC3339, now)
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		w.t.Fatal(err)
	}
	res, err := r.DryRun(context.Background(), jobs.Options{Source: w.src, Output: w.out, Warehouse: w.wh, Now: at}, reportDir)
	if err != nil {
		w.t.Fatalf("dry run at %s: %v", now, err)
	}
	return res
}

// TestDryRun (issue 11): Given a run in January that recorded a threshold crossing (and
// tried to send it), and February's first days read, when a dry run is made at 5 February,
// then it reports January finalized and its invoice with its number and amounts, writes the
// reports it would publish into the report directory, sends nothing, and leaves the
// warehouse and the output byte for byte as they were; and the real run at the same instant
// then issues exactly the invoices the dry run reported.
func TestDryRun(t *testing.T) {
	port, conns := countingSMTP(t)
	w := newWorld(t, fmt.Sprintf("smtp: {host: 127.0.0.1, port: %d, from: billing@example.com}\n", port)+
		config("", tenantYAML("acme", "credits_plan", "10", "notify", "{thresholds: [0.5, 2], email: [ops@acme.example]}")))
	w.put("a.jsonl", lines(ev("e1")))
	w.run("2026-01-20T00:00:00Z")
	sentBefore := conns.Load()
	if sentBefore == 0 {
		t.Fatal("the real run attempted no delivery: the test cannot see sending")
	}
	w.put("b.jsonl", lines(ev("e2", "occurred_at", "2026-01-21T10:00:00Z"), ev("e3", "occurred_at", "2026-02-02T10:00:00Z")))
	whBefore, outBefore := treeSums(t, filepath.Dir(w.wh)), treeSums(t, w.out)

	report := filepath.Join(w.root, "report")
	res := w.dryRun("2026-02-05T00:00:00Z", report)

	check(t, "warehouse unchanged", fmt.Sprint(treeSums(t, filepath.Dir(w.wh))), fmt.Sprint(whBefore))
	check(t, "output unchanged", fmt.Sprint(treeSums(t, w.out)), fmt.Sprint(outBefore))
	check(t, "deliveries attempted by the dry run", conns.Load(), sentBefore)
	var finalized []string
	for _, f := range res.Manifest.Finalized {
		finalized = append(finalized, f.Kind+" "+f.TenantID+" "+f.PeriodStart+" "+f.Invoice)
	}
	check(t, "finalized", fmt.Sprint(finalized), "[invoice acme 2026-01-01 INV-2026-000001 period acme 2026-01-01 ]")
	if len(res.Invoices) != 1 {
		t.Fatalf("dry-run invoices %+v", res.Invoices)
	}
	inv := res.Invoices[0]
	check(t, "dry-run invoice", fmt.Sprintf("%s %s %s %s %s %s %s", inv.Number, inv.TenantID, inv.PeriodStart,
		inv.Currency, inv.ExceedingCredits, inv.Net, inv.Total), "INV-2026-000001 acme 2026-01-01 EUR 10.0000 0.50 0.50")
	check(t, "dry-run notifications", fmt.Sprint(res.Notifications), "[{acme 2026-01-01 utilization 2.000000} {acme 2026-02-01 utilization 0.500000}]")
	reported := treeSums(t, report)
	for _, k := range []string{"invoices/INV-2026-000001.xlsx", "invoices/INV-2026-000001.csv", "invoices/register.csv",
		"usage/acme/2026-01-01_ai_credits_usage.csv", "usage/acme/forecast.csv"} {
		if reported[k] == "" {
			t.Errorf("report directory without %s: %v", k, reported)
		}
	}

	// the real run at the same instant issues what the dry run said, with the same bytes
	w.run("2026-02-05T00:00:00Z")
	reg := w.invoices()
	if len(reg) != 1 {
		t.Fatalf("register %v", reg)
	}
	checkRow(t, "issued invoice", reg[0], map[string]string{"invoice_number": inv.Number, "tenant_id": inv.TenantID,
		"period_start": inv.PeriodStart, "period_end": inv.PeriodEnd, "currency": inv.Currency,
		"exceeding_credits": trimDec(inv.ExceedingCredits), "amount": inv.Net, "tax_amount": inv.Tax, "total_amount": inv.Total})
	real := treeSums(t, w.out)
	for _, k := range []string{"invoices/INV-2026-000001.xlsx", "invoices/INV-2026-000001.csv", "invoices/register.csv"} {
		if real[k] != reported[k] {
			t.Errorf("%s: the real run published other bytes than the dry run reported", k)
		}
	}
	if conns.Load() == sentBefore {
		t.Error("the real run attempted no delivery of the new crossing")
	}
}
