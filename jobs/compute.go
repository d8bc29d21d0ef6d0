package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/pipeline/forecast"
	"github.com/creditmeter/creditmeter/pipeline/fund"
	"github.com/creditmeter/creditmeter/pipeline/notify"
	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/publish"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/snapshot"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// compute recomputes the open periods of the tenants that changed, finalizes what is due
// and renders what changed into the outbox, in the caller's transaction. It reports whether
// an output changed.
func (x *run) compute(ctx context.Context, cal *rate.Calendar) (bool, error) {
	conn := x.conn
	var dirty int64
	if err := x.stage("rate", func() (int64, error) {
		if err := rate.Run(ctx, conn); err != nil {
			return 0, err
		}
		return dirty, warehouse.QueryRow(ctx, conn, "compute_count.sql", &dirty)
	}); err != nil {
		return false, err
	}
	x.m.Recomputed = int(dirty)
	if err := x.stage("fund", func() (int64, error) {
		tenants := fundTenants(x.cfg, cal)
		if err := warehouse.Exec(ctx, conn, "fund_sort.sql"); err != nil {
			return 0, err
		}
		if dirty == 0 {
			return 0, nil
		}
		if err := fund.ReadOpening(ctx, conn, tenants); err != nil {
			return 0, err
		}
		w, err := fund.New(tenants)
		if err != nil {
			return 0, err
		}
		return fund.Stream(ctx, conn, x.stageDir, w)
	}); err != nil {
		return false, err
	}
	if err := x.stage("aggregate", func() (int64, error) {
		if err := aggregate.Run(ctx, conn); err != nil {
			return 0, err
		}
		// the forecasts of the open periods (issue 11): read by the run-out notifications,
		// the workbooks and forecast.csv
		if err := forecast.Run(ctx, conn, x.cfg, x.now); err != nil {
			return 0, err
		}
		if err := notify.Record(ctx, conn, x.cfg, x.m.RunSeq); err != nil {
			return 0, err
		}
		if err := aggregate.Finalize(ctx, conn, x.m.RunSeq, x.now); err != nil {
			return 0, err
		}
		if err := x.sh.provisional(ctx, x); err != nil { // a shard numbers no invoice
			return 0, err
		}
		return 0, x.finalized(ctx)
	}); err != nil {
		return false, err
	}
	var files []publish.File
	if err := x.stage("render", func() (int64, error) {
		if err := x.reconcile(ctx); err != nil {
			return 0, err
		}
		if dirty > 0 {
			if err := x.renderTenants(ctx); err != nil {
				return 0, err
			}
		}
		if err := x.renderQuarantine(ctx); err != nil {
			return 0, err
		}
		if err := notify.Render(ctx, conn, x.outbox.Dir()); err != nil {
			return 0, err
		}
		var err error
		files, err = x.outbox.Collect(ctx, conn)
		return int64(len(files)), err
	}); err != nil {
		return false, err
	}
	if err := warehouse.Exec(ctx, conn, "run_status.sql", x.m.RunSeq, "committed"); err != nil {
		return false, err
	}
	return len(files) > 0, nil
}

// renderTenants renders the outputs of the recomputed tenants and the fleet-wide files into
// the outbox.
func (x *run) renderTenants(ctx context.Context) error {
	dir := x.outbox.Dir()
	for _, sub := range []string{"ledger", "invoices"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("create outbox %s: %w", sub, err)
		}
	}
	vars := map[string]string{"out": filepath.ToSlash(dir)}
	for _, f := range []string{"render_fleet.sql", "render_tenants.sql"} {
		if err := warehouse.ExecTemplate(ctx, x.conn, f, vars); err != nil {
			return err
		}
	}
	history := publish.Partitioned{Query: "render_history_rows.sql", Keys: 1, Files: []publish.PartFile{{
		Key:     func(k []string) string { return "usage/" + k[0] + "/usage_history.csv" },
		Header:  []string{"period_start", "period_end", "status", "credits_plan", "credits_used", "credits_bank_used", "credits_bank_remaining", "exceeding_credits", "blocked_credits"},
		Columns: []int{1, 2, 3, 4, 5, 6, 7, 8, 9},
	}}}
	// render_usage_rows.sql: 0 tenant, 1 period, 2-8 the report's first seven columns,
	// 9-11 the names (restricted), 12-14 blocked_credits, allowance_units, late (issue 12)
	usage := publish.Partitioned{Query: "render_usage_rows.sql", Keys: 2, Files: []publish.PartFile{{
		Key:     func(k []string) string { return usageKey(k[0], k[1]) },
		Header:  strings.Split(usageHeader, ","),
		Columns: []int{2, 3, 4, 5, 6, 7, 8, 12, 13, 14},
	}, {
		Key:     func(k []string) string { return "restricted/" + usageKey(k[0], k[1]) },
		Header:  strings.Split(restrictedHeader, ","),
		Columns: []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
	}}}
	for _, p := range []publish.Partitioned{history, usage} {
		if err := publish.WriteCSVs(ctx, x.conn, x.stageDir, dir, p); err != nil {
			return err
		}
	}
	if err := forecast.WriteCSVs(ctx, x.conn, dir); err != nil {
		return err
	}
	// An open period whose report had rows and has none now gets an empty report.
	rows, err := warehouse.Query(ctx, x.conn, "render_emptied.sql", x.m.RunSeq)
	if err != nil {
		return err
	}
	var emptied []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read emptied reports: %w", err)
		}
		emptied = append(emptied, k)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read emptied reports: %w", err)
	}
	for _, k := range emptied {
		p, err := x.outbox.Path(k)
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err == nil {
			continue
		}
		header := usageHeader
		if filepath.ToSlash(k)[:len("restricted/")] == "restricted/" {
			header = restrictedHeader
		}
		if err := os.WriteFile(p, []byte(header+"\n"), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", k, err)
		}
	}
	// A final period's reports are written once.
	frows, err := warehouse.Query(ctx, x.conn, "render_final_reports.sql", x.m.RunSeq)
	if err != nil {
		return err
	}
	for frows.Next() {
		var tenant, start string
		if err := frows.Scan(&tenant, &start); err != nil {
			_ = frows.Close()
			return fmt.Errorf("read finalized periods: %w", err)
		}
		x.outbox.MarkFinal(usageKey(tenant, start))
		x.outbox.MarkFinal("restricted/" + usageKey(tenant, start))
	}
	if err := frows.Close(); err != nil {
		return fmt.Errorf("read finalized periods: %w", err)
	}
	keys, err := documents.Write(ctx, x.conn, dir, x.cfg, x.now, x.m.RunSeq)
	if err != nil {
		return err
	}
	for _, k := range keys {
		x.outbox.MarkFinal(k)
	}
	// draft invoices of the open periods that would be invoiced if they closed now (issue
	// 11): replaced when they change, removed once not drafted any more (the real invoice
	// issued)
	_, stale, err := documents.WriteDrafts(ctx, x.conn, dir)
	if err != nil {
		return err
	}
	for _, k := range stale {
		x.outbox.Remove(k)
	}
	return nil
}

// The headers of the usage reports (FORMATS.md), each with the columns issue 12 appended
// at its end: consumed_credits is what the customer's balance was charged (plan + bank +
// exceeding); blocked credits, allowance units and the late flag follow.
const (
	usageBase        = "datetime,event_type,user_id,domain_name,event_value,event_unit,consumed_credits"
	usageAppended    = ",blocked_credits,allowance_units,late"
	usageHeader      = usageBase + usageAppended
	restrictedHeader = usageBase + ",username,first_name,last_name" + usageAppended
)

func usageKey(tenant, periodStart string) string {
	return "usage/" + tenant + "/" + periodStart + "_ai_credits_usage.csv"
}

// renderQuarantine writes the run's quarantine files when lines were newly quarantined.
func (x *run) renderQuarantine(ctx context.Context) error {
	var n int64
	if err := warehouse.QueryRow(ctx, x.conn, "qlog_count.sql", &n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	dir := x.outbox.Dir()
	for _, sub := range []string{"quarantine", "restricted/quarantine"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(sub)), 0o700); err != nil {
			return fmt.Errorf("create outbox %s: %w", sub, err)
		}
	}
	err := warehouse.ExecTemplate(ctx, x.conn, "render_quarantine.sql",
		map[string]string{"out": filepath.ToSlash(dir), "run_id": x.m.RunID}, x.m.RunSeq)
	if err != nil {
		return err
	}
	x.outbox.MarkFinal("quarantine/" + x.m.RunID + ".jsonl")
	x.outbox.MarkFinal("restricted/quarantine/" + x.m.RunID + ".jsonl")
	return nil
}

// reconcile checks the identities of BILLING.md section 2 before anything commits, and
// fills the manifest's counts.
func (x *run) reconcile(ctx context.Context) error {
	rec, err := aggregate.Reconcile(ctx, x.conn)
	if err != nil {
		return err
	}
	x.m.Reconciliation = rec
	x.m.Counts = Counts{LinesRead: rec.LinesRead, Accepted: rec.Accepted, Quarantined: rec.Quarantined, Duplicates: rec.Duplicates}
	if !rec.OK {
		x.log.Error("reconciliation failed", "problems", rec.Problems)
		return rec
	}
	return nil
}

// finalized lists what this run finalized and issued, for the manifest.
func (x *run) finalized(ctx context.Context) error {
	rows, err := warehouse.Query(ctx, x.conn, "finalized_now.sql", x.m.RunSeq)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f Finalized
		if err := rows.Scan(&f.Kind, &f.TenantID, &f.PeriodStart, &f.Invoice); err != nil {
			return fmt.Errorf("read finalized: %w", err)
		}
		x.m.Finalized = append(x.m.Finalized, f)
	}
	return rows.Err()
}

// summarize fills the manifest's per-reason and per-tenant figures.
func (x *run) summarize(ctx context.Context) error {
	rows, err := warehouse.Query(ctx, x.conn, "quarantine_summary.sql")
	if err != nil {
		return err
	}
	x.m.QuarantineBy = map[string]int64{}
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read quarantine summary: %w", err)
		}
		x.m.QuarantineBy[reason] = n
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read quarantine summary: %w", err)
	}
	credits := map[string][5]string{}
	crows, err := warehouse.Query(ctx, x.conn, "tenant_credits.sql")
	if err != nil {
		return err
	}
	for crows.Next() {
		var id string
		var c [5]string
		if err := crows.Scan(&id, &c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
			_ = crows.Close()
			return fmt.Errorf("read tenant credits: %w", err)
		}
		credits[id] = c
	}
	if err := crows.Close(); err != nil {
		return fmt.Errorf("read tenant credits: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range x.m.Reconciliation.Tenants {
		c, ok := credits[t.TenantID]
		if !ok {
			c = [5]string{"0", "0", "0", "0", "0"}
		}
		seen[t.TenantID] = true
		x.m.Tenants = append(x.m.Tenants, TenantSummary{TenantID: t.TenantID, LinesRead: t.LinesRead,
			Accepted: t.Accepted, Quarantined: t.Quarantined, Duplicates: t.Duplicates,
			Rated: c[0], Plan: c[1], Bank: c[2], Exceeding: c[3], Blocked: c[4]})
	}
	for i := range x.cfg.Tenants {
		id := x.cfg.Tenants[i].ID
		if seen[id] {
			continue
		}
		c, ok := credits[id]
		if !ok {
			c = [5]string{"0", "0", "0", "0", "0"}
		}
		x.m.Tenants = append(x.m.Tenants, TenantSummary{TenantID: id, Rated: c[0], Plan: c[1], Bank: c[2], Exceeding: c[3], Blocked: c[4]})
	}
	return nil
}

// runIDs names every run by number.
func runIDs(ctx context.Context, conn *sql.Conn) (map[int]string, error) {
	rows, err := warehouse.Query(ctx, conn, "run_ids.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var seq int
		var id string
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		out[seq] = id
	}
	return out, rows.Err()
}

// snapshot brings the analysts' snapshot (path: its database, kept beside the warehouse)
// up to this run's committed results and records the files that changed for publication.
// It runs on every run: one that changed nothing only records that the snapshot is
// current with it, and writes no file.
func (x *run) snapshot(ctx context.Context, path string) (int64, error) {
	res, err := snapshot.Update(ctx, x.conn, snapshot.Options{Path: path, RunSeq: x.m.RunSeq, RunID: x.m.RunID,
		OutDir: x.outbox.Dir(), StageDir: x.stageDir})
	if err != nil {
		return 0, err
	}
	if res.Rebuilt != "" {
		x.log.Info("analysts' snapshot rebuilt in full", "why", res.Rebuilt, "rows", res.Changed)
	}
	x.snapshotPath = filepath.Join(x.outbox.Dir(), filepath.FromSlash(snapshot.DBKey))
	if len(res.Files) > 0 {
		err = warehouse.InTx(ctx, x.conn, func() error {
			_, err := x.outbox.Collect(ctx, x.conn)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	if p := x.cfg.Analytics.LocalCopy; p != "" {
		// the outbox's copy (when the snapshot changed) is uploaded and removed next:
		// install it first; a local copy not made yet gets the snapshot as it stands
		dst := x.cfg.Resolve(p)
		src := x.snapshotPath
		if _, err := os.Stat(src); err != nil {
			src = ""
			if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
				src = path
			}
		}
		if src != "" {
			if err := snapshot.Install(src, dst); err != nil {
				x.log.Warn("analytics local copy not replaced", "path", dst, "err", err)
			}
		}
	}
	return res.Changed, nil
}

// parseLimits are the configuration's limits for the event parser.
func parseLimits(l schemas.Limits) parse.Limits {
	return parse.Limits{MaxLineBytes: int(l.MaxLineBytes), MaxAttributes: l.MaxAttributes}
}
