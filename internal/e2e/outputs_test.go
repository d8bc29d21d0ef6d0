package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fileState is an output file as a run left it.
type fileState struct {
	Size    int64
	SHA256  string
	ModTime time.Time
}

// snapshotTree lists every file under root by slash-separated key.
func snapshotTree(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = fileState{Size: info.Size(), SHA256: hex.EncodeToString(sum[:]), ModTime: info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	return out
}

// keyFilter selects the outputs a comparison covers.
type keyFilter func(key string) bool

// crashCompared is every output of a run but the run manifests (named and timed per run),
// the lock and the analysts' DuckDB file (whose layout may differ from one build to the
// next; its tables are also in analytics/parquet/, which is compared).
func crashCompared(key string) bool {
	return !strings.HasPrefix(key, "runs/") && !strings.HasPrefix(key, "locks/") && key != "analytics/warehouse.duckdb" &&
		!isQuarantineFile(key)
}

// isQuarantineFile matches quarantine/{run_id}.jsonl and its restricted twin: named after the
// run that first listed the lines, so a run that died leaves its lines to the next run's
// file. compareQuarantine compares their lines instead.
func isQuarantineFile(key string) bool {
	return strings.HasPrefix(key, "quarantine/") || strings.HasPrefix(key, "restricted/quarantine/")
}

// compareQuarantine checks that got's quarantine files list the same lines as ref's, each
// once, whatever files they are in.
func compareQuarantine(t *testing.T, what, ref, got string) {
	t.Helper()
	for _, dir := range []string{"quarantine", "restricted/quarantine"} {
		lines := func(root string) map[string]int {
			out := map[string]int{}
			ents, _ := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(dir), e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					if l != "" {
						out[l]++
					}
				}
			}
			return out
		}
		r, g := lines(ref), lines(got)
		for l, n := range r {
			if g[l] != n {
				t.Errorf("%s: %s line listed %d time(s), the reference %d: %s", what, dir, g[l], n, l)
			}
		}
		for l, n := range g {
			if _, ok := r[l]; !ok {
				t.Errorf("%s: %s line listed %d time(s), not in the reference: %s", what, dir, n, l)
			}
		}
	}
}

// isInvoiceDocument matches invoices/{number}.csv and .xlsx (not the register).
var invoiceDocument = regexp.MustCompile(`^invoices/(INV-\d{4}-\d{6})\.(csv|xlsx)$`)

// compareOutputs checks that got holds the same selected files as ref, byte for byte. A
// file may be compared another way by custom (true: handled). It returns the number of
// files compared.
func compareOutputs(t *testing.T, what, ref, got string, keep keyFilter, custom func(key, refPath, gotPath string) bool) int {
	t.Helper()
	rs, gs := snapshotTree(t, ref), snapshotTree(t, got)
	var keys []string
	for k := range rs {
		if keep(k) {
			keys = append(keys, k)
		}
	}
	for k := range gs {
		if keep(k) {
			if _, ok := rs[k]; !ok {
				t.Errorf("%s: %s is in the output but not in the reference (%s)", what, k, ref)
			}
		}
	}
	slices.Sort(keys)
	n := 0
	for _, k := range keys {
		g, ok := gs[k]
		if !ok {
			t.Errorf("%s: %s is missing from the output %s (the reference %s has it)", what, k, got, ref)
			continue
		}
		n++
		rp, gp := filepath.Join(ref, filepath.FromSlash(k)), filepath.Join(got, filepath.FromSlash(k))
		if custom != nil && custom(k, rp, gp) {
			continue
		}
		if g.SHA256 != rs[k].SHA256 {
			t.Errorf("%s: %s differs from the reference:\n%s", what, k, describeDiff(rp, gp))
		}
	}
	if n == 0 {
		t.Errorf("%s: nothing compared: the reference %s holds none of the selected outputs", what, ref)
	}
	return n
}

// describeDiff says where two files first differ: the line for text, the size otherwise.
func describeDiff(refPath, gotPath string) string {
	a, errA := os.ReadFile(refPath)
	b, errB := os.ReadFile(gotPath)
	if errA != nil || errB != nil {
		return fmt.Sprintf("  read: %v / %v", errA, errB)
	}
	if ext := path.Ext(refPath); ext != ".csv" && ext != ".jsonl" {
		return fmt.Sprintf("  reference %s (%d bytes)\n  got       %s (%d bytes)", refPath, len(a), gotPath, len(b))
	}
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(la), len(lb)); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("  first difference at line %d (of %d / %d):\n  reference: %q\n  got:       %q\n  files: %s %s",
				i+1, len(la), len(lb), x, y, refPath, gotPath)
		}
	}
	return "  (same lines, different bytes)"
}

// readCSV reads a whole CSV output; the first record is the header.
func readCSV(t *testing.T, p string) [][]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s is empty (no header)", p)
	}
	return recs
}

// csvRows returns the records of a CSV output as maps by header name.
func csvRows(t *testing.T, p string) []map[string]string {
	t.Helper()
	recs := readCSV(t, p)
	var out []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		out = append(out, m)
	}
	return out
}

// registerInvoice is a row of invoices/register.csv.
type registerInvoice struct {
	Number, Tenant, PeriodStart, PeriodEnd string
	Year, Seq                              int
}

var invoiceNumber = regexp.MustCompile(`^INV-(\d{4})-(\d{6})$`)

// checkInvoices checks the register of an output (BILLING.md section 7): numbers
// INV-YYYY-NNNNNN gap-free from 000001 per year, YYYY the year of the period's last day, no
// number twice, one CSV and one XLSX document per invoice and none without a register row.
func checkInvoices(t *testing.T, what, out string) []registerInvoice {
	t.Helper()
	var invs []registerInvoice
	seqs := map[int][]int{}
	for _, row := range csvRows(t, filepath.Join(out, "invoices", "register.csv")) {
		num := row["invoice_number"]
		m := invoiceNumber.FindStringSubmatch(num)
		if m == nil {
			t.Errorf("%s: register: invoice number %q is not INV-YYYY-NNNNNN", what, num)
			continue
		}
		year, _ := strconv.Atoi(m[1])
		seq, _ := strconv.Atoi(m[2])
		inv := registerInvoice{Number: num, Tenant: row["tenant_id"], PeriodStart: row["period_start"], PeriodEnd: row["period_end"], Year: year, Seq: seq}
		if end, err := time.Parse(time.DateOnly, inv.PeriodEnd); err != nil {
			t.Errorf("%s: register: %s: period_end %q: %v", what, num, inv.PeriodEnd, err)
		} else if y := end.AddDate(0, 0, -1).Year(); y != year {
			t.Errorf("%s: register: %s: the period's last day is in %d, the number says %d", what, num, y, year)
		}
		seqs[year] = append(seqs[year], seq)
		invs = append(invs, inv)
		for _, ext := range []string{".csv", ".xlsx"} {
			if _, err := os.Stat(filepath.Join(out, "invoices", num+ext)); err != nil {
				t.Errorf("%s: invoice %s is in the register but invoices/%s%s is missing: %v", what, num, num, ext, err)
			}
		}
	}
	for year, s := range seqs {
		slices.Sort(s)
		for i, n := range s {
			if n != i+1 {
				t.Errorf("%s: invoice numbers of %d are not gap-free from 000001: %v", what, year, s)
				break
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join(out, "invoices"))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	listed := map[string]bool{}
	for _, inv := range invs {
		listed[inv.Number] = true
	}
	for _, e := range entries {
		if m := invoiceDocument.FindStringSubmatch("invoices/" + e.Name()); m != nil && !listed[m[1]] {
			t.Errorf("%s: invoices/%s has no row in the register", what, e.Name())
		}
	}
	return invs
}

// zipParts reads the parts of an XLSX package in their stored order.
func zipParts(p string) ([]string, map[string][]byte, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, nil, err
	}
	defer zr.Close()
	var names []string
	parts := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		names = append(names, f.Name)
		parts[f.Name] = data
	}
	return names, parts, nil
}

// excelSerial is a date as an Excel serial day number (1900 date system).
func excelSerial(day time.Time) int {
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	return int(day.Sub(epoch).Hours() / 24)
}

// maskIssueDate replaces an invoice's issue date, and its due date (the issue date plus
// the payment terms: it moves with it), in the text of a document: the ISO date (CSV,
// document properties), its Excel serial number as a cell value, and the date as the
// invoice writes it for people ("10 Mar 2026"). A zero due date is left alone.
func maskIssueDate(data []byte, issued, due time.Time) []byte {
	for _, d := range []struct {
		day  time.Time
		mask string
	}{{issued, "ISSUE-DATE"}, {due, "DUE-DATE"}} {
		if d.day.IsZero() {
			continue
		}
		data = bytes.ReplaceAll(data, []byte(d.day.Format(time.DateOnly)), []byte(d.mask))
		data = bytes.ReplaceAll(data, []byte(fmt.Sprintf("<v>%d</v>", excelSerial(d.day))), []byte("<v>"+d.mask+"</v>"))
		data = bytes.ReplaceAll(data, []byte(d.day.Format("2 Jan 2006")), []byte(d.mask))
	}
	return data
}

// dueDate reads an invoice's due date from its CSV document (the sibling of an XLSX one);
// zero when it has none (an invoice from before due dates).
func dueDate(docPath string) time.Time {
	b, err := os.ReadFile(strings.TrimSuffix(docPath, filepath.Ext(docPath)) + ".csv")
	if err != nil {
		return time.Time{}
	}
	recs := csvRecordsOf(b)
	if len(recs) < 2 {
		return time.Time{}
	}
	for i, h := range recs[0] {
		if h == "due_date" && i < len(recs[1]) {
			d, _ := time.Parse(time.DateOnly, recs[1][i])
			return d
		}
	}
	return time.Time{}
}

// sameRegisterButIssueDates compares two invoice registers whose invoices were issued on
// different days: equal once the issue_date and due_date of the invoices issued earlier
// (issued: their day, by number) are masked, each being the day of the run that issued it
// and its due date as many days after it as the reference's.
func sameRegisterButIssueDates(refPath, gotPath string, refIssued time.Time, issued map[string]time.Time) []string {
	a, errA := os.ReadFile(refPath)
	b, errB := os.ReadFile(gotPath)
	if errA != nil || errB != nil {
		return []string{fmt.Sprintf("read: %v / %v", errA, errB)}
	}
	ra, rb := csvRecordsOf(a), csvRecordsOf(b)
	if len(ra) != len(rb) || !slices.Equal(ra[0], rb[0]) {
		return []string{"the registers differ in rows or columns:\n" + describeDiff(refPath, gotPath)}
	}
	col := map[string]int{}
	for i, h := range ra[0] {
		col[h] = i
	}
	iIss, okIss := col["issue_date"]
	iDue, okDue := col["due_date"]
	var problems []string
	for r := 1; r < len(ra); r++ {
		x, y := slices.Clone(ra[r]), slices.Clone(rb[r])
		if day, ok := issued[x[0]]; ok && okIss && okDue && !day.Equal(refIssued) && len(x) == len(y) {
			refIss, _ := time.Parse(time.DateOnly, x[iIss])
			refDue, _ := time.Parse(time.DateOnly, x[iDue])
			if y[iIss] != day.Format(time.DateOnly) {
				problems = append(problems, fmt.Sprintf("%s: issue_date %s, want %s (the day of the run that issued it)", x[0], y[iIss], day.Format(time.DateOnly)))
			}
			if want := day.Add(refDue.Sub(refIss)).Format(time.DateOnly); y[iDue] != want {
				problems = append(problems, fmt.Sprintf("%s: due_date %s, want %s", x[0], y[iDue], want))
			}
			x[iIss], x[iDue], y[iIss], y[iDue] = "", "", "", ""
		}
		if !slices.Equal(x, y) {
			problems = append(problems, fmt.Sprintf("row %d differs beyond the issue dates: %v / %v", r, ra[r], rb[r]))
		}
	}
	return problems
}

// sameInvoiceButIssueDate compares two renderings of one invoice that were issued on
// different days (BILLING.md section 7: an invoice is rendered when a run finalizes its
// period, dated that run's day): equal once each side's issue date is masked, the CSV's
// invoice_date column being the expected day. It reports the differences.
func sameInvoiceButIssueDate(refPath, gotPath string, refIssued, gotIssued time.Time) []string {
	var problems []string
	refDue, gotDue := dueDate(refPath), dueDate(gotPath)
	if !refDue.IsZero() && !gotDue.Equal(gotIssued.Add(refDue.Sub(refIssued))) {
		problems = append(problems, fmt.Sprintf("due date %s, want %s (as many days after the issue date as the reference's)",
			gotDue.Format(time.DateOnly), gotIssued.Add(refDue.Sub(refIssued)).Format(time.DateOnly)))
	}
	if strings.HasSuffix(refPath, ".csv") {
		a, errA := os.ReadFile(refPath)
		b, errB := os.ReadFile(gotPath)
		if errA != nil || errB != nil {
			return []string{fmt.Sprintf("read: %v / %v", errA, errB)}
		}
		for _, rec := range csvRecordsOf(b)[1:] {
			if len(rec) > 1 && rec[1] != gotIssued.Format(time.DateOnly) {
				problems = append(problems, fmt.Sprintf("invoice_date is %s, want %s (the day of the run that finalized the period)", rec[1], gotIssued.Format(time.DateOnly)))
				break
			}
		}
		if !bytes.Equal(maskIssueDate(a, refIssued, refDue), maskIssueDate(b, gotIssued, gotDue)) {
			problems = append(problems, "differs beyond the issue date:\n"+describeDiff(refPath, gotPath))
		}
		return problems
	}
	an, ap, err := zipParts(refPath)
	if err != nil {
		return []string{fmt.Sprintf("read %s: %v", refPath, err)}
	}
	bn, bp, err := zipParts(gotPath)
	if err != nil {
		return []string{fmt.Sprintf("read %s: %v", gotPath, err)}
	}
	if !slices.Equal(an, bn) {
		return []string{fmt.Sprintf("package parts differ: %v / %v", an, bn)}
	}
	for _, name := range an {
		if !bytes.Equal(maskIssueDate(ap[name], refIssued, refDue), maskIssueDate(bp[name], gotIssued, gotDue)) {
			problems = append(problems, fmt.Sprintf("part %s differs beyond the issue date", name))
		}
	}
	if !bytes.Contains(bp["docProps/core.xml"], []byte(gotIssued.Format(time.DateOnly))) {
		problems = append(problems, fmt.Sprintf("docProps/core.xml does not carry the issue date %s", gotIssued.Format(time.DateOnly)))
	}
	return problems
}

func csvRecordsOf(data []byte) [][]string {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) == 0 {
		return [][]string{nil}
	}
	return recs
}

// periodRow is a row of ledger/period_usage.csv.
type periodRow struct {
	Tenant, Start, End, Status string
}

func readPeriods(t *testing.T, out string) []periodRow {
	t.Helper()
	var rows []periodRow
	for _, r := range csvRows(t, filepath.Join(out, "ledger", "period_usage.csv")) {
		rows = append(rows, periodRow{Tenant: r["tenant_id"], Start: r["period_start"], End: r["period_end"], Status: r["status"]})
	}
	return rows
}

// countFinal counts the final periods of an output.
func countFinal(t *testing.T, out string) int {
	t.Helper()
	n := 0
	for _, r := range readPeriods(t, out) {
		if r.Status == "final" {
			n++
		}
	}
	return n
}

// countInvoices counts the register's rows.
func countInvoices(t *testing.T, out string) int {
	t.Helper()
	p := filepath.Join(out, "invoices", "register.csv")
	if _, err := os.Stat(p); err != nil {
		return 0
	}
	return len(readCSV(t, p)) - 1
}
