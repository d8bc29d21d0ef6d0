// Package jobs orchestrates runs of the pipeline: one run pulls and loads what is new,
// recomputes the open periods of the tenants that changed, finalizes and invoices what is
// due, and publishes what changed; the scheduler (serve) calls the same Runner.
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
	"strconv"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/fund"
	"github.com/creditmeter/creditmeter/pipeline/history"
	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/notify"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/publish"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Config configures a Runner.
type Config struct {
	Config *schemas.Config
	// File names the configuration in errors (the path given on the command line).
	File string
	Log  *slog.Logger
	// Clock reads the wall clock for durations and, without --now, the run's instant.
	Clock func() time.Time
	// Stores opens sources and outputs (local directories without S3 settings).
	Stores objstore.Options
	// Progress, when set, hears of each stage's advance (interactive terminals).
	Progress Progress
	// LockTTL is how long the run lock stands without renewal (0: the configuration's
	// lock_ttl); it is renewed every third of that while the run lasts.
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
	file     string
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
	if c.File == "" {
		c.File = "configuration"
	}
	return &Runner{cfg: c.Config, file: c.File, log: c.Log, clock: c.Clock, stores: c.Stores, progress: c.Progress,
		lockTTL: c.LockTTL, batch: c.BatchObjects}, nil
}

// Options are a run's command-line choices; empty ones fall back to the configuration.
type Options struct {
	Source    string
	Output    string
	Warehouse string
	Now       time.Time // zero: the clock
	// dryRun is set by DryRun for its run against a copy of the warehouse: no analysts'
	// snapshot.
	dryRun bool
	// shard, when set, makes the run one shard of a sharded round (jobs/shard.go; set by
	// RunShard only): nil is the single-machine run, unchanged.
	shard *shardRun
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
	// Recomputed counts the tenants whose open periods this run computed again.
	Recomputed int             `json:"tenants_recomputed"`
	Tenants    []TenantSummary `json:"tenants"`
	Finalized  []Finalized     `json:"finalized"`
	Stages     []StageTiming   `json:"stages"`
	// Outputs are the files this run wrote (a file whose bytes did not change is not
	// written); Index is the output index, which lists every current output.
	Outputs []publish.File `json:"outputs"`
	Index   publish.File   `json:"index"`
}

// ObjectCounts counts source objects.
type ObjectCounts struct {
	Listed     int   `json:"listed"`
	Ingested   int   `json:"ingested"`   // read in this run
	Unreadable int   `json:"unreadable"` // quarantined as unreadable_object in this run
	Skipped    int   `json:"skipped"`    // names that are not event objects, in this run
	Deferred   int   `json:"deferred"`   // past limits.max_objects_per_run: read by the next run
	Lines      int64 `json:"lines_ingested"`
	Bytes      int64 `json:"bytes_ingested"`
}

// Counts are the event counts over everything stored (BILLING.md section 2).
type Counts struct {
	LinesRead   int64 `json:"lines_read"`
	Accepted    int64 `json:"accepted"`
	Quarantined int64 `json:"quarantined"`
	Duplicates  int64 `json:"duplicates"`
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
	// PeakRSSMiB is the process's peak resident memory so far, as the stage ended (0 where
	// the system does not tell).
	PeakRSSMiB int64 `json:"peak_rss_mib"`
}

// PeakRSSMiB reads the process's peak resident set size (VmHWM) from /proc.
func PeakRSSMiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// RunID names a run after its instant and its number, so two runs at the same --now never
// share a name.
func RunID(now time.Time, seq int) string {
	return now.UTC().Format("20060102T150405Z") + "-" + fmt.Sprintf("%06d", seq)
}

// run is the state of one run.
type run struct {
	*Runner
	m    *Manifest
	log  *slog.Logger
	now  time.Time
	conn *sql.Conn
	// stageDir holds staged objects and the Arrow hand-offs between Go and DuckDB
	stageDir string
	// snapshotPath is the analysts' snapshot in the outbox
	snapshotPath string
	outbox       *publish.Outbox
	pub          *publish.Publisher
	// sh is the shard this run is (nil: a single-machine run)
	sh *shardRun
}

// Run runs the pipeline once.
func (r *Runner) Run(ctx context.Context, o Options) (m *Manifest, err error) {
	o = r.resolve(o)
	if o.Source == "" || o.Output == "" || o.Warehouse == "" {
		return nil, &schemas.ConfigError{File: r.file, Problems: []schemas.Problem{{Path: "source, output, warehouse", Reason: "must all be set"}}}
	}
	now := o.Now
	if now.IsZero() {
		now = r.clock()
	}
	now = now.UTC().Truncate(time.Microsecond)
	m = &Manifest{Now: now.Format(time.RFC3339Nano), Status: "failed", Source: o.Source, Output: o.Output}
	if err := r.checkLocations(o); err != nil {
		return m, err
	}
	src, err := objstore.Open(ctx, o.Source, r.stores)
	if err != nil {
		return m, err
	}
	out, err := objstore.Open(ctx, o.Output, r.stores)
	if err != nil {
		return m, err
	}
	// one run at a time per output
	ttl := r.lockTTL
	if ttl == 0 {
		ttl = r.cfg.LockTTL.Duration
	}
	lease, err := objstore.Lock(ctx, out, lockOwner(), objstore.LockOptions{Key: o.shard.lockKey(), TTL: ttl, Now: r.clock, Log: r.log})
	if err != nil {
		if errors.Is(err, objstore.ErrLockHeld) {
			m.Status = "skipped"
			r.log.Warn("another run holds the lock; nothing done", "err", err)
		}
		return m, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil {
			r.log.Error("release run lock", "err", rerr)
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
	// A source that does not exist is a mistake, never an empty source (exit 2): it is
	// found out before the warehouse is even opened.
	listing, err := o.shard.list(ctx, src)
	if err != nil {
		return m, err
	}
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

	if err := warehouse.QueryRow(ctx, conn, "run_next.sql", &m.RunSeq); err != nil {
		return m, fmt.Errorf("next run number: %w", err)
	}
	m.RunID = RunID(now, m.RunSeq)
	if err := warehouse.Exec(ctx, conn, "run_record.sql", m.RunSeq, m.RunID, now, r.clock().UTC()); err != nil {
		return m, err
	}
	x := &run{Runner: r, m: m, log: r.log.With("run_id", m.RunID), now: now, conn: conn, sh: o.shard}
	defer func() {
		if err != nil {
			_ = warehouse.Exec(context.WithoutCancel(ctx), conn, "run_status.sql", m.RunSeq, "failed")
		}
	}()

	// The configuration against history: nothing runs if it would move a final period.
	hist, err := history.Read(ctx, conn)
	if err != nil {
		return m, err
	}
	if cerr := hist.Check(r.cfg, r.file); cerr != nil {
		return m, cerr
	}
	stageDir := o.Warehouse + ".stage"
	if err := os.RemoveAll(stageDir); err != nil {
		return m, fmt.Errorf("clean staging %s: %w", stageDir, err)
	}
	if err := os.MkdirAll(stageDir, 0o700); err != nil {
		return m, fmt.Errorf("create staging %s: %w", stageDir, err)
	}
	defer os.RemoveAll(stageDir)
	x.stageDir = stageDir
	root := o.Warehouse + ".outbox"
	if x.outbox, err = publish.NewOutbox(ctx, conn, root, m.RunSeq); err != nil {
		return m, err
	}
	x.pub = &publish.Publisher{Store: out, Log: x.log, Conn: conn, Root: root}
	if err := x.sh.divert(x.outbox, o.Warehouse); err != nil {
		return m, err
	}

	// Outputs a run that died after committing left unpublished go first.
	if err := x.stage("recover", func() (int64, error) {
		done, err := x.pub.Upload(ctx)
		m.Outputs = append(m.Outputs, done...)
		return int64(len(done)), err
	}); err != nil {
		return m, err
	}
	cal, err := rate.NewCalendar(r.cfg, hist)
	if err != nil {
		return m, err
	}
	if err := rate.Prepare(ctx, conn, r.cfg, cal, now); err != nil {
		return m, err
	}
	if err := x.stage("ingest", func() (int64, error) {
		if x.sh != nil {
			return x.sh.ingest(ctx, x)
		}
		return x.ingest(ctx, src, listing, stageDir)
	}); err != nil {
		return m, err
	}
	err = warehouse.InTx(ctx, conn, func() error {
		_, err := x.compute(ctx, cal)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("compute: %w", err)
	}
	if err := x.deliver(ctx); err != nil {
		return m, err
	}
	// The analysts' snapshot follows every run, even one whose outputs did not change (it
	// may have loaded lines, duplicates say); it writes files only when its rows changed.
	if !o.dryRun {
		if err := x.stage("snapshot", func() (int64, error) {
			return x.snapshot(ctx, o.Warehouse+".analytics.duckdb")
		}); err != nil {
			return m, err
		}
	}
	if err := x.stage("publish", func() (int64, error) {
		done, err := x.pub.Upload(ctx)
		m.Outputs = append(m.Outputs, done...)
		return int64(len(done)), err
	}); err != nil {
		return m, err
	}
	if x.sh != nil {
		err = x.sh.finish(ctx, x)
	} else {
		err = x.finish(ctx)
	}
	if err != nil {
		return m, err
	}
	x.log.Info("run done", "lines_read", m.Counts.LinesRead, "accepted", m.Counts.Accepted,
		"quarantined", m.Counts.Quarantined, "duplicates", m.Counts.Duplicates,
		"tenants_recomputed", m.Recomputed, "outputs_written", len(m.Outputs), "output", out.String())
	return m, nil
}

// stage runs one timed stage of the run.
func (x *run) stage(name string, f func() (int64, error)) error {
	start := x.clock()
	if x.progress != nil {
		x.progress.Stage(name, 0, 0)
	}
	n, err := f()
	d := x.clock().Sub(start)
	peak := PeakRSSMiB()
	x.m.Stages = append(x.m.Stages, StageTiming{Stage: name, Rows: n, Seconds: d.Seconds(), PeakRSSMiB: peak})
	if err != nil {
		x.log.Error("stage failed", "stage", name, "err", err)
		return err
	}
	x.log.Info("stage done", "stage", name, "rows", n, "duration_s", d.Seconds(), "peak_rss_mib", peak)
	return nil
}

// checkLocations refuses an output or a warehouse inside the source: every run would read
// the previous run's outputs as events.
func (r *Runner) checkLocations(o Options) error {
	if probs := LocationProblems(o.Source, o.Output, o.Warehouse); len(probs) > 0 {
		return &schemas.ConfigError{File: r.file, Problems: probs}
	}
	return nil
}

// LocationProblems lists what is wrong with where a run reads and writes: a warehouse that
// is not a local file, an output or a warehouse inside the source.
func LocationProblems(source, output, warehouse string) []schemas.Problem {
	var probs []schemas.Problem
	if warehouse == ":memory:" || strings.Contains(warehouse, ":") && !filepath.IsAbs(warehouse) && strings.Index(warehouse, ":") > 1 {
		// an in-memory or remote database keeps nothing between runs: invoice numbers
		// would start again and published invoices be overwritten
		probs = append(probs, schemas.Problem{Path: "warehouse",
			Reason: fmt.Sprintf("%q is not a local file: invoice numbers and final periods would not be kept between runs", warehouse)})
	}
	for _, c := range []struct{ name, loc string }{{"output", output}, {"warehouse", filepath.Dir(warehouse)}} {
		in, err := objstore.Within(source, c.loc)
		if err != nil {
			probs = append(probs, schemas.Problem{Path: c.name, Reason: err.Error()})
			continue
		}
		if in {
			probs = append(probs, schemas.Problem{Path: c.name, Reason: fmt.Sprintf("%s lies inside the source %s: every run would read it as events", c.loc, source)})
		}
	}
	return probs
}

// ingest reads the objects not read before, in batches.
func (x *run) ingest(ctx context.Context, src objstore.Store, listing []objstore.Object, stageDir string) (int64, error) {
	known, next, err := load.Known(ctx, x.conn)
	if err != nil {
		return 0, err
	}
	lim := x.cfg.Limits
	todo, deferred, collisions := pull.Plan(listing, known, lim.MaxObjectsPerRun)
	x.m.Objects.Listed = len(listing)
	x.m.Objects.Deferred = deferred
	if deferred > 0 {
		x.log.Warn("more objects than limits.max_objects_per_run: the rest wait for the next run",
			"limit", lim.MaxObjectsPerRun, "deferred", deferred)
	}
	if collisions > 0 {
		x.log.Warn("objects whose names are not valid UTF-8 and read like another object's were skipped", "objects", collisions)
	}
	ld, err := load.New(ctx, load.Config{Conn: x.conn, Log: x.log, RunSeq: x.m.RunSeq,
		Limits: parseLimits(lim), MaxObjectBytes: int64(lim.MaxObjectBytes), StageDir: stageDir})
	if err != nil {
		return 0, err
	}
	defer ld.Close()
	const maxBatchBytes = 256 << 20
	var lines int64
	for len(todo) > 0 {
		n, size := 0, int64(0)
		for n < len(todo) && n < x.batch && (n == 0 || size+todo[n].Size <= maxBatchBytes) {
			size += todo[n].Size
			n++
		}
		done := x.m.Objects.Ingested
		res, err := ld.Batch(ctx, src, todo[:n], next, func(objects int, l int64) {
			if x.progress != nil {
				x.progress.Stage("ingest", int64(done+objects), int64(done+len(todo)))
				x.progress.Detail(fmt.Sprintf("%d events loaded", lines+l))
			}
		})
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				return lines, fmt.Errorf("%w (%v)", err, cause)
			}
			return lines, err
		}
		for _, t := range todo[:n] {
			if t.Format == pull.FormatSkipped {
				x.m.Objects.Skipped++
			}
		}
		lines += res.Lines
		x.m.Objects.Ingested += res.Objects
		x.m.Objects.Unreadable += res.Unreadable
		x.m.Objects.Bytes += res.Bytes
		next += int32(n)
		todo = todo[n:]
	}
	x.m.Objects.Lines = lines
	return lines, nil
}

// lockOwner names this process in the run lock.
func lockOwner() string {
	host, _ := os.Hostname()
	return host + " pid " + strconv.Itoa(os.Getpid())
}

// manifestKey is where a run's manifest goes.
func manifestKey(runID string) string { return "runs/" + runID + ".json" }

// finish writes the output index and the manifest, last, and records the run as succeeded.
func (x *run) finish(ctx context.Context) error {
	if err := x.summarize(ctx); err != nil {
		return err
	}
	ids, err := runIDs(ctx, x.conn)
	if err != nil {
		return err
	}
	if x.m.Index, err = x.pub.Index(ctx, ids); err != nil {
		return err
	}
	x.m.Status = "succeeded"
	data, err := json.MarshalIndent(x.m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode run manifest: %w", err)
	}
	if err := x.pub.PutBytes(ctx, manifestKey(x.m.RunID), append(data, '\n')); err != nil {
		return err
	}
	if err := warehouse.Exec(ctx, x.conn, "run_status.sql", x.m.RunSeq, "succeeded"); err != nil {
		return err
	}
	return nil
}

// deliver sends the notifications not yet sent, once the results are committed, and
// renders the outbox again when their state changed.
func (x *run) deliver(ctx context.Context) error {
	sender := notify.NewSMTPSender(x.cfg.SMTP)
	if sender == nil {
		return nil
	}
	sent, failed, err := notify.Deliver(ctx, x.conn, x.cfg, sender, x.now, x.log)
	if err != nil {
		x.log.Warn("notification delivery state not recorded; retried on the next run", "err", err)
		return nil
	}
	x.log.Info("notifications delivered", "sent", sent, "failed", failed)
	if sent+failed == 0 {
		return nil
	}
	return warehouse.InTx(ctx, x.conn, func() error {
		if err := notify.Render(ctx, x.conn, x.outbox.Dir()); err != nil {
			return err
		}
		_, err := x.outbox.Collect(ctx, x.conn)
		return err
	})
}

// fundTenants is the waterfall's view of the contracts, indexed by tenant number.
func fundTenants(cfg *schemas.Config, cal *rate.Calendar) []fund.Tenant {
	out := make([]fund.Tenant, len(cfg.Tenants))
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		ft := fund.Tenant{
			Block:   t.Overage.Policy == schemas.PolicyBlock,
			PlanE4:  rate.E4(t.CreditsPlan),
			Periods: len(cal.Periods[i]),
		}
		for _, d := range t.Bank {
			ft.Deposits = append(ft.Deposits, fund.Deposit{AtUS: d.At.In(t.Location).UnixMicro(), CreditE4: rate.E4(d.Credits)})
		}
		for _, m := range t.Members {
			ft.CapsE4 = append(ft.CapsE4, rate.E4(m.Cap))
		}
		names := rate.PoolNames(t)
		ft.PoolsE4 = make([]int64, len(names))
		for n, name := range names {
			var sum int64
			for _, a := range t.Allowances {
				if a.Pool == name {
					sum += rate.E4(a.Units)
				}
			}
			ft.PoolsE4[n] = sum
		}
		out[i] = ft
	}
	return out
}
