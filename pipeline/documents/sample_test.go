package documents_test

import (
	"context"
	"encoding/csv"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/fixtures/generator"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// TestSampleAddsUp (issue 12) runs the pipeline on a generated sample, as `creditmeter
// generate` writes it (the make run data set, smaller), with taxes configured on some
// tenants, and checks that the documents add up at a glance:
//   - for every tenant and period, the usage report's consumed_credits sum to the ledger's
//     plan + bank + exceeding credits (what the customer's balance was charged), its
//     blocked_credits to the period's blocked credits and its allowance_units to the
//     allowance units used; a period without a report charged nothing;
//   - on every invoice, net + tax = total, the lines sum to the net, the tax is the net at
//     the tenant's rate rounded half-up to the cent, and the register agrees.
func TestSampleAddsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline on a generated data set")
	}
	dir := t.TempDir()
	s, err := generator.Generate(context.Background(), generator.Config{Events: 30000, Tenants: 12, Out: dir, Seed: 7,
		Start: generator.DefaultStart, Months: generator.DefaultMonths})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := schemas.LoadConfig(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	rates := map[string]decimal.Decimal{}
	for i := range cfg.Tenants {
		tn := &cfg.Tenants[i]
		switch i % 3 {
		case 0:
			tn.Tax = &schemas.Tax{Label: "GST", Rate: decimal.RequireFromString("0.10")}
		case 1:
			tn.Tax = &schemas.Tax{Label: "VAT", Rate: decimal.RequireFromString("0.225")}
		default:
			tn.Tax = &schemas.Tax{ReverseCharge: "Reverse charge"}
		}
		rates[tn.ID] = tn.Tax.Rate
	}
	r, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	now := generator.DefaultStart.AddDate(0, generator.DefaultMonths, 5).Add(12 * time.Hour)
	if _, err := r.Run(context.Background(), jobs.Options{Now: now}); err != nil {
		t.Fatal(err)
	}
	out := cfg.Resolve(cfg.Output)

	// Usage reports against the ledger.
	dec := func(what, s string) decimal.Decimal {
		d, err := decimal.NewFromString(s)
		if err != nil {
			t.Fatalf("%s: %q is not a decimal", what, s)
		}
		return d
	}
	checked := map[string]int{}
	for _, p := range readCSV(t, filepath.Join(out, "ledger", "period_usage.csv")) {
		key := filepath.Join(out, "usage", p["tenant_id"], p["period_start"]+"_ai_credits_usage.csv")
		charged := dec(key, p["plan_used"]).Add(dec(key, p["bank_used"])).Add(dec(key, p["exceeding_credits"]))
		consumed, blocked, units := decimal.Zero, decimal.Zero, decimal.Zero
		rows, err := readCSVFile(key)
		if errors.Is(err, fs.ErrNotExist) {
			rows = nil // a period without billable events has no report
		} else if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			consumed = consumed.Add(dec(key, row["consumed_credits"]))
			blocked = blocked.Add(dec(key, row["blocked_credits"]))
			units = units.Add(dec(key, row["allowance_units"]))
			if row["late"] != "true" && row["late"] != "false" {
				t.Errorf("%s: late %q", key, row["late"])
			}
		}
		what := p["tenant_id"] + " " + p["period_start"]
		if !consumed.Equal(charged) {
			t.Errorf("%s: consumed_credits sum to %s, the ledger's plan + bank + exceeding is %s", what, consumed, charged)
		}
		if want := dec(key, p["blocked_credits"]); !blocked.Equal(want) {
			t.Errorf("%s: blocked_credits sum to %s, the ledger says %s", what, blocked, want)
		}
		if want := dec(key, p["allowance_units_used"]); !units.Equal(want) {
			t.Errorf("%s: allowance_units sum to %s, the ledger says %s", what, units, want)
		}
		checked[p["tenant_id"]]++
	}
	for i := range cfg.Tenants {
		if checked[cfg.Tenants[i].ID] == 0 {
			t.Errorf("tenant %s: no period checked", cfg.Tenants[i].ID)
		}
	}

	// Invoices: net + tax = total, on the documents and the register.
	register := readCSV(t, filepath.Join(out, "invoices", "register.csv"))
	if len(register) == 0 {
		t.Fatal("the sample issued no invoice")
	}
	taxed := 0
	for _, reg := range register {
		num := reg["invoice_number"]
		for _, col := range []string{"amount", "tax_amount", "total_amount"} {
			if v := reg[col]; !strings.Contains(v, ".") || len(v)-strings.Index(v, ".") != 3 {
				t.Errorf("%s: register %s %q is not written with two places", num, col, v)
			}
		}
		net, tax, total := dec(num, reg["amount"]), dec(num, reg["tax_amount"]), dec(num, reg["total_amount"])
		if !net.Add(tax).Equal(total) {
			t.Errorf("%s: register net %s + tax %s != total %s", num, net, tax, total)
		}
		// round() half-up: the tax is positive
		if want := net.Mul(rates[reg["tenant_id"]]).Round(2); !tax.Equal(want) {
			t.Errorf("%s: tax %s, want %s at %s", num, tax, want, rates[reg["tenant_id"]])
		}
		if tax.IsPositive() {
			taxed++
		}
		lines := readCSV(t, filepath.Join(out, "invoices", num+".csv"))
		sum := decimal.Zero
		for _, l := range lines {
			sum = sum.Add(dec(num, l["amount"]))
			if !dec(num, l["net_amount"]).Add(dec(num, l["tax_amount"])).Equal(dec(num, l["total_amount"])) {
				t.Errorf("%s line %s: net + tax != total: %v", num, l["line"], l)
			}
			if !dec(num, l["total_amount"]).Equal(total) || !dec(num, l["net_amount"]).Equal(net) || !dec(num, l["total"]).Equal(net) {
				t.Errorf("%s line %s: the document's totals differ from the register's: %v", num, l["line"], l)
			}
		}
		if !sum.Equal(net) {
			t.Errorf("%s: the lines sum to %s, the net is %s", num, sum, net)
		}
	}
	if taxed == 0 {
		t.Error("no invoice of the sample charged a tax")
	}
	t.Logf("%d tenants, %d periods, %d invoices (%d taxed) checked", len(checked), len(readCSV(t, filepath.Join(out, "ledger", "period_usage.csv"))), len(register), taxed)
}

func readCSVFile(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out, nil
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	rows, err := readCSVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
