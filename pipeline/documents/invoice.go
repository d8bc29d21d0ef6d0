package documents

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/creditmeter/creditmeter/schemas"
)

// SheetInvoice is the one sheet of an invoice workbook.
const SheetInvoice = "Invoice"

// InvoiceCSVHeader is the header of invoices/{invoice_number}.csv: one row per invoice line.
// The first twelve columns are those the CSV had before the documents package (one line
// per invoice); the rest were added at the end (FORMATS.md: adding columns at the end is
// allowed).
var InvoiceCSVHeader = []string{"number", "invoice_date", "tenant_id", "customer", "period_start",
	"period_end", "currency", "description", "quantity", "unit_price", "amount", "total",
	"line", "line_period_start", "line_period_end", "issuer_name", "issuer_address", "issuer_tax_id"}

// invoiceTableRow is the header row of the lines table in the invoice workbook.
const invoiceTableRow = 13

func writeInvoice(dir string, issuer schemas.Issuer, inv *invoice) error {
	if err := writeInvoiceCSV(filepath.Join(dir, filepath.FromSlash(InvoiceKey(inv.Number, "csv"))), issuer, inv); err != nil {
		return err
	}
	return writeInvoiceXLSX(filepath.Join(dir, filepath.FromSlash(InvoiceKey(inv.Number, "xlsx"))), issuer, inv)
}

func writeInvoiceCSV(path string, issuer schemas.Issuer, inv *invoice) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(InvoiceCSVHeader); err != nil {
		return err
	}
	for _, l := range inv.Lines {
		rec := []string{inv.Number, inv.Date, Cell(inv.TenantID), Cell(inv.Customer), inv.PeriodStart, inv.PeriodEnd,
			Cell(inv.Currency), Cell(l.Description), l.Quantity, l.UnitPrice, l.Amount, inv.Total,
			strconv.FormatInt(l.No, 10), l.PeriodStart, l.PeriodEnd, Cell(issuer.Name), Cell(issuer.Address), Cell(issuer.TaxID)}
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

func writeInvoiceXLSX(path string, issuer schemas.Issuer, inv *invoice) error {
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
	dateSt := st.get(fmtDate, false)

	w.set("A", 1, "Invoice", st.title())
	// Issuer block (configuration issuer:), left.
	w.set("A", 3, issuer.Name, bold)
	w.set("A", 4, issuer.Address, 0)
	if issuer.TaxID != "" {
		w.set("A", 5, "Tax ID: "+issuer.TaxID, 0)
	}
	// Invoice block, right.
	invDate, err := date(inv.Date)
	if err != nil {
		return err
	}
	w.set("E", 3, "Invoice number", bold)
	w.set("F", 3, inv.Number, bold)
	w.set("E", 4, "Invoice date", bold)
	w.set("F", 4, invDate, st.left(fmtDate))
	w.set("E", 5, "Currency", bold)
	w.set("F", 5, inv.Currency, 0)
	// Customer block.
	w.set("A", 7, "Bill to", bold)
	w.set("A", 8, inv.Customer, 0)
	w.set("A", 9, "Customer ID: "+inv.TenantID, 0)
	w.set("A", 11, "Billing period", bold)
	w.set("B", 11, inv.PeriodStart+" to "+lastDay(inv.PeriodEnd), 0)

	hdr := st.header()
	for i, h := range []string{"Description", "From", "To", "Quantity (credits)", "Unit price", "Amount"} {
		hs := hdr
		if i > 0 {
			hs = st.headerRight()
		}
		w.set(colName(i), invoiceTableRow, h, hs)
	}
	r := invoiceTableRow
	for _, l := range inv.Lines {
		r++
		w.set("A", r, l.Description, 0)
		from, err := date(l.PeriodStart)
		if err != nil {
			return err
		}
		to, err := date(lastDay(l.PeriodEnd))
		if err != nil {
			return err
		}
		w.set("B", r, from, dateSt)
		w.set("C", r, to, dateSt)
		w.setDec("D", r, l.Quantity, credits)
		w.setDec("E", r, l.UnitPrice, price)
		w.setDec("F", r, l.Amount, money)
	}
	r += 2
	w.set("E", r, "Total "+inv.Currency, bold)
	w.setDec("F", r, inv.Total, moneyBold)
	r += 2
	w.set("A", r, "Exceeding AI credits: usage past the credits plan and the credits bank in the period, at the agreed price per credit.", 0)
	w.set("A", r+1, "Each line's amount is rounded half-up to the cent; the total is the sum of the lines.", 0)
	if w.err != nil {
		return w.err
	}
	if st.err != nil {
		return st.err
	}
	for _, c := range []struct {
		col string
		w   float64
	}{{"A", 40}, {"B", 12}, {"C", 12}, {"D", 18}, {"E", 16}, {"F", 18}} {
		if err := f.SetColWidth(SheetInvoice, c.col, c.col, c.w); err != nil {
			return err
		}
	}
	if err := printSetup(f, SheetInvoice, "portrait", false); err != nil {
		return err
	}
	// The invoice's own date: re-publishing an issued invoice gives the same bytes.
	if err := setProps(f, "Invoice "+inv.Number, fmt.Sprintf("Invoice %s to %s", inv.Number, inv.Customer), inv.Date+"T00:00:00Z"); err != nil {
		return err
	}
	return save(f, path)
}
