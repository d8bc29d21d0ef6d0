// Package jobs orchestrates runs of the pipeline: one run pulls, loads, rates, funds,
// aggregates, finalizes and publishes; the scheduler (serve) calls the same Runner.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/pipeline/fund"
	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/notify"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/publish"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/snapshot"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Config configures a Runner.
type Config struct {
	Config *schemas.Config
	Log    *slog.Logger
	// Clock reads the wall clock for durations and, without --now, the run's instant.
	Clock func() time.Time
	// Stores opens sources and outputs (local directories without S3 settings).
	Stores objstore.Options
	// Progress, when set, hears of each stage's advance (interactive terminals).
	Progress Progress
	// LockTTL is how long the run lock stands without renewal (0: 15 minutes); it is
	// renewed every third of that while the run lasts.
	LockTTL time.Duration
	// BatchObjects caps the objects loaded per transaction (0: 512).
	BatchObjects int
}

// ErrLocked is returned by Run when another run holds the output's lock: nothing was done.
var ErrLocked = objstore.ErrLockHeld

// Progress receives stage progress.
type Progress interface {
	// Stage reports done of total units of a stage (total 0 when unknown).
	Stage(name string, done, total int64)
	// Detail adds a short text to the current stage's line (bytes pulled, say).
	Detail(text string)
}

// Runner runs the pipeline.
type Runner struct {
	cfg      *schemas.Config
	log      *slog.Logger
	clock    func() time.Time
	stores   objstore.Options
	progress Progress
	lockTTL  time.Duration
	batch    int
}

// New validates the configuration of a Runner.
func New(c Config) (*Runner, error) {
	if c.Config == nil {
		return nil, errors.New("new runner: no configuration")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.BatchObjects <= 0 {
		c.BatchObjects = 512
	}
	return &Runner{cfg: c.Config, log: c.Log, clock: c.Clock, stores: c.Stores, progress: c.Progress,
		lockTTL: c.LockTTL, batch: c.BatchObjects}, nil
}

// Options are a run's command-line choices; empty ones fall back to the configuration.
type Options struct {
	Source    string
	Output    string
	Warehouse string
	Now       time.Time // zero: the clock
}

// Manifest is runs/{run_id}.json.
type Manifest struct {
	RunID          string                   `json:"run_id"`
	RunSeq         int                      `json:"run_seq"`
	Now            string                   `json:"now"`
	Status         string                   `json:"status"`
	Source         string                   `json:"source"`
	Output         string                   `json:"output"`
	Objects        ObjectCounts             `json:"objects"`
	Counts         Counts                   `json:"counts"`
	QuarantineBy   map[string]int64         `json:"quarantined_by_reason"`
	Reconciliation aggregate.Reconciliation `json:"reconciliation"`
	Tenants        []TenantSummary          `json:"tenants"`
	Finalized      []Finalized              `json:"finalized"`
	Stages         []StageTiming            `json:"stages"`
	Outputs        []publish.File           `json:"outputs"`
}

// ObjectCounts counts source objects.
type ObjectCounts struct {
	Listed   int   `json:"listed"`
	Ingested int   `json:"ingested"` // read in this run
	Skipped  int64 `json:"skipped"`  // names that are not event objects (all runs)
	Lines    int64 `json:"lines_ingested"`
}

// Counts are the event counts over everything stored (BILLING.md section 2).
type Counts struct {
	LinesRead   int64 `json:"lines_read"`
	Accepted    int64 `json:"accepted"`
	Quarantined int64 `json:"quarantined"`
	Duplicates  int64 `json:"duplicates"`
	Unbillable  int64 `json:"unbillable"`
}

// TenantSummary is one tenant's reconciliation.
type TenantSummary struct {
	TenantID    string `json:"tenant_id"`
	LinesRead   int64  `json:"lines_read"`
	Accepted    int64  `json:"accepted"`
	Quarantined int64  `json:"quarantined"`
	Duplicates  int64  `json:"duplicates"`
	Rated       string `json:"rated_credits"`
	Plan        string `json:"plan_used"`
	Bank        string `json:"bank_used"`
	Exceeding   string `json:"exceeding_credits"`
	Blocked     string `json:"blocked_credits"`
}

// Finalized is a period frozen or an invoice issued by the run.
type Finalized struct {
	Kind        string `json:"kind"`
	TenantID    string `json:"tenant_id"`
	PeriodStart string `json:"period_start"`
	Invoice     string `json:"invoice_number,omitempty"`
}

// StageTiming is how long a stage took and how many rows it handled.
type StageTiming struct {
	Stage   string  `json:"stage"`
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// RunID names a run after its instant.
func RunID(now time.Time) string { return now.UTC().Format("20060102T150405Z") }

// Run runs the pipeline once.
func (r *Runner) Run(ctx context.Context, o Options) (m *Manifest, err error) {
	if o.Source == "" {
		o.Source = r.cfg.Resolve(r.cfg.Source)
	}
	if o.Output == "" {
		o.Output = r.cfg.Resolve(r.cfg.Output)
	}
	if o.Warehouse == "" {
		o.Warehouse = r.cfg.Resolve(r.cfg.Warehouse)
	}
	if o.Source == "" || o.Output == "" || o.Warehouse == "" {
		return nil, errors.New("run: source, output and warehouse must all be set")
	}
	now := o.Now
	if now.IsZero() {
		now = r.clock()
	}
	now = now.UTC().Truncate(time.Microsecond)
	m = &Manifest{RunID: RunID(now), Now: now.Format(time.RFC3339Nano), Status: "failed", Source: o.Source, Output: o.Output}
	log := r.log.With("run_id", m.RunID)

	src, err := objstore.Open(ctx, o.Source, r.stores)
	if err != nil {
		return m, err
	}
	out, err := objstore.Open(ctx, o.Output, r.stores)
	if err != nil {
		return m, err
	}
	// one run at a time per output
	lease, err := objstore.Lock(ctx, out, lockOwner(m.RunID), objstore.LockOptions{TTL: r.lockTTL, Now: r.clock})
	if err != nil {
		if errors.Is(err, objstore.ErrLockHeld) {
			m.Status = "skipped"
			log.Warn("another run holds the lock; nothing done", "err", err)
		}
		return m, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			log.Error("release run lock", "err", rerr)
			if err == nil {
				err = rerr
			}
		}
	}()
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	go func() {
		select {
		case <-lease.Lost():
			cancelRun(lease.Err())
		case <-ctx.Done():
		}
	}()
	db, err := warehouse.Open(ctx, o.Warehouse)
	if err != nil {
		return m, err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close warehouse: %w", cerr)
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return m, fmt.Errorf("connect warehouse: %w", err)
	}
	defer conn.Close()

	stage := func(name string, f func() (int64, error)) error {
		start := r.clock()
		if r.progress != nil {
			r.progress.Stage(name, 0, 0)
		}
		n, err := f()
		d := r.clock().Sub(start)
		m.Stages = append(m.Stages, StageTiming{Stage: name, Rows: n, Seconds: d.Seconds()})
		if err != nil {
			log.Error("stage failed", "stage", name, "err", err)
			return err
		}
		log.Info("stage done", "stage", name, "rows", n, "duration", d.Round(time.Millisecond))
		return nil
	}

	if err := conn.QueryRowContext(ctx, sqlText("run_next.sql")).Scan(&m.RunSeq); err != nil {
		return m, fmt.Errorf("next run number: %w", err)
	}
	final, err := finalPeriods(ctx, conn)
	if err != nil {
		return m, err
	}
	cal, err := rate.NewCalendar(r.cfg, final)
	if err != nil {
		return m, err
	}
	if err := rate.Prepare(ctx, conn, r.cfg, cal, now); err != nil {
		return m, err
	}

	stageDir, err := os.MkdirTemp("", "creditmeter-stage-")
	if err != nil {
		return m, fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(stageDir)

	if err := stage("ingest", func() (int64, error) { return r.ingest(ctx, conn, src, stageDir, m) }); err != nil {
		return m, err
	}
	if err := stage("rate", func() (int64, error) { return 0, rate.Run(ctx, conn) }); err != nil {
		return m, err
	}
	if err := stage("fund", func() (int64, error) {
		w, err := fund.New(rate.Tenants(r.cfg, cal))
		if err != nil {
			return 0, err
		}
		return fund.Stream(ctx, conn, w)
	}); err != nil {
		return m, err
	}
	if err := stage("aggregate", func() (int64, error) { return 0, aggregate.Run(ctx, conn) }); err != nil {
		return m, err
	}
	rec, err := aggregate.Reconcile(ctx, conn)
	if err != nil {
		return m, err
	}
	m.Reconciliation = rec
	m.Counts = Counts{LinesRead: rec.LinesRead, Accepted: rec.Accepted, Quarantined: rec.Quarantined, Duplicates: rec.Duplicates, Unbillable: rec.Unbillable}
	if !rec.OK {
		log.Error("reconciliation failed", "problems", rec.Problems)
		return m, rec
	}
	if err := r.summarize(ctx, conn, m); err != nil {
		return m, err
	}

	outDir, err := os.MkdirTemp("", "creditmeter-out-")
	if err != nil {
		return m, fmt.Errorf("create output staging: %w", err)
	}
	defer os.RemoveAll(outDir)
	if err := stage("publish", func() (int64, error) {
		return r.finalizeAndRender(ctx, conn, m, now, outDir)
	}); err != nil {
		return m, err
	}
	// Delivery follows the commit, and the outbox is rendered again so that it shows this
	// run's delivery state (a re-run with nothing new then rewrites the same bytes).
	if sender := notify.NewSMTPSender(r.cfg.SMTP); sender != nil {
		sent, failed, err := notify.Deliver(ctx, conn, r.cfg, sender, now, log)
		if err != nil {
			log.Warn("notification delivery state not recorded; retried on the next run", "err", err)
		} else {
			log.Info("notifications delivered", "sent", sent, "failed", failed)
		}
		if err := notify.Render(ctx, conn, outDir); err != nil {
			return m, err
		}
		if m.Outputs, err = publish.List(outDir); err != nil {
			return m, err
		}
	}
	up := &publish.Uploader{Store: out, Log: log}
	if err := up.Upload(ctx, outDir, m.Outputs); err != nil {
		return m, err
	}
	m.Status = "succeeded"
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("encode run manifest: %w", err)
	}
	if err := up.PutBytes(ctx, "runs/"+m.RunID+".json", append(data, '\n')); err != nil {
		return m, err
	}
	if p := r.cfg.Analytics.LocalCopy; p != "" {
		if err := snapshot.Install(filepath.Join(outDir, filepath.FromSlash(snapshot.DBKey)), r.cfg.Resolve(p)); err != nil {
			log.Warn("analytics local copy not replaced", "path", r.cfg.Resolve(p), "err", err)
		}
	}
	log.Info("run done", "lines_read", rec.LinesRead, "accepted", rec.Accepted, "quarantined", rec.Quarantined,
		"duplicates", rec.Duplicates, "outputs", len(m.Outputs), "output", out.String())
	return m, nil
}

// ingest pulls the objects not read before and loads them in batches.
func (r *Runner) ingest(ctx context.Context, conn *sql.Conn, src objstore.Store, stageDir string, m *Manifest) (int64, error) {
	listing, err := src.List(ctx)
	if err != nil {
		return 0, err
	}
	known, err := load.Known(ctx, conn)
	if err != nil {
		return 0, err
	}
	todo := pull.Plan(listing, known)
	m.Objects.Listed = len(listing)
	ld, err := load.New(load.Config{Conn: conn, Log: r.log, RunSeq: m.RunSeq})
	if err != nil {
		return 0, err
	}
	f := &pull.Fetcher{Store: src, StageDir: stageDir, Log: r.log, Concurrency: r.cfg.PullConcurrency}
	const maxBatchBytes = 256 << 20
	var batch []pull.Fetched
	var batchBytes int64
	var lines int64
	flush := func() error {
		n, err := ld.Batch(ctx, batch)
		if err != nil {
			return err
		}
		lines += n
		m.Objects.Ingested += len(batch)
		for _, b := range batch {
			// staged copies go; local objects read in place stay
			if strings.HasPrefix(b.Path, stageDir+string(os.PathSeparator)) {
				_ = os.Remove(b.Path)
			}
		}
		batch, batchBytes = batch[:0], 0
		return nil
	}
	var fetched, fetchedBytes int64
	err = f.FetchAll(ctx, todo, func(fe pull.Fetched) error {
		batch = append(batch, fe)
		batchBytes += fe.Size
		fetched++
		fetchedBytes += fe.Size
		if r.progress != nil {
			r.progress.Stage("pull", fetched, int64(len(todo)))
			r.progress.Detail(fmt.Sprintf("%.1f MB, %d events loaded", float64(fetchedBytes)/1e6, lines))
		}
		if batchBytes >= maxBatchBytes || len(batch) >= r.batch {
			return flush()
		}
		return nil
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return lines, fmt.Errorf("%w (%v)", err, cause)
		}
		return lines, err
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return lines, err
		}
	}
	m.Objects.Lines = lines
	if err := conn.QueryRowContext(ctx, sqlText("skipped_objects.sql")).Scan(&m.Objects.Skipped); err != nil {
		return lines, fmt.Errorf("count skipped objects: %w", err)
	}
	return lines, nil
}

// lockOwner names this process in the run lock.
func lockOwner(runID string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d run %s", host, os.Getpid(), runID)
}

// finalizeAndRender freezes due periods, issues invoices and renders the outputs in one
// transaction: if rendering fails nothing is finalized.
func (r *Runner) finalizeAndRender(ctx context.Context, conn *sql.Conn, m *Manifest, now time.Time, outDir string) (int64, error) {
	err := warehouse.InTx(ctx, conn, func() error {
		if err := aggregate.Finalize(ctx, conn, m.RunSeq, now); err != nil {
			return err
		}
		if err := finalizedNow(ctx, conn, m); err != nil {
			return err
		}
		if _, err := publish.Render(ctx, conn, outDir, m.RunID); err != nil {
			return err
		}
		if err := documents.Write(ctx, conn, outDir, r.cfg, now); err != nil {
			return err
		}
		if err := notify.Record(ctx, conn, r.cfg, m.RunSeq); err != nil {
			return err
		}
		if err := notify.Render(ctx, conn, outDir); err != nil {
			return err
		}
		if _, err := snapshot.Write(ctx, conn, outDir); err != nil {
			return err
		}
		// every output is in outDir now: list them with their checksums
		files, err := publish.List(outDir)
		if err != nil {
			return err
		}
		m.Outputs = files
		return warehouse.Exec(ctx, conn, "run_record.sql", m.RunSeq, m.RunID, now, "succeeded")
	})
	if err != nil {
		return 0, fmt.Errorf("finalize and render: %w", err)
	}
	return int64(len(m.Outputs)), nil
}
