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
	tenant := fs.String("tenant", "", "only this tenant's invoices")
	out := fs.String("out", "", "directory to write the invoices into")
	format := fs.String("format", "both", "xlsx, csv or both")
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
	n, err := pullInvoices(ctx, store, *out, *period, *tenant, exts)
	if err != nil {
		return exitCode(stderr, err)
	}
	fmt.Fprintf(stdout, "%d invoices from %s written to %s\n", n, store.String(), *out)
	return exitOK
}

// pullInvoices filters the store's register and copies the selected invoices' documents
// into dir. The register keeps its header and column order (FORMATS.md).
func pullInvoices(ctx context.Context, store objstore.Store, dir, period, tenant string, exts []string) (int, error) {
	reg, err := getStoreObject(ctx, store, "invoices/register.csv")
	if err != nil {
		if errors.Is(err, objstore.ErrNotFound) {
			return 0, fmt.Errorf("invoices: no invoices/register.csv in %s: has a run published there?", store)
		}
		return 0, err
	}
	recs, err := csv.NewReader(bytes.NewReader(reg)).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("invoices: read invoices/register.csv: %w", err)
	}
	if len(recs) == 0 {
		return 0, errors.New("invoices: invoices/register.csv is empty")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"invoice_number", "tenant_id", "period_start"} {
		if _, ok := col[h]; !ok {
			return 0, fmt.Errorf("invoices: invoices/register.csv has no column %s", h)
		}
	}
	keep := [][]string{recs[0]}
	for _, r := range recs[1:] {
		if tenant != "" && r[col["tenant_id"]] != tenant {
			continue
		}
		if period != "" && (len(r[col["period_start"]]) < 7 || r[col["period_start"]][:7] != period) {
			continue
		}
		keep = append(keep, r)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("invoices: %w", err)
	}
	for _, r := range keep[1:] {
		num := r[col["invoice_number"]]
		for _, ext := range exts {
			key := documents.InvoiceKey(num, ext)
			b, err := getStoreObject(ctx, store, key)
			if err != nil {
				return 0, fmt.Errorf("invoices: %s: %w", key, err)
			}
			if err := writeFileAtomic(filepath.Join(dir, num+"."+ext), b); err != nil {
				return 0, err
			}
		}
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(keep); err != nil {
		return 0, fmt.Errorf("invoices: write register: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "register.csv"), buf.Bytes()); err != nil {
		return 0, err
	}
	return len(keep) - 1, nil
}

func getStoreObject(ctx context.Context, store objstore.Store, key string) ([]byte, error) {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// writeFileAtomic writes through a temporary file and a rename, so a reader never sees a
// half-written invoice.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pull-*")
	if err != nil {
		return fmt.Errorf("invoices: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("invoices: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("invoices: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("invoices: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("invoices: %w", err)
	}
	return nil
}
