package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/schemas"
)

var periodFlagRe = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

// cmdInvoices is the finance pull: it copies issued invoices (invoices/register.csv and
// the invoice documents) from the output store, local or S3, into a directory, filtered by
// period and tenant; the register written beside them lists the same invoices.
func cmdInvoices(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	output := fs.String("output", "", "output location: directory or s3://bucket/prefix (overrides the configuration)")
	period := fs.String("period", "", "only invoices whose billing period starts in this month (YYYY-MM)")
	issued := fs.String("issued", "", "only invoices issued in this month (YYYY-MM)")
	tenant := fs.String("tenant", "", "only this tenant's invoices")
	out := fs.String("out", "", "directory to write the invoices into")
	format := fs.String("format", "both", "xlsx, csv or both")
	drafts := fs.Bool("drafts", false, "pull the draft invoices of the open periods (invoices/drafts/) instead of the issued ones")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" || *out == "" {
		fmt.Fprintln(stderr, "creditmeter invoices: --config and --out are required")
		return exitUsage
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, usageError{fmt.Errorf("invoices: unexpected argument %q", fs.Arg(0))})
	}
	if *period != "" && !periodFlagRe.MatchString(*period) {
		return exitCode(stderr, usageError{fmt.Errorf("parse --period %q: want YYYY-MM", *period)})
	}
	if *drafts && *issued != "" {
		return exitCode(stderr, usageError{errors.New("invoices: --issued selects issued invoices; a draft is not issued")})
	}
	if *issued != "" && !periodFlagRe.MatchString(*issued) {
		return exitCode(stderr, usageError{fmt.Errorf("parse --issued %q: want YYYY-MM", *issued)})
	}
	var exts []string
	switch *format {
	case "xlsx", "csv":
		exts = []string{*format}
	case "both":
		exts = []string{"xlsx", "csv"}
	default:
		return exitCode(stderr, usageError{fmt.Errorf("--format %q: want xlsx, csv or both", *format)})
	}
	log, err := newLogger(stderr, *logLevel, !isTerminal(stderr))
	if err != nil {
		return exitCode(stderr, err)
	}
	cfg, err := schemas.LoadConfig(*cfgPath)
	if err != nil {
		return exitCode(stderr, usageError{err})
	}
	location := *output
	if location == "" {
		location = cfg.Resolve(cfg.Output)
	}
	if location == "" {
		return exitCode(stderr, usageError{errors.New("invoices: no output location (--output or output: in the configuration)")})
	}
	store, err := objstore.Open(ctx, location, storeOptions(cfg, log))
	if err != nil {
		return exitCode(stderr, err)
	}
	if *drafts {
		pulled, err := pullDrafts(ctx, store, *out, filter{period: *period, tenant: *tenant}, exts)
		if err != nil {
			return exitCode(stderr, err)
		}
		fmt.Fprintf(stdout, "%d draft invoices (not issued, not payable) from %s written to %s\n", pulled.n, store.String(), *out)
		for _, t := range pulled.totals {
			fmt.Fprintln(stdout, t)
		}
		return exitOK
	}
	pulled, err := pullInvoices(ctx, store, *out, filter{period: *period, issued: *issued, tenant: *tenant}, exts)
	if err != nil {
		return exitCode(stderr, err)
	}
	fmt.Fprintf(stdout, "%d invoices from %s written to %s\n", pulled.n, store.String(), *out)
	for _, t := range pulled.totals {
		fmt.Fprintln(stdout, t)
	}
	return exitOK
}

// filter selects the register's invoices: by the month the billing period starts in, the
// month of issue, the tenant ("" for any).
type filter struct{ period, issued, tenant string }

// pulled is what a pull wrote: the number of invoices and, per currency, their sums.
type pulled struct {
	n      int
	totals []string
}

// currencyTotals sums the selected invoices per currency: "EUR: 2 invoices, net 3,878.47,
// tax 387.85, total 4,266.32" (net only for a register without tax columns). The register's
// amounts are exact decimals, summed as such.
func currencyTotals(col map[string]int, rows [][]string) ([]string, error) {
	type sums struct {
		n               int
		net, tax, total decimal.Decimal
	}
	by := map[string]*sums{}
	var order []string
	_, hasTax := col["tax_amount"]
	_, hasTotal := col["total_amount"]
	cell := func(r []string, name string) (decimal.Decimal, error) {
		i, ok := col[name]
		if !ok || i >= len(r) {
			return decimal.Zero, fmt.Errorf("invoices: register row %s has no %s", r[col["invoice_number"]], name)
		}
		d, err := decimal.NewFromString(r[i])
		if err != nil {
			return decimal.Zero, fmt.Errorf("invoices: register row %s: %s %q is not a number", r[col["invoice_number"]], name, r[i])
		}
		return d, nil
	}
	for _, r := range rows {
		cur := ""
		if i, ok := col["currency"]; ok && i < len(r) {
			cur = r[i]
		}
		s := by[cur]
		if s == nil {
			s = &sums{}
			by[cur] = s
			order = append(order, cur)
		}
		s.n++
		net, err := cell(r, "amount")
		if err != nil {
			return nil, err
		}
		s.net = s.net.Add(net)
		if hasTax && hasTotal {
			tax, err := cell(r, "tax_amount")
			if err != nil {
				return nil, err
			}
			total, err := cell(r, "total_amount")
			if err != nil {
				return nil, err
			}
			s.tax, s.total = s.tax.Add(tax), s.total.Add(total)
		}
	}
	sort.Strings(order)
	var out []string
	for _, cur := range order {
		s := by[cur]
		line := fmt.Sprintf("%s: %d invoices, net %s", cur, s.n, groupedMoney(s.net))
		if hasTax && hasTotal {
			line += fmt.Sprintf(", tax %s, total %s", groupedMoney(s.tax), groupedMoney(s.total))
		}
		out = append(out, line)
	}
	return out, nil
}

// groupedMoney writes an amount with two places and thousands separators.
func groupedMoney(d decimal.Decimal) string {
	s := d.StringFixed(2)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String() + "." + frac
	if neg {
		out = "-" + out
	}
	return out
}

// invoiceNumberRe is the form of an invoice number (BILLING.md section 7): the register's
// numbers become file names, so nothing else is accepted from it.
var invoiceNumberRe = regexp.MustCompile(`^INV-[0-9]{4}-[0-9]{6}$`)

// Bounds on what the pull reads from the store: a register line is about 100 bytes, so
// 64 MiB is some 600,000 invoices; an invoice document is tens of kilobytes.
const (
	maxRegisterBytes = 64 << 20
	maxDocumentBytes = 64 << 20
)

// pullInvoices filters the store's register and copies the selected invoices' documents
// into dir. The register keeps its header and column order (FORMATS.md). A register with
// an invoice number that is not INV-YYYY-NNNNNN is refused whole, naming its line: the
// numbers are file names here, and a tampered one ("../../x") would read outside the store
// and write outside dir.
//
// The register is read by column name (FORMATS.md: columns are only ever added at the end),
// so a register of any version is pulled as it is; --issued needs its issue_date column.
func pullInvoices(ctx context.Context, store objstore.Store, dir string, f filter, exts []string) (pulled, error) {
	n, totals, err := pullRegister(ctx, store, dir, f, exts)
	return pulled{n: n, totals: totals}, err
}

func pullRegister(ctx context.Context, store objstore.Store, dir string, f filter, exts []string) (int, []string, error) {
	const regKey = "invoices/register.csv"
	period, tenant := f.period, f.tenant
	rc, err := store.Get(ctx, regKey)
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return 0, nil, fmt.Errorf("invoices: no %s in %s: has a run published there?", regKey, store)
		}
		return 0, nil, err
	}
	defer rc.Close()
	lr := &limitedReader{r: rc, limit: maxRegisterBytes}
	cr := csv.NewReader(lr)
	header, err := cr.Read()
	if err == io.EOF {
		return 0, nil, fmt.Errorf("invoices: %s is empty", regKey)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("invoices: read %s: %w", regKey, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, h := range []string{"invoice_number", "tenant_id", "period_start"} {
		if _, ok := col[h]; !ok {
			return 0, nil, fmt.Errorf("invoices: %s has no column %s", regKey, h)
		}
	}
	if _, ok := col["issue_date"]; f.issued != "" && !ok {
		return 0, nil, fmt.Errorf("invoices: %s has no column issue_date (written by an earlier creditmeter): --issued cannot select", regKey)
	}
	keep := [][]string{header}
	for {
		r, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("invoices: read %s: %w", regKey, err)
		}
		if num := r[col["invoice_number"]]; !invoiceNumberRe.MatchString(num) {
			line, _ := cr.FieldPos(col["invoice_number"])
			return 0, nil, fmt.Errorf("invoices: %s line %d: invoice number %q is not of the form INV-YYYY-NNNNNN: refusing the register", regKey, line, num)
		}
		if tenant != "" && r[col["tenant_id"]] != tenant {
			continue
		}
		if period != "" && (len(r[col["period_start"]]) < 7 || r[col["period_start"]][:7] != period) {
			continue
		}
		if i := col["issue_date"]; f.issued != "" && (i >= len(r) || len(r[i]) < 7 || r[i][:7] != f.issued) {
			continue
		}
		keep = append(keep, r)
	}
	totals, err := currencyTotals(col, keep[1:])
	if err != nil {
		return 0, nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, fmt.Errorf("invoices: %w", err)
	}
	for _, r := range keep[1:] {
		num := r[col["invoice_number"]]
		for _, ext := range exts {
			key := documents.InvoiceKey(num, ext)
			if err := copyDocument(ctx, store, key, dir, num+"."+ext); err != nil {
				return 0, nil, fmt.Errorf("invoices: %s: %w", key, err)
			}
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(keep); err != nil {
		return 0, nil, fmt.Errorf("invoices: write register: %w", err)
	}
	if err := writeFileAtomic(dir, "register.csv", bytes.NewReader(buf.Bytes())); err != nil {
		return 0, nil, fmt.Errorf("invoices: %w", err)
	}
	return len(keep) - 1, totals, nil
}

// copyDocument streams an object into dir/name, refusing one larger than maxDocumentBytes.
func copyDocument(ctx context.Context, store objstore.Store, key, dir, name string) error {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeFileAtomic(dir, name, &limitedReader{r: rc, limit: maxDocumentBytes})
}

// errTooLarge is returned by a limitedReader past its limit.
var errTooLarge = errors.New("object larger than the pull accepts")

// limitedReader reads at most limit bytes and fails, rather than stopping short, past
// them: a truncated register or invoice must not pass for a whole one.
type limitedReader struct {
	r     io.Reader
	read  int64
	limit int64
}

// Read reads on, and fails with errTooLarge once more than limit bytes came.
func (l *limitedReader) Read(p []byte) (int, error) {
	if rest := l.limit - l.read + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := l.r.Read(p)
	l.read += int64(k)
	if l.read > l.limit {
		return 0, fmt.Errorf("%w (%d MiB)", errTooLarge, l.limit>>20)
	}
	return k, err
}

// writeFileAtomic writes dir/name through a temporary file and a rename, so a reader never
// sees a half-written invoice. name must be a plain file name: nothing is written outside
// dir.
func writeFileAtomic(dir, name string, r io.Reader) error {
	if !filepath.IsLocal(name) || filepath.Base(name) != name {
		return fmt.Errorf("write %q: not a file name inside %s", name, dir)
	}
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".pull-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := io.Copy(tmp, r); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// draftKeyRe is the key of a draft invoice document (documents.DraftKey): the tenant and
// the period's first day become the file name, so nothing else is accepted from the store.
var draftKeyRe = regexp.MustCompile(`^invoices/drafts/([^/]+)_([0-9]{4}-[0-9]{2}-[0-9]{2})\.(csv|xlsx)$`)

// pullDrafts copies the draft invoices (invoices/drafts/{tenant}_{period_start}.csv and
// .xlsx; issue 11) the store holds into dir, filtered by tenant and by the month the period
// starts in, and sums them per currency from their CSVs (each line repeats the draft's net,
// tax and total). A draft is replaced by every run whose figures change and removed once
// the real invoice is issued: a pull is a snapshot.
func pullDrafts(ctx context.Context, store objstore.Store, dir string, f filter, exts []string) (pulled, error) {
	objs, err := store.List(ctx)
	if err != nil {
		return pulled{}, fmt.Errorf("invoices: list %s: %w", store, err)
	}
	type draft struct{ tenant, start string }
	seen := map[draft]bool{}
	var drafts []draft
	for _, o := range objs {
		m := draftKeyRe.FindStringSubmatch(o.Key)
		if m == nil || !filepath.IsLocal(m[1]) || (f.tenant != "" && m[1] != f.tenant) || (f.period != "" && m[2][:7] != f.period) {
			continue
		}
		d := draft{m[1], m[2]}
		if !seen[d] {
			seen[d] = true
			drafts = append(drafts, d)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return pulled{}, fmt.Errorf("invoices: %w", err)
	}
	col := map[string]int{}
	var rows [][]string
	for _, d := range drafts {
		for _, ext := range exts {
			key := documents.DraftKey(d.tenant, d.start, ext)
			if err := copyDocument(ctx, store, key, dir, d.tenant+"_"+d.start+"."+ext); err != nil {
				return pulled{}, fmt.Errorf("invoices: %s: %w", key, err)
			}
		}
		// the CSV's first line gives the draft's currency and amounts
		key := documents.DraftKey(d.tenant, d.start, "csv")
		rc, err := store.Get(ctx, key)
		if err != nil {
			return pulled{}, fmt.Errorf("invoices: %s: %w", key, err)
		}
		recs, err := csv.NewReader(&limitedReader{r: rc, limit: maxDocumentBytes}).ReadAll()
		rc.Close()
		if err != nil {
			return pulled{}, fmt.Errorf("invoices: read %s: %w", key, err)
		}
		if len(recs) < 2 {
			return pulled{}, fmt.Errorf("invoices: %s has no line", key)
		}
		for i, h := range recs[0] {
			col[h] = i
		}
		row := make([]string, 4)
		for i, h := range []string{"currency", "net_amount", "tax_amount", "total_amount"} {
			j, ok := col[h]
			if !ok || j >= len(recs[1]) {
				return pulled{}, fmt.Errorf("invoices: %s has no column %s", key, h)
			}
			row[i] = recs[1][j]
		}
		rows = append(rows, row)
	}
	totals, err := currencyTotals(map[string]int{"currency": 0, "amount": 1, "tax_amount": 2, "total_amount": 3, "invoice_number": 0}, rows)
	if err != nil {
		return pulled{}, err
	}
	return pulled{n: len(drafts), totals: totals}, nil
}
