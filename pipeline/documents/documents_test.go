package documents_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current outputs")

// render returns the documents a prepared fixture's runs published (tenant workbooks and
// invoices), by key, and the output directory.
func render(t *testing.T, fx *fixture) (string, map[string][]byte) {
	t.Helper()
	dir := fx.out
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		if !(strings.HasPrefix(key, "invoices/INV-") || strings.HasSuffix(key, "/ai_credits.xlsx")) {
			return nil
		}
		b, err := os.ReadFile(p)
		files[key] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, files
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func open(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// cell returns a cell's formatted and raw values.
func cell(t *testing.T, f *excelize.File, sheet, ref string) (string, string) {
	t.Helper()
	v, err := f.GetCellValue(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	return v, raw
}

func wantCell(t *testing.T, f *excelize.File, sheet, ref, raw string) {
	t.Helper()
	if _, got := cell(t, f, sheet, ref); got != raw {
		t.Errorf("%s!%s = %q, want %q", sheet, ref, got, raw)
	}
}

func wantFmt(t *testing.T, f *excelize.File, sheet, ref, numFmt string) {
	t.Helper()
	id, err := f.GetCellStyle(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	if st.CustomNumFmt != nil {
		got = *st.CustomNumFmt
	}
	if got != numFmt {
		t.Errorf("%s!%s number format %q, want %q", sheet, ref, got, numFmt)
	}
}

// zipEntry reads one part of an xlsx package.
func zipEntry(t *testing.T, b []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return string(data)
		}
	}
	t.Fatalf("no %s in the package", name)
	return ""
}

var formulaRe = regexp.MustCompile(`<f>([^<]*)</f>`)

// chartRefs lists the cell references of a chart part, in order.
func chartRefs(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for _, m := range formulaRe.FindAllStringSubmatch(zipEntry(t, b, "xl/charts/chart1.xml"), -1) {
		out = append(out, m[1])
	}
	return out
}

func TestWorkedExample(t *testing.T) {
	fx := prepare(t, "01-worked-example", financeTerms)
	_, files := render(t, fx)
	if got, want := strings.Join(keys(files), " "), "invoices/INV-2026-000001.csv invoices/INV-2026-000001.xlsx usage/acme/ai_credits.xlsx"; got != want {
		t.Fatalf("files %s, want %s", got, want)
	}
	checkGolden(t, "01-worked-example", fx.out)

	// Byte-stable: the same data renders to the same bytes; invoices do not depend on the clock.
	_, again := render(t, fx)
	for k, b := range files {
		if !bytes.Equal(b, again[k]) {
			t.Errorf("%s: a second render differs", k)
		}
	}
	// a later run whose clock says 20 January: January (final) is the current period
	janFiles := fx.at(t, time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC))
	for _, k := range []string{"invoices/INV-2026-000001.csv", "invoices/INV-2026-000001.xlsx"} {
		if !bytes.Equal(files[k], janFiles[k]) {
			t.Errorf("%s: depends on the run's clock", k)
		}
	}
	if core := zipEntry(t, files["usage/acme/ai_credits.xlsx"], "docProps/core.xml"); !strings.Contains(core, "2026-01-01T00:00:00Z") {
		t.Errorf("workbook core properties without the fixed time: %s", core)
	}
	if core := zipEntry(t, files["invoices/INV-2026-000001.xlsx"], "docProps/core.xml"); !strings.Contains(core, "2026-03-10T00:00:00Z") {
		t.Errorf("invoice core properties without the invoice date: %s", core)
	}

	// At NOW (10 March, no March usage yet) the open period's forecast: nothing burnt,
	// nothing runs out; History shows the projection of the open period only.
	for _, c := range []struct{ sheet, ref, raw string }{
		{"Plan", "A15", "Forecast"},
		{"Plan", "B15", "1 Mar 2026 – 31 Mar 2026 (to date)"},
		{"Plan", "B16", "0 of 31"},
		{"Plan", "B18", "0"},
		{"Plan", "B19", "not within the period"},
		{"Plan", "B20", "not within the period"},
		{"History", "M1", "Projected at period end"},
		{"History", "M3", ""},
		{"History", "M4", "0"},
	} {
		wantCell(t, open(t, files["usage/acme/ai_credits.xlsx"]), c.sheet, c.ref, c.raw)
	}

	// The tenant workbook, with January (the worked example's month) as the current period.
	wb := open(t, janFiles["usage/acme/ai_credits.xlsx"])
	if got := strings.Join(wb.GetSheetList(), "|"); got != "Plan|Current period|History|Chart|Events" {
		t.Fatalf("sheets %s", got)
	}
	for _, c := range []struct{ sheet, ref, raw, fmt string }{
		{"Plan", "A2", "Data as of 15 Jan 2026 15:30 CET (Europe/Rome), the latest usage counted", ""},
		{"Plan", "B3", "Acme Learning", ""},
		{"Plan", "B4", "acme", ""},
		{"Plan", "B5", "1 Jan 2026 – 31 Dec 2026", ""},
		{"Plan", "B8", "100", documentsFmtCredits},
		{"Plan", "B9", "Overage: exceeding credits are invoiced", ""},
		{"Plan", "B10", "0.05", `"EUR "#,##0.00####`},
		{"Plan", "B11", "150", documentsFmtCredits},
		{"Plan", "B12", "0", documentsFmtCredits},
		{"Plan", "B13", "1 Jan 2026 – 31 Jan 2026", ""}, // final: not "to date"
		// the forecast block: January is final, so nothing is projected
		{"Plan", "A15", "Forecast", ""},
		{"Plan", "A16", "Projected", ""},
		{"Plan", "B16", "none: the period is final", ""},
		{"Plan", "A19", "PO-1", ""},
		{"Plan", "C19", "1 Jan 2026 00:00 CET", ""},
		{"Plan", "A22", "video_minutes", ""},
		{"Plan", "B22", "included", ""},
		{"Plan", "C22", "2", ""},
		{"Plan", "D22", "2", ""},
		{"Plan", "E22", "0", ""},
		{"Current period", "B3", "1 Jan 2026 – 31 Jan 2026", ""},
		{"Current period", "B4", "Final", ""},
		{"Current period", "B5", "100", documentsFmtCredits},
		{"Current period", "B6", "100", documentsFmtCredits},
		{"Current period", "B8", "150", documentsFmtCredits},
		{"Current period", "B10", "25", documentsFmtCredits},
		{"Current period", "B12", "275", documentsFmtCredits},
		{"Current period", "B13", "1.1", "0.0%"},
		{"Current period", "B14", "90%, 100%", ""},
		{"Current period", "B15", "4", "#,##0"},
		{"History", "A1", "Period", ""},
		{"History", "A2", "1 Jan 2026 – 31 Jan 2026", ""},
		{"History", "B2", "46023", "d mmm yyyy"}, // 2026-01-01
		{"History", "C2", "46053", "d mmm yyyy"}, // 2026-01-31: the last day, inclusive
		{"History", "D2", "final", ""},
		{"History", "E2", "100", documentsFmtCredits},
		{"History", "F2", "100", documentsFmtCredits},
		{"History", "G2", "150", documentsFmtCredits},
		{"History", "I2", "25", documentsFmtCredits},
		{"History", "K2", "275", documentsFmtCredits},
		{"History", "L2", "4", "#,##0"},
		{"History", "D3", "final", ""},
		{"History", "K3", "0", documentsFmtCredits},
	} {
		wantCell(t, wb, c.sheet, c.ref, c.raw)
		if c.fmt != "" {
			wantFmt(t, wb, c.sheet, c.ref, c.fmt)
		}
	}
	if v, _ := cell(t, wb, "History", "C2"); v != "31 Jan 2026" {
		t.Errorf("History!C2 shows %q", v)
	}
	tables, err := wb.GetTables("History")
	if err != nil || len(tables) != 1 || tables[0].Range != "A1:M3" || tables[0].Name != "PeriodHistory" {
		t.Errorf("History table %+v, %v", tables, err)
	}
	panes, err := wb.GetPanes("History")
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("History panes %+v, %v", panes, err)
	}
	// stacked columns: plan, bank, exceeding, blocked; then the credits plan as a line and
	// the projected credits at the end of an open period as markers
	want := []string{
		"History!$F$1", "History!$A$2:$A$3", "History!$F$2:$F$3", "History!$G$1", "History!$A$2:$A$3", "History!$G$2:$G$3",
		"History!$I$1", "History!$A$2:$A$3", "History!$I$2:$I$3", "History!$J$1", "History!$A$2:$A$3", "History!$J$2:$J$3",
		"History!$E$1", "History!$A$2:$A$3", "History!$E$2:$E$3",
		"History!$M$1", "History!$A$2:$A$3", "History!$M$2:$M$3"}
	if got := chartRefs(t, janFiles["usage/acme/ai_credits.xlsx"]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chart series refs %v, want %v", got, want)
	}
	if chart := zipEntry(t, janFiles["usage/acme/ai_credits.xlsx"], "xl/charts/chart1.xml"); !strings.Contains(chart, `<grouping val="stacked">`) ||
		!strings.Contains(chart, "<barChart>") || !strings.Contains(chart, "<lineChart>") {
		t.Errorf("chart is not stacked columns with a line")
	}
	rows, err := wb.GetRows("Events", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 { // header + chat, 2 voice (one below the threshold, rated 0), video
		t.Errorf("events rows: %q", rows)
	}
	if rows[0][0] != "Date and time (Europe/Rome)" || rows[0][6] != "Credits charged" || rows[0][11] != "Allowance units" {
		t.Errorf("events header %q", rows[0])
	}
	var video []string
	for _, r := range rows[1:] {
		if r[1] == "ai_video_presenter" {
			video = r
		}
	}
	// charged = plan 35 + bank 150 + exceeding 25; 2 allowance minutes
	if video == nil || video[6] != "210" || video[7] != "35" || video[8] != "150" || video[9] != "25" || video[4] != "150" || video[5] != "second" || video[11] != "2" {
		t.Errorf("video event row %q", video)
	}
	for _, r := range rows {
		for _, v := range r {
			if strings.Contains(strings.ToLower(v), "username") {
				t.Errorf("personal data in the Events sheet: %q", r)
			}
		}
	}
	wantFmt(t, wb, "Events", "A2", "d mmm yyyy hh:mm:ss")
	wantFmt(t, wb, "Events", "G2", documentsFmtCredits)
	// the first event, 2026-01-12T08:00:00Z, at 09:00 in Rome
	if v, _ := cell(t, wb, "Events", "A2"); v != "12 Jan 2026 09:00:00" {
		t.Errorf("Events!A2 shows %q", v)
	}

	// The invoice workbook: a tax invoice with the terms, the customer, GST and the bank.
	inv := open(t, files["invoices/INV-2026-000001.xlsx"])
	if got := strings.Join(inv.GetSheetList(), "|"); got != "Invoice" {
		t.Fatalf("invoice sheets %s", got)
	}
	for _, c := range []struct{ ref, raw, fmt string }{
		{"A1", "Tax invoice", ""},
		{"A3", "Example Learning Pty Ltd", ""},
		{"A4", "1 Example St", ""},
		{"A5", "Sydney NSW 2000", ""},
		{"A6", "Tax ID: ABN 00 000 000 000", ""},
		{"F3", "INV-2026-000001", ""},
		{"F4", "46091", "d mmm yyyy"}, // issued 2026-03-10
		{"F5", "46105", "d mmm yyyy"}, // due 2026-03-24: net 14
		{"F6", "Net 14 days", ""},
		{"F7", "EUR", ""},
		{"F8", "PO-2026-0042", ""},
		{"A11", "Acme Learning S.r.l.", ""},
		{"A12", "Via Roma 1", ""},
		{"A15", "Tax ID: IT 01234567890", ""},
		{"A16", "Customer ID: acme", ""},
		{"A19", "1 Jan 2026 – 31 Jan 2026", ""},
		{"A22", "Exceeding AI credits", ""},
		{"C22", "46053", "d mmm yyyy"}, // to 2026-01-31, inclusive
		{"D22", "25", documentsFmtCredits},
		{"E22", "0.05", `"EUR "#,##0.00####`},
		{"F22", "1.25", `"EUR "#,##0.00`},
		{"E24", "Net amount", ""},
		{"F24", "1.25", `"EUR "#,##0.00`},
		{"E25", "GST 10%", ""},
		{"F25", "0.13", `"EUR "#,##0.00`}, // 0.125 half-up
		{"E26", "Total EUR", ""},
		{"F26", "1.38", `"EUR "#,##0.00`},
		{"A29", "Please pay EUR 1.38 by 24 Mar 2026.", ""},
		{"A30", "Bank: Example Bank", ""},
		{"A34", "Payment reference: INV-2026-000001", ""},
	} {
		wantCell(t, inv, "Invoice", c.ref, c.raw)
		if c.fmt != "" {
			wantFmt(t, inv, "Invoice", c.ref, c.fmt)
		}
	}
	if v, _ := cell(t, inv, "Invoice", "F26"); v != "EUR 1.38" {
		t.Errorf("total shows %q", v)
	}
	if v, _ := cell(t, inv, "Invoice", "F5"); v != "24 Mar 2026" {
		t.Errorf("due date shows %q", v)
	}
}

// financeTerms gives case 01 the finance fields of issue 12: an issuer with its bank, and
// acme invoiced to its legal name and address, with a tax id, a PO reference, GST at 10%
// and net 14 (25 credits at 0.05 is 1.25 EUR, the GST 0.125 rounds half-up to 0.13).
func financeTerms(cfg *schemas.Config) {
	cfg.Issuer = schemas.Issuer{Name: "Example Learning Pty Ltd", Address: "1 Example St\nSydney NSW 2000", TaxID: "ABN 00 000 000 000",
		Bank: schemas.BankAccount{BankName: "Example Bank", AccountName: "Example Learning Pty Ltd", AccountNumber: "12345678", BranchCode: "062-000"}}
	for i := range cfg.Tenants {
		if cfg.Tenants[i].ID == "acme" {
			cfg.Tenants[i].Customer = schemas.Customer{LegalName: "Acme Learning S.r.l.", Address: "Via Roma 1\n00184 Roma RM\nItaly",
				TaxID: "IT 01234567890", POReference: "PO-2026-0042"}
			cfg.Tenants[i].Tax = &schemas.Tax{Label: "GST", Rate: decimal.RequireFromString("0.10")}
			cfg.Tenants[i].PaymentTerms = schemas.PaymentTerms{Days: 14, Set: true}
		}
	}
}

// lateUsage makes beta-rome's late January events exceed (no plan, no bank), and invoices
// it under a reverse charge.
func lateUsage(cfg *schemas.Config) {
	for i := range cfg.Tenants {
		if cfg.Tenants[i].ID == "beta-rome" {
			cfg.Tenants[i].CreditsPlan = decimal.Zero
			cfg.Tenants[i].Bank = nil
			cfg.Tenants[i].Tax = &schemas.Tax{ReverseCharge: "Reverse charge: the customer accounts for the VAT (art. 196, Directive 2006/112/EC)."}
		}
	}
}

// TestLateUsageLines makes beta-rome's late January events exceed (no plan, no bank): its
// February invoice gets a line of their own.
func TestLateUsageLines(t *testing.T) {
	fx := prepare(t, "05-rate-card-versions-and-late-events", lateUsage)
	_, files := render(t, fx)
	checkGolden(t, "05-late-usage", fx.out)
	inv := open(t, files["invoices/INV-2026-000003.xlsx"])
	for _, c := range []struct{ ref, raw string }{
		{"A1", "Invoice"}, {"A14", "1 Feb 2026 – 28 Feb 2026"},
		{"A17", "Exceeding AI credits"}, {"D17", "39"}, {"F17", "1.56"},
		{"A18", "Late usage from 1 Jan 2026 – 31 Jan 2026"}, {"B18", "46023"}, {"C18", "46053"}, {"D18", "20"}, {"F18", "0.8"},
		{"E20", "Net amount"}, {"F20", "2.36"},
		{"E21", "Tax (reverse charge)"}, {"F21", "0"},
		{"E22", "Total EUR"}, {"F22", "2.36"},
		{"A24", "Reverse charge: the customer accounts for the VAT (art. 196, Directive 2006/112/EC)."},
	} {
		wantCell(t, inv, "Invoice", c.ref, c.raw)
	}
	// The lines add up to the register's quantity and amount here; in general the total is
	// the sum of per-line roundings and may differ from round(exceeding * price) by a cent.
	reg, err := os.ReadFile(filepath.Join(fx.out, "invoices", "register.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reg), "INV-2026-000003,beta-rome,2026-02-01,2026-03-01,EUR,59,0.04,2.36,2026-03-06,2026-04-05,Beta (Rome),0.00,2.36") {
		t.Errorf("register:\n%s", reg)
	}
	// The CSV keeps the period's end exclusive, as every machine CSV, and names the last day.
	rows := csvRows(t, files["invoices/INV-2026-000003.csv"])
	if late := rows[1]; late["description"] != "Late usage from 1 Jan 2026 – 31 Jan 2026" || late["line_period_end"] != "2026-02-01" ||
		late["line_period_last_day"] != "2026-01-31" || late["period_end"] != "2026-03-01" || late["period_last_day"] != "2026-02-28" ||
		late["tax_note"] == "" || late["tax_amount"] != "0.00" || late["total_amount"] != "2.36" {
		t.Errorf("late line %v", late)
	}

	// February as the current period: the late events are flagged in the Events sheet.
	febFiles := fx.at(t, time.Date(2026, 2, 21, 0, 0, 0, 0, time.UTC))
	wb := open(t, febFiles["usage/beta-rome/ai_credits.xlsx"])
	wantCell(t, wb, "Current period", "B3", "1 Feb 2026 – 28 Feb 2026") // final since the case's last run
	events, err := wb.GetRows("Events")
	if err != nil {
		t.Fatal(err)
	}
	late := 0
	for _, r := range events[1:] {
		if len(r) > 12 && r[12] == "late" {
			late++
			if !strings.Contains(r[0], " Jan 2026 ") {
				t.Errorf("late event not from January: %q", r)
			}
		}
	}
	if late != 2 {
		t.Errorf("%d late events in February's Events sheet, want 2", late)
	}
}

// TestHardStop: a block tenant's workbook says so and it has no invoices.
func TestHardStop(t *testing.T) {
	fx := prepare(t, "03-hard-stop-and-members", nil)
	_, files := render(t, fx)
	checkGolden(t, "03-hard-stop-and-members", fx.out)
	for _, tn := range fx.cfg.Tenants {
		b, ok := files[documents.WorkbookKey(tn.ID)]
		if !ok {
			t.Errorf("no workbook for %s", tn.ID)
			continue
		}
		if tn.Overage.Policy == schemas.PolicyBlock {
			wantCell(t, open(t, b), "Plan", "B9", "Hard stop: usage past the balance is blocked")
		}
	}
}

const documentsFmtCredits = `#,##0.00##`

// TestAfterPublish: a run publishes, beside the register, both documents of every invoice
// and a workbook for every tenant.
func TestAfterPublish(t *testing.T) {
	fx := prepare(t, "04-messy-input", nil)
	dir := fx.out
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		have[f] = true
	}
	reg, err := os.ReadFile(filepath.Join(dir, "invoices", "register.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(reg)), "\n")[1:]
	if len(lines) == 0 {
		t.Fatal("no invoices in case 04")
	}
	for _, l := range lines {
		n := strings.SplitN(l, ",", 2)[0]
		for _, ext := range []string{"csv", "xlsx"} {
			if !have[documents.InvoiceKey(n, ext)] {
				t.Errorf("%s: no %s document", n, ext)
			}
		}
	}
	for _, tn := range fx.cfg.Tenants {
		if !have[documents.WorkbookKey(tn.ID)] {
			t.Errorf("no workbook for %s", tn.ID)
		}
	}
	// Invoice CSV totals equal the register's amounts here (one line per invoice).
	for _, l := range lines {
		f := strings.Split(l, ",")
		b, err := os.ReadFile(filepath.Join(dir, "invoices", f[0]+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(string(b)), "\n")
		if got := strings.Split(rows[1], ",")[11]; !decimal.RequireFromString(got).Equal(decimal.RequireFromString(f[7])) {
			t.Errorf("%s: total %s, register amount %s", f[0], got, f[7])
		}
	}
}

// csvRows reads a CSV document into maps by column name.
func csvRows(t *testing.T, b []byte) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
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
