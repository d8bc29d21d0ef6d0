package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// DryRunResult is what a run would do (issue 11, `creditmeter run --dry-run`).
type DryRunResult struct {
	// Manifest is the manifest of the run made against the copy: what it would finalize
	// (Finalized) and publish (Outputs; their keys and checksums).
	Manifest *Manifest
	// Invoices are the invoices it would issue, with their numbers and amounts.
	Invoices []DryInvoice
	// Notifications are the notifications it would record (and, with smtp:, send).
	Notifications []DryNotification
	// ReportDir is where the outputs it would publish were written; "" when they were
	// thrown away.
	ReportDir string
}

// DryInvoice is an invoice a run would issue; amounts are exact decimal text.
type DryInvoice struct {
	Number, TenantID, PeriodStart, PeriodEnd, Currency string // PeriodEnd exclusive
	ExceedingCredits, Net, Tax, Total                  string
}

// DryNotification is a notification a run would record.
type DryNotification struct {
	TenantID, PeriodStart, Kind, Threshold string
}

// DryRun does everything a run does except committing, finalizing, numbering, publishing
// and sending: it copies the warehouse (and any outbox a dead run left) to a temporary
// directory beside it, under the output's run lock so that no run changes it meanwhile,
// and runs the pipeline against the copy, with the outputs going to reportDir (a temporary
// directory when ""), no notification sent, no analysts' snapshot and no analytics local
// copy. The real warehouse and output are not written (the run lock is taken and released
// on the output, as every run does). The copy is removed before DryRun returns.
func (r *Runner) DryRun(ctx context.Context, o Options, reportDir string) (*DryRunResult, error) {
	o = r.resolve(o)
	if o.Source == "" || o.Output == "" || o.Warehouse == "" {
		return nil, &schemas.ConfigError{File: r.file, Problems: []schemas.Problem{{Path: "source, output, warehouse", Reason: "must all be set"}}}
	}
	if err := r.checkLocations(o); err != nil {
		return nil, err
	}
	if reportDir != "" {
		var probs []schemas.Problem
		for _, c := range []struct{ parent, child string }{{o.Output, reportDir}, {reportDir, o.Output}, {o.Source, reportDir}} {
			in, err := objstore.Within(c.parent, c.child)
			if err != nil {
				probs = append(probs, schemas.Problem{Path: "--report-dir", Reason: err.Error()})
			} else if in {
				probs = append(probs, schemas.Problem{Path: "--report-dir",
					Reason: fmt.Sprintf("%s overlaps %s: a dry run writes nowhere a run reads or publishes", reportDir, c.parent)})
				break
			}
		}
		if len(probs) > 0 {
			return nil, &schemas.ConfigError{File: r.file, Problems: probs}
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.Warehouse), 0o700); err != nil {
		return nil, fmt.Errorf("dry run: create warehouse directory: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(o.Warehouse), ".creditmeter-dry-run-")
	if err != nil {
		return nil, fmt.Errorf("dry run: create temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyWh := filepath.Join(tmp, "warehouse.duckdb")
	if err := r.copyWarehouse(ctx, o, copyWh); err != nil {
		return nil, err
	}
	cfg := *r.cfg
	cfg.SMTP = nil
	cfg.Analytics.LocalCopy = ""
	dry := *r
	dry.cfg = &cfg
	dry.log = r.log.With("dry_run", true)
	dest := reportDir
	if dest == "" {
		dest = filepath.Join(tmp, "out")
	}
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return nil, fmt.Errorf("dry run: create %s: %w", dest, err)
	}
	m, err := dry.Run(ctx, Options{Source: o.Source, Output: dest, Warehouse: copyWh, Now: o.Now, dryRun: true})
	if err != nil {
		return &DryRunResult{Manifest: m}, err
	}
	_ = os.Remove(filepath.Join(dest, "locks")) // the report directory's run lock, when empty
	res := &DryRunResult{Manifest: m, ReportDir: reportDir}
	if err := res.read(ctx, copyWh, m.RunSeq); err != nil {
		return res, err
	}
	return res, nil
}

// resolve fills a run's locations from the configuration.
func (r *Runner) resolve(o Options) Options {
	if o.Source == "" {
		o.Source = r.cfg.Resolve(r.cfg.Source)
	}
	if o.Output == "" {
		o.Output = r.cfg.Resolve(r.cfg.Output)
	}
	if o.Warehouse == "" {
		o.Warehouse = r.cfg.Resolve(r.cfg.Warehouse)
	}
	return o
}

// copyWarehouse copies the warehouse file, its write-ahead log and its outbox (outputs a
// dead run committed but did not publish) to dst, holding the output's run lock meanwhile.
func (r *Runner) copyWarehouse(ctx context.Context, o Options, dst string) (err error) {
	out, err := objstore.Open(ctx, o.Output, r.stores)
	if err != nil {
		return err
	}
	ttl := r.lockTTL
	if ttl == 0 {
		ttl = r.cfg.LockTTL.Duration
	}
	lease, err := objstore.Lock(ctx, out, lockOwner()+" (dry run)", objstore.LockOptions{TTL: ttl, Now: r.clock, Log: r.log})
	if err != nil {
		return err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = rerr
		}
	}()
	for _, suffix := range []string{"", ".wal"} {
		if err := copyFile(o.Warehouse+suffix, dst+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("dry run: copy warehouse: %w", err)
		}
	}
	src := o.Warehouse + ".outbox"
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == src {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst+".outbox", rel), 0o700)
		}
		return copyFile(p, filepath.Join(dst+".outbox", rel))
	})
	if err != nil {
		return fmt.Errorf("dry run: copy outbox: %w", err)
	}
	return nil
}

// copyFile copies one file, owner-only.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// read reads the invoices and notifications of run runSeq from the copy.
func (res *DryRunResult) read(ctx context.Context, path string, runSeq int) error {
	db, err := warehouse.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect warehouse copy: %w", err)
	}
	defer conn.Close()
	rows, err := warehouse.Query(ctx, conn, "dryrun_invoices.sql", runSeq)
	if err != nil {
		return err
	}
	for rows.Next() {
		var i DryInvoice
		if err := rows.Scan(&i.Number, &i.TenantID, &i.PeriodStart, &i.PeriodEnd, &i.Currency,
			&i.ExceedingCredits, &i.Net, &i.Tax, &i.Total); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read dry-run invoices: %w", err)
		}
		res.Invoices = append(res.Invoices, i)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read dry-run invoices: %w", err)
	}
	nrows, err := warehouse.Query(ctx, conn, "dryrun_notifications.sql", runSeq)
	if err != nil {
		return err
	}
	defer nrows.Close()
	for nrows.Next() {
		var n DryNotification
		if err := nrows.Scan(&n.TenantID, &n.PeriodStart, &n.Kind, &n.Threshold); err != nil {
			return fmt.Errorf("read dry-run notifications: %w", err)
		}
		res.Notifications = append(res.Notifications, n)
	}
	return nrows.Err()
}
