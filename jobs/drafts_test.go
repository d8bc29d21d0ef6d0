package jobs_test

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDraftInvoices (issue 11): Given January's usage past the plan (policy bill), when runs
// read it while January is open, then invoices/drafts/acme_2026-01-01.csv and .xlsx show
// what it would be invoiced, marked DRAFT, without a number or dates; they are replaced
// when the usage changes and left alone by a run with nothing new; and once January is
// final and its invoice issued, the drafts are removed from the output and from the output
// index.
func TestDraftInvoices(t *testing.T) {
	w := newWorld(t, config("", tenantYAML("acme", "name", "Acme Learning")))
	var evs []string
	for i := range 11 { // 110 credits: 10 past the plan of 100
		evs = append(evs, ev("e"+itoa(int64(i)), "occurred_at", "2026-01-10T10:00:00Z"))
	}
	w.put("a.jsonl", lines(evs...))
	w.run("2026-01-20T00:00:00Z")
	csvKey, xlsxKey := "invoices/drafts/acme_2026-01-01.csv", "invoices/drafts/acme_2026-01-01.xlsx"
	rows := w.csvRows(csvKey)
	if len(rows) != 1 {
		t.Fatalf("draft lines %v", rows)
	}
	checkRow(t, "draft", rows[0], map[string]string{"number": "DRAFT", "invoice_date": "", "due_date": "",
		"tenant_id": "acme", "period_start": "2026-01-01", "period_end": "2026-02-01", "quantity": "10",
		"unit_price": "0.05", "amount": "0.50", "net_amount": "0.50", "total_amount": "0.50"})
	xlsx := filepath.Join(w.out, filepath.FromSlash(xlsxKey))
	if !strings.Contains(zipText(t, xlsx), "DRAFT") {
		t.Error("the draft workbook does not say DRAFT")
	}
	if got := len(w.invoices()); got != 0 {
		t.Errorf("register with %d invoices while January is open", got)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(w.out, "runs", "outputs.csv"))), csvKey) {
		t.Error("the output index does not list the draft")
	}

	// nothing new: the draft is not rewritten
	st := func() os.FileInfo {
		fi, err := os.Stat(filepath.Join(w.out, filepath.FromSlash(csvKey)))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	before := st()
	w.run("2026-01-21T00:00:00Z")
	if !st().ModTime().Equal(before.ModTime()) {
		t.Error("a run with nothing new rewrote the draft")
	}

	// more usage: the draft is replaced
	w.put("b.jsonl", lines(ev("e20", "occurred_at", "2026-01-21T10:00:00Z")))
	w.run("2026-01-22T00:00:00Z")
	checkRow(t, "draft replaced", w.csvRows(csvKey)[0], map[string]string{"quantity": "20", "net_amount": "1.00"})

	// January final: its invoice is issued, its drafts removed (from the store and the index)
	w.run("2026-02-05T00:00:00Z")
	reg := w.invoices()
	if len(reg) != 1 || reg[0]["amount"] != "1.00" {
		t.Fatalf("register %v", reg)
	}
	for _, k := range []string{csvKey, xlsxKey} {
		if _, err := os.Stat(filepath.Join(w.out, filepath.FromSlash(k))); !os.IsNotExist(err) {
			t.Errorf("%s still published after the invoice was issued (%v)", k, err)
		}
	}
	if strings.Contains(string(mustRead(t, filepath.Join(w.out, "runs", "outputs.csv"))), "invoices/drafts/") {
		t.Error("the output index still lists a draft")
	}
	removed := false
	for _, o := range w.last.Outputs {
		if o.Key == csvKey && o.SHA256 == "" {
			removed = true
		}
	}
	if !removed {
		t.Errorf("the manifest does not list the draft's removal: %v", w.last.Outputs)
	}
	// and a later run with nothing new neither brings them back nor fails
	m := w.run("2026-02-06T00:00:00Z")
	check(t, "outputs of a no-op run", len(m.Outputs), 0)
}

// zipText is the text of every entry of a zip file (an xlsx workbook), joined.
func zipText(t *testing.T, p string) string {
	t.Helper()
	r, err := zip.OpenReader(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b strings.Builder
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}
