package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/creditmeter/creditmeter/schemas"
)

// Defaults of the scheduler (configuration `serve:`).
const (
	DefaultRunTimeout      = 2 * time.Hour
	DefaultShutdownTimeout = 5 * time.Minute
	// DefaultAbortGrace is how long a run aborted at the shutdown deadline has to return.
	DefaultAbortGrace = 15 * time.Second
)

// Job is what the scheduler runs: *Runner is one.
type Job interface {
	Run(ctx context.Context, o Options) (*Manifest, error)
}

// Clock is the scheduler's view of time; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RunResult is one finished run, as the scheduler hands it to OnDone.
type RunResult struct {
	Tick     time.Time // the scheduled instant (zero for --once)
	Start    time.Time
	Duration time.Duration
	Manifest *Manifest // may be nil or partial when Err is set
	Err      error
	Outcome  string // OutcomeSucceeded, OutcomeFailed, OutcomeTimeout, OutcomeAborted or OutcomeLocked
}

// Run outcomes (the `outcome` label of creditmeter_runs_total).
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeTimeout   = "timeout"
	OutcomeAborted   = "aborted" // cancelled by shutdown
	OutcomeLocked    = "locked"  // another run (another daemon) held the lock: nothing done
)

// ErrShutdownTimeout is returned when a run aborted at the shutdown deadline did not
// return within the abort grace.
var ErrShutdownTimeout = errors.New("shutdown: the run did not stop in time")

// Scheduler runs a Job on cron schedules, one run at a time.
type Scheduler struct {
	job       Job
	opts      Options
	schedules []cron.Schedule
	specs     []string
	clock     Clock
	log       *slog.Logger

	runTimeout      time.Duration
	shutdownTimeout time.Duration
	abortGrace      time.Duration
	onStart         func(tick time.Time)
	onDone          func(RunResult)
	onSkip          func(tick time.Time)

	mu      sync.Mutex
	running bool
	done    chan struct{} // closed when the current run returns
	cancel  context.CancelCauseFunc
}

// SchedulerConfig configures a Scheduler. Zero durations take the defaults.
type SchedulerConfig struct {
	Job     Job
	Options Options
	// Schedules are standard five-field cron specs (minute hour dom month dow, no seconds)
	// or descriptors (@daily, @every 1h), each optionally prefixed by CRON_TZ=Zone.
	Schedules []string
	// Location applies to schedules without CRON_TZ= (default: UTC).
	Location        *time.Location
	Clock           Clock
	Log             *slog.Logger
	RunTimeout      time.Duration
	ShutdownTimeout time.Duration
	AbortGrace      time.Duration
	// OnStart hears of every run that starts.
	OnStart func(tick time.Time)
	// OnDone hears of every finished run (metrics, the analysts' local copy).
	OnDone func(RunResult)
	// OnSkip hears of every tick skipped because a run was still going.
	OnSkip func(tick time.Time)
}

// ParseSchedules parses cron specs: five fields, seconds off, CRON_TZ= (or TZ=) honoured;
// specs without a zone are read in loc. The rules live in schemas.ParseSchedule, so that
// configuration validation refuses for every command what the scheduler would refuse.
func ParseSchedules(specs []string, loc *time.Location) ([]cron.Schedule, error) {
	return schemas.ParseSchedules(specs, loc)
}

// Next is the earliest instant after t at which any of the schedules fires.
func Next(schedules []cron.Schedule, t time.Time) time.Time {
	var next time.Time
	for _, s := range schedules {
		n := s.Next(t)
		if n.IsZero() {
			continue
		}
		if next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return next
}

// NewScheduler parses the schedules and applies defaults.
func NewScheduler(c SchedulerConfig) (*Scheduler, error) {
	if c.Job == nil {
		return nil, errors.New("scheduler: no job")
	}
	var scheds []cron.Schedule
	if len(c.Schedules) > 0 {
		var err error
		if scheds, err = ParseSchedules(c.Schedules, c.Location); err != nil {
			return nil, err
		}
	}
	s := &Scheduler{
		job: c.Job, opts: c.Options, schedules: scheds, specs: c.Schedules, clock: c.Clock, log: c.Log,
		runTimeout: c.RunTimeout, shutdownTimeout: c.ShutdownTimeout, abortGrace: c.AbortGrace,
		onStart: c.OnStart, onDone: c.OnDone, onSkip: c.OnSkip,
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.runTimeout <= 0 {
		s.runTimeout = DefaultRunTimeout
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	if s.abortGrace <= 0 {
		s.abortGrace = DefaultAbortGrace
	}
	return s, nil
}

// Next is the scheduler's next tick after t.
func (s *Scheduler) Next(t time.Time) time.Time { return Next(s.schedules, t) }

// LongestGap is the longest interval between consecutive ticks over the n ticks after t
// (readiness uses it to choose a default maximum age).
func (s *Scheduler) LongestGap(t time.Time, n int) time.Duration {
	var gap time.Duration
	prev := t
	for i := 0; i < n; i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if i > 0 && next.Sub(prev) > gap {
			gap = next.Sub(prev)
		}
		prev = next
	}
	return gap
}

// Serve fires runs on the schedules until ctx is cancelled (SIGINT/SIGTERM), then stops
// taking ticks and shuts down: the current run may finish within the shutdown timeout,
// after which its context is cancelled (the run rolls back at its next statement) and it
// has the abort grace to return.
func (s *Scheduler) Serve(ctx context.Context) error {
	if len(s.schedules) == 0 {
		return errors.New("serve: no cron schedule configured")
	}
	s.log.Info("scheduler started", "schedules", s.specs, "next", s.Next(s.clock.Now()),
		"run_timeout", s.runTimeout, "shutdown_timeout", s.shutdownTimeout)
	var last time.Time
	for {
		now := s.clock.Now()
		from := now
		if from.Before(last) { // the wall clock stepped back: never fire a tick twice
			from = last
		}
		next := s.Next(from)
		if next.IsZero() {
			s.log.Warn("no further scheduled run")
			<-ctx.Done()
			return s.Shutdown()
		}
		select {
		case <-ctx.Done():
			return s.Shutdown()
		case <-s.clock.After(next.Sub(now)):
		}
		if ctx.Err() != nil {
			return s.Shutdown()
		}
		last = next
		s.Tick(next)
	}
}

// Tick starts a run for the tick unless one is still going, in which case the tick is
// skipped and logged. It reports whether a run started.
func (s *Scheduler) Tick(tick time.Time) bool {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		s.log.Warn("tick skipped: a run is still going", "tick", tick)
		if s.onSkip != nil {
			s.onSkip(tick)
		}
		return false
	}
	ctx, done := s.begin()
	s.mu.Unlock()
	go s.execute(ctx, tick, done)
	return true
}

// begin marks a run as going and makes its context; s.mu is held.
func (s *Scheduler) begin() (context.Context, chan struct{}) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s.running, s.cancel = true, cancel
	s.done = make(chan struct{})
	return ctx, s.done
}

// Once runs the job a single time (`serve --once`) and returns its error. Cancelling ctx
// (SIGINT/SIGTERM) lets the run finish within the shutdown timeout, then aborts it.
func (s *Scheduler) Once(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("once: a run is already going")
	}
	rctx, done := s.begin()
	s.mu.Unlock()
	var res RunResult
	finished := make(chan struct{})
	go func() {
		res = s.executeResult(rctx, time.Time{}, done)
		close(finished)
	}()
	select {
	case <-finished:
		return res.Err
	case <-ctx.Done():
	}
	if err := s.Shutdown(); err != nil {
		return err
	}
	<-finished
	return res.Err
}

func (s *Scheduler) execute(ctx context.Context, tick time.Time, done chan struct{}) {
	s.executeResult(ctx, tick, done)
}

func (s *Scheduler) executeResult(ctx context.Context, tick time.Time, done chan struct{}) (res RunResult) {
	defer func() {
		s.mu.Lock()
		if s.cancel != nil {
			s.cancel(nil)
		}
		s.running, s.cancel = false, nil
		s.mu.Unlock()
		close(done)
	}()
	tctx, tcancel := context.WithTimeout(ctx, s.runTimeout)
	defer tcancel()
	start := s.clock.Now()
	s.log.Info("run starting", "tick", tick)
	if s.onStart != nil {
		s.onStart(tick)
	}
	m, err := s.job.Run(tctx, s.opts)
	res = RunResult{Tick: tick, Start: start, Duration: s.clock.Now().Sub(start), Manifest: m, Err: err, Outcome: OutcomeSucceeded}
	switch {
	case err == nil:
	case errors.Is(err, ErrLocked):
		res.Outcome, res.Err = OutcomeLocked, nil
	case errors.Is(context.Cause(ctx), errAborted):
		res.Outcome = OutcomeAborted
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		res.Outcome = OutcomeTimeout
		res.Err = fmt.Errorf("run timed out after %v: %w", s.runTimeout, err)
	default:
		res.Outcome = OutcomeFailed
	}
	attrs := []any{"tick", tick, "outcome", res.Outcome, "duration", res.Duration.Round(time.Millisecond)}
	if m != nil {
		attrs = append(attrs, "run_id", m.RunID)
	}
	if res.Err != nil {
		s.log.Error("run failed", append(attrs, "err", res.Err)...)
	} else {
		s.log.Info("run finished", attrs...)
	}
	if s.onDone != nil {
		s.onDone(res)
	}
	return res
}

var errAborted = errors.New("aborted by shutdown")

// Running reports whether a run is going.
func (s *Scheduler) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// Shutdown waits for the current run, if any, up to the shutdown timeout; then cancels it
// and waits up to the abort grace for it to return. No new run starts once Serve's context
// is done.
func (s *Scheduler) Shutdown() error {
	s.mu.Lock()
	running, done := s.running, s.done
	s.mu.Unlock()
	if !running {
		s.log.Info("scheduler stopped")
		return nil
	}
	s.log.Info("shutting down: waiting for the current run", "deadline", s.shutdownTimeout)
	select {
	case <-done:
		s.log.Info("scheduler stopped after the current run")
		return nil
	case <-s.clock.After(s.shutdownTimeout):
	}
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel(errAborted)
	}
	s.mu.Unlock()
	s.log.Warn("shutdown deadline passed: aborting the current run", "grace", s.abortGrace)
	select {
	case <-done:
		s.log.Info("scheduler stopped: the run was aborted")
		return nil
	case <-s.clock.After(s.abortGrace):
		return ErrShutdownTimeout
	}
}
