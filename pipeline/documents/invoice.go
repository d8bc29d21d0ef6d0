package documents

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// SheetInvoice is the one sheet of an invoice workbook.
const SheetInvoice = "Invoice"

// InvoiceCSVHeader is the header of invoices/{invoice_number}.csv: one row per invoice line.
// The first twelve columns are those the CSV had before the documents package (one line
// per invoice), the next six came with it; the rest were added at the end with the finance
// fields of issue 12 (FORMATS.md: adding columns at the end is allowed). Dates are
// YYYY-MM-DD; period_end and line_period_end are exclusive, as in every machine CSV, and
// period_last_day and line_period_last_day are the inclusive last days the invoice
// document shows. total is the net total (the sum of the lines: the register's amount);
// total_amount is net plus tax.
var InvoiceCSVHeader = []string{"number", "invoice_date", "tenant_id", "customer", "period_start",
	"period_end", "currency", "description", "quantity", "unit_price", "amount", "total",
	"line", "line_period_start", "line_period_end", "issuer_name", "issuer_address", "issuer_tax_id",
	"due_date", "payment_terms_days", "customer_address", "customer_tax_id", "po_reference",
	"net_amount", "tax_label", "tax_rate", "tax_amount", "total_amount", "tax_note", "issuer_bank",
	"period_last_day", "line_period_last_day"}

func writeInvoice(dir string, inv *invoice) error {
	key := func(ext string) string {
		if inv.Draft {
			return DraftKey(inv.TenantID, inv.PeriodStart, ext)
		}
		return InvoiceKey(inv.Number, ext)
	}
	if err := writeInvoiceCSV(filepath.Join(dir, filepath.FromSlash(key("csv"))), inv); err != nil {
		return err
	}
	return writeInvoiceXLSX(filepath.Join(dir, filepath.FromSlash(key("xlsx"))), inv)
}

func writeInvoiceCSV(path string, inv *invoice) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(InvoiceCSVHeader); err != nil {
		return err
	}
	// multi-line text (addresses, the bank details) on one line: CSV readers split records
	// on line ends more often than they honour quotes
	bank := strings.Join(lines(inv.IssuerBank), "; ")
	issuerAddress, customerAddress := strings.Join(lines(inv.IssuerAddress), ", "), strings.Join(lines(inv.CustomerAddress), ", ")
	for _, l := range inv.Lines {
		rec := []string{inv.Number, inv.Date, Cell(inv.TenantID), Cell(inv.Customer), inv.PeriodStart, inv.PeriodEnd,
			Cell(inv.Currency), Cell(l.Description), l.Quantity, l.UnitPrice, l.Amount, inv.Net,
			strconv.FormatInt(l.No, 10), l.PeriodStart, l.PeriodEnd, Cell(inv.IssuerName), Cell(issuerAddress), Cell(inv.IssuerTaxID),
			inv.DueDate, strconv.Itoa(inv.PaymentDays), Cell(customerAddress), Cell(inv.CustomerTaxID), Cell(inv.POReference),
			inv.Net, Cell(inv.TaxLabel), inv.TaxRate, inv.Tax, inv.Total, Cell(inv.TaxNote), Cell(bank),
			lastDay(inv.PeriodEnd), lastDay(l.PeriodEnd)}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// Cell neutralises a text cell of a CSV output: a text that a spreadsheet would read as a
// formula (it starts with =, +, -, @, a tab or a carriage return) gets a leading quote
// (FORMATS.md, "Text cells and personal data"). Numbers are written as numbers, never through
// Cell. The SQL outputs do the same with the macro cell (config_tables.sql).
func Cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// lines splits configured multi-line text (an address, the bank details) into its
// non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// percent writes a rate as a percentage without trailing zeros: 0.1 is "10%", 0.0825 "8.25%".
func percent(rate string) string {
	d, err := decimal.NewFromString(rate)
	if err != nil {
		return rate
	}
	return d.Shift(2).String() + "%"
}

// grouped writes a money amount (exact text, 2 places) with thousands separators, as the
// cells show it: 4266.32 is "4,266.32".
func grouped(amount string) string {
	whole, frac, _ := strings.Cut(amount, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	s := b.String()
	if frac != "" {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

// paymentTerms words a payment term.
func paymentTerms(days int) string {
	if days == 0 {
		return "Due on receipt"
	}
	return fmt.Sprintf("Net %d days", days)
}

// taxCharged reports whether the invoice charges a tax (a label and a rate above 0).
func (inv *invoice) taxCharged() bool {
	r, err := decimal.NewFromString(inv.TaxRate)
	return err == nil && inv.TaxLabel != "" && r.IsPositive()
}

// taxLine is the label of the invoice's tax line.
func (inv *invoice) taxLine() string {
	switch {
	case inv.TaxNote != "":
		return "Tax (reverse charge)"
	case inv.TaxLabel != "":
		return inv.TaxLabel + " " + percent(inv.TaxRate)
	}
	return "Tax (none charged)"
}

// Layout of the invoice sheet: six columns, printable on one A4 page (portrait).
const invoiceCols = "F"

func writeInvoiceXLSX(path string, inv *invoice) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetInvoice); err != nil {
		return err
	}
	st := newStyles(f)
	w := &sheetWriter{f: f, sheet: SheetInvoice}
	bold := st.get("", true)
	money := st.get(fmtMoney(inv.Currency), false)
	moneyBold := st.get(fmtMoney(inv.Currency), true)
	price := st.get(fmtPrice(inv.Currency), false)
	credits := st.get(fmtCredits, false)
	day := st.get(fmtDay, false)
	label := st.aligned("", true, "right")

	title := "Invoice"
	if inv.taxCharged() {
		title = "Tax invoice" // what GST and VAT rules call an invoice that charges the tax
	}
	if inv.Draft {
		title = "DRAFT " + strings.ToLower(title) + ": not issued, not payable"
	}
	w.set("A", 1, title, st.title())

	// Issuer block (configuration issuer:, as captured at issue), left.
	left := 3
	if inv.IssuerName != "" {
		w.set("A", left, inv.IssuerName, bold)
		left++
	}
	for _, l := range lines(inv.IssuerAddress) {
		w.set("A", left, l, 0)
		left++
	}
	if inv.IssuerTaxID != "" {
		w.set("A", left, "Tax ID: "+inv.IssuerTaxID, 0)
		left++
	}
	// Invoice block, right: labels in E, values in F.
	var issued, due any = "not issued", "on issue"
	if !inv.Draft {
		var err error
		if issued, err = date(inv.Date); err != nil {
			return err
		}
		if due, err = date(inv.DueDate); err != nil {
			return err
		}
	}
	right := 3
	kv := func(k string, v any, style int) {
		w.set("E", right, k, label)
		w.set("F", right, v, style)
		right++
	}
	value, valueBold := st.value("", false), st.value("", true)
	if inv.Draft {
		kv("Invoice number", "DRAFT: numbered when issued", valueBold)
		kv("Issue date", issued, value)
		kv("Due date", due, valueBold)
	} else {
		kv("Invoice number", inv.Number, valueBold)
		kv("Issue date", issued, st.value(fmtDay, false))
		kv("Due date", due, st.value(fmtDay, true))
	}
	kv("Payment terms", paymentTerms(inv.PaymentDays), value)
	kv("Currency", inv.Currency, value)
	if inv.POReference != "" {
		kv("PO reference", inv.POReference, value)
	}

	// Customer block, as captured at issue.
	r := max(left, right) + 1
	w.set("A", r, "Bill to", bold)
	r++
	w.set("A", r, inv.Customer, bold)
	r++
	for _, l := range lines(inv.CustomerAddress) {
		w.set("A", r, l, 0)
		r++
	}
	if inv.CustomerTaxID != "" {
		w.set("A", r, "Tax ID: "+inv.CustomerTaxID, 0)
		r++
	}
	w.set("A", r, "Customer ID: "+inv.TenantID, 0)
	r += 2
	w.set("A", r, "Billing period", bold)
	w.set("A", r+1, periodText(inv.PeriodStart, inv.PeriodEnd), 0)
	r += 3

	// The lines.
	hdr := st.header()
	for i, h := range []string{"Description", "From", "To", "Quantity (credits)", "Unit price", "Amount"} {
		hs := hdr
		if i > 0 {
			hs = st.headerRight()
		}
		w.set(colName(i), r, h, hs)
	}
	if err := f.SetRowHeight(SheetInvoice, r, 30); err != nil {
		return err
	}
	for _, l := range inv.Lines {
		r++
		w.set("A", r, l.Description, st.wrap())
		from, err := date(l.PeriodStart)
		if err != nil {
			return err
		}
		to, err := date(lastDay(l.PeriodEnd))
		if err != nil {
			return err
		}
		w.set("B", r, from, day)
		w.set("C", r, to, day)
		w.setDec("D", r, l.Quantity, credits)
		w.setDec("E", r, l.UnitPrice, price)
		w.setDec("F", r, l.Amount, money)
		if len(l.Description) > 40 { // wraps to two lines in column A's width
			if err := f.SetRowHeight(SheetInvoice, r, 30); err != nil {
				return err
			}
		}
	}

	// Net, tax and total, each rounded to the cent once (finalize.sql).
	r += 2
	w.set("E", r, "Net amount", label)
	w.setDec("F", r, inv.Net, money)
	r++
	w.set("E", r, inv.taxLine(), label)
	w.setDec("F", r, inv.Tax, money)
	r++
	w.set("E", r, "Total "+inv.Currency, label)
	w.setDec("F", r, inv.Total, moneyBold)
	if err := f.SetCellStyle(SheetInvoice, fmt.Sprintf("E%d", r), fmt.Sprintf("E%d", r), st.total("")); err != nil {
		return err
	}
	if err := f.SetCellStyle(SheetInvoice, fmt.Sprintf("F%d", r), fmt.Sprintf("F%d", r), st.total(fmtMoney(inv.Currency))); err != nil {
		return err
	}
	if inv.TaxNote != "" {
		r += 2
		if err := w.note(r, inv.TaxNote, st.wrap()); err != nil {
			return err
		}
	}

	// How to pay.
	r += 2
	w.set("A", r, "Payment", bold)
	r++
	if inv.Draft {
		w.set("A", r, "Not payable: a draft of what the period would be invoiced if it closed now, from the usage counted so far.", 0)
		r++
		w.set("A", r, "The invoice is issued, with its number and due date, once the period is final.", 0)
		r += 2
	} else {
		w.set("A", r, fmt.Sprintf("Please pay %s %s by %s.", inv.Currency, grouped(inv.Total), humanDate(inv.DueDate)), 0)
		r++
		for _, l := range lines(inv.IssuerBank) {
			w.set("A", r, l, 0)
			r++
		}
		w.set("A", r, "Payment reference: "+inv.Number, 0)
		r += 2
	}
	if err := w.note(r, "Exceeding AI credits: usage past the credits plan and the credits bank in the period, at the agreed price per credit. "+
		"Each line's amount is rounded half-up to the cent; the net amount is the sum of the lines; the tax is the net amount at the rate, rounded half-up to the cent.", st.wrap()); err != nil {
		return err
	}
	if w.err != nil {
		return w.err
	}
	if st.err != nil {
		return st.err
	}
	for _, c := range []struct {
		col string
		w   float64
	}{{"A", 40}, {"B", 12}, {"C", 12}, {"D", 18}, {"E", 20}, {"F", 18}} {
		if err := f.SetColWidth(SheetInvoice, c.col, c.col, c.w); err != nil {
			return err
		}
	}
	if err := printSetup(f, SheetInvoice, "portrait", false); err != nil {
		return err
	}
	if err := f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Area", Scope: SheetInvoice,
		RefersTo: fmt.Sprintf("'%s'!$A$1:$%s$%d", SheetInvoice, invoiceCols, r)}); err != nil {
		return err
	}
	if inv.Draft { // no clock in a draft: rendered again, the same figures give the same bytes
		return saveDraft(f, path, inv)
	}
	// The invoice's own date: re-publishing an issued invoice gives the same bytes.
	if err := setProps(f, "Invoice "+inv.Number, fmt.Sprintf("Invoice %s to %s", inv.Number, inv.Customer), inv.Date+"T00:00:00Z"); err != nil {
		return err
	}
	return save(f, path)
}

// saveDraft sets a draft invoice's properties (a fixed time, as the tenant workbooks) and
// saves it.
func saveDraft(f *excelize.File, path string, inv *invoice) error {
	what := fmt.Sprintf("Draft invoice to %s for %s", inv.Customer, periodText(inv.PeriodStart, inv.PeriodEnd))
	if err := setProps(f, "DRAFT invoice "+inv.TenantID+" "+inv.PeriodStart, what, docTime); err != nil {
		return err
	}
	return save(f, path)
}
