package jobs_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
)

// fakeClock is a manual clock: After registers a waiter that fires when Advance passes it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	changed chan struct{}
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now string) *fakeClock {
	return &fakeClock{now: mustTime(now), changed: make(chan struct{}, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.changed <- struct{}{}
	return ch
}

// next is the earliest pending waiter's instant.
func (c *fakeClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiters) == 0 {
		return time.Time{}, false
	}
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	return c.waiters[0].at, true
}

// Advance moves the clock to t and fires every waiter due by then.
func (c *fakeClock) Advance(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- w.at
			continue
		}
		keep = append(keep, w)
	}
	c.waiters = keep
}

// waitWaiters blocks until at least n waiters are pending.
func (c *fakeClock) waitWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		c.mu.Lock()
		k := len(c.waiters)
		c.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-c.changed:
		case <-time.After(time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %d clock waiters (have %d)", n, k)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fakeJob records its runs; block, when set, holds each run until released or cancelled.
type fakeJob struct {
	mu      sync.Mutex
	clock   jobs.Clock
	starts  []time.Time
	started chan struct{}
	release chan struct{}
	block   bool
	err     error
	ctxErr  error
}

func newFakeJob(clock jobs.Clock, block bool) *fakeJob {
	return &fakeJob{clock: clock, block: block, started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (j *fakeJob) Run(ctx context.Context, _ jobs.Options) (*jobs.Manifest, error) {
	j.mu.Lock()
	j.starts = append(j.starts, j.clock.Now())
	j.mu.Unlock()
	j.started <- struct{}{}
	if j.block {
		select {
		case <-j.release:
		case <-ctx.Done():
			j.mu.Lock()
			j.ctxErr = ctx.Err()
			j.mu.Unlock()
			return &jobs.Manifest{RunID: "x"}, ctx.Err()
		}
	}
	return &jobs.Manifest{RunID: "x", Status: "succeeded"}, j.err
}

func (j *fakeJob) runs() []time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]time.Time(nil), j.starts...)
}

func utc(ts []time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return out
}

// TestScheduleNextAcrossDST: schedules in CRON_TZ=Europe/Rome (and America/New_York) fire
// at the right UTC instants across the spring-forward and fall-back changes: a wall time the
// change skips fires at the change, a repeated one fires once, hourly schedules follow the
// clock, and several schedules merge.
func TestScheduleNextAcrossDST(t *testing.T) {
	cases := []struct {
		name  string
		specs []string
		from  string
		want  []string
	}{
		{"Rome 02:30 daily, spring forward (02:00-03:00 skipped on 29 March)",
			[]string{"CRON_TZ=Europe/Rome 30 2 * * *"}, "2026-03-27T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"Rome 02:30 daily, fall back (02:00-03:00 twice on 25 October)",
			[]string{"CRON_TZ=Europe/Rome 30 2 * * *"}, "2026-10-23T12:00:00Z",
			[]string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Rome 04:00 daily keeps local time: 23h and 25h days",
			[]string{"CRON_TZ=Europe/Rome 0 4 * * *"}, "2026-03-28T00:00:00Z",
			[]string{"2026-03-28T03:00:00Z", "2026-03-29T02:00:00Z", "2026-03-30T02:00:00Z"}},
		{"Rome hourly follows the clock through fall back",
			[]string{"CRON_TZ=Europe/Rome 0 * * * *"}, "2026-10-24T23:30:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
		{"several schedules in different zones merge (one tick where they coincide)",
			[]string{"CRON_TZ=UTC 0 2,14 * * *", "CRON_TZ=America/New_York 0 9 * * *"}, "2026-03-07T00:00:00Z",
			[]string{"2026-03-07T02:00:00Z", "2026-03-07T14:00:00Z",
				"2026-03-08T02:00:00Z", "2026-03-08T13:00:00Z", "2026-03-08T14:00:00Z"}},
		{"no CRON_TZ: the scheduler's location (UTC)",
			[]string{"15 6 * * *"}, "2026-03-29T00:00:00Z",
			[]string{"2026-03-29T06:15:00Z", "2026-03-30T06:15:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scheds, err := jobs.ParseSchedules(c.specs, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Time
			at := mustTime(c.from)
			for range c.want {
				at = jobs.Next(scheds, at)
				got = append(got, at)
			}
			if g := utc(got); !equal(g, c.want) {
				t.Errorf("fires at\n got  %v\n want %v", g, c.want)
			}
		})
	}
	if _, err := jobs.ParseSchedules([]string{"0 0 2 * * *"}, nil); err == nil {
		t.Error("a six-field (seconds) spec should be refused")
	}
	if _, err := jobs.ParseSchedules([]string{"CRON_TZ=Mars/Olympus 0 2 * * *"}, nil); err == nil {
		t.Error("an unknown CRON_TZ should be refused")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSchedulerFiresOnInjectedClock: Serve driven by a fake clock starts runs exactly at the
// schedule's instants across the Rome spring-forward change.
func TestSchedulerFiresOnInjectedClock(t *testing.T) {
	clock := newFakeClock("2026-03-27T12:00:00Z")
	job := newFakeJob(clock, false)
	var mu sync.Mutex
	var done []jobs.RunResult
	s, err := jobs.NewScheduler(jobs.SchedulerConfig{Job: job, Clock: clock,
		Schedules: []string{"CRON_TZ=Europe/Rome 30 2 * * *"},
		OnDone: func(r jobs.RunResult) {
			mu.Lock()
			done = append(done, r)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	want := []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}
	for i := range want {
		clock.waitWaiters(t, 1)
		at, _ := clock.next()
		clock.Advance(at)
		<-job.started
		waitFor(t, func() bool { return !s.Running() })
		if got := utc(job.runs()); got[i] != want[i] {
			t.Fatalf("run %d at %s, want %s", i, got[i], want[i])
		}
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if got := utc(job.runs()); !equal(got, want) {
		t.Errorf("runs started at\n got  %v\n want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(done) != 3 || done[1].Outcome != jobs.OutcomeSucceeded || !done[1].Tick.Equal(mustTime(want[1])) {
		t.Errorf("results %+v", done)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSchedulerSkipsOverlappingTicks: a tick that finds a run going is skipped and logged,
// and the next tick after the run ends runs.
func TestSchedulerSkipsOverlappingTicks(t *testing.T) {
	clock := newFakeClock("2026-01-01T00:00:30Z")
	job := newFakeJob(clock, true)
	var skipped []time.Time
	var mu sync.Mutex
	s, err := jobs.NewScheduler(jobs.SchedulerConfig{Job: job, Clock: clock,
		Schedules: []string{"CRON_TZ=UTC */5 * * * *"},
		OnSkip: func(tick time.Time) {
			mu.Lock()
			skipped = append(skipped, tick)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()

	advanceToNext := func() {
		clock.waitWaiters(t, 1)
		at, _ := clock.next()
		clock.Advance(at)
	}
	advanceToNext() // 00:05 starts a run that blocks
	<-job.started
	advanceToNext() // 00:10: the run is still going
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(skipped) == 1 })
	advanceToNext() // 00:15: still going
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(skipped) == 2 })
	job.release <- struct{}{}
	waitFor(t, func() bool { return !s.Running() })
	advanceToNext() // 00:20 runs
	<-job.started
	job.release <- struct{}{}
	waitFor(t, func() bool { return !s.Running() })
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if got, want := utc(job.runs()), []string{"2026-01-01T00:05:00Z", "2026-01-01T00:20:00Z"}; !equal(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	if got, want := utc(skipped), []string{"2026-01-01T00:10:00Z", "2026-01-01T00:15:00Z"}; !equal(got, want) {
		t.Errorf("skipped %v, want %v", got, want)
	}
	// A direct Tick while a run goes is refused too.
	job2 := newFakeJob(jobs.SystemClock{}, true)
	s2, _ := jobs.NewScheduler(jobs.SchedulerConfig{Job: job2, Schedules: []string{"@daily"}})
	if !s2.Tick(time.Now()) {
		t.Fatal("first tick should start a run")
	}
	<-job2.started
	if s2.Tick(time.Now()) {
		t.Error("second tick started a run while one was going")
	}
	job2.release <- struct{}{}
	waitFor(t, func() bool { return !s2.Running() })
}

// TestSchedulerShutdown: on shutdown a run that finishes within the deadline is let finish;
// one that does not is cancelled at the deadline and Serve returns within deadline + grace.
func TestSchedulerShutdown(t *testing.T) {
	t.Run("run finishes within the deadline", func(t *testing.T) {
		job := newFakeJob(jobs.SystemClock{}, true)
		var res []jobs.RunResult
		var mu sync.Mutex
		s, _ := jobs.NewScheduler(jobs.SchedulerConfig{Job: job, Schedules: []string{"@daily"},
			ShutdownTimeout: 5 * time.Second, AbortGrace: time.Second,
			OnDone: func(r jobs.RunResult) { mu.Lock(); res = append(res, r); mu.Unlock() }})
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx) }()
		s.Tick(time.Now())
		<-job.started
		cancel()
		time.AfterFunc(50*time.Millisecond, func() { job.release <- struct{}{} })
		start := time.Now()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("shutdown took %v", d)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(res) != 1 || res[0].Outcome != jobs.OutcomeSucceeded || job.ctxErr != nil {
			t.Errorf("the run should have finished normally: %+v ctx %v", res, job.ctxErr)
		}
		if s.Tick(time.Now()) {
			<-job.started
		}
	})
	t.Run("run aborted at the deadline", func(t *testing.T) {
		job := newFakeJob(jobs.SystemClock{}, true)
		var res []jobs.RunResult
		var mu sync.Mutex
		const deadline = 200 * time.Millisecond
		s, _ := jobs.NewScheduler(jobs.SchedulerConfig{Job: job, Schedules: []string{"@daily"},
			ShutdownTimeout: deadline, AbortGrace: time.Second,
			OnDone: func(r jobs.RunResult) { mu.Lock(); res = append(res, r); mu.Unlock() }})
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx) }()
		s.Tick(time.Now())
		<-job.started
		start := time.Now()
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if d < deadline || d > deadline+time.Second {
			t.Errorf("shutdown took %v, want the deadline %v (plus a little)", d, deadline)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(res) != 1 || res[0].Outcome != jobs.OutcomeAborted || !errors.Is(job.ctxErr, context.Canceled) {
			t.Errorf("the run should have been aborted: %+v ctx %v", res, job.ctxErr)
		}
	})
	t.Run("a run that ignores cancellation", func(t *testing.T) {
		stuck := &stuckJob{started: make(chan struct{}, 1), stop: make(chan struct{})}
		defer close(stuck.stop)
		s, _ := jobs.NewScheduler(jobs.SchedulerConfig{Job: stuck, Schedules: []string{"@daily"},
			ShutdownTimeout: 50 * time.Millisecond, AbortGrace: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx) }()
		s.Tick(time.Now())
		<-stuck.started
		start := time.Now()
		cancel()
		if err := <-served; !errors.Is(err, jobs.ErrShutdownTimeout) {
			t.Errorf("err %v, want ErrShutdownTimeout", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("shutdown took %v", d)
		}
	})
	t.Run("once: run timeout and exit status", func(t *testing.T) {
		job := newFakeJob(jobs.SystemClock{}, true)
		s, _ := jobs.NewScheduler(jobs.SchedulerConfig{Job: job, RunTimeout: 50 * time.Millisecond})
		err := s.Once(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("once with a run timeout: %v", err)
		}
		ok := newFakeJob(jobs.SystemClock{}, false)
		s, _ = jobs.NewScheduler(jobs.SchedulerConfig{Job: ok})
		if err := s.Once(context.Background()); err != nil {
			t.Errorf("once: %v", err)
		}
		ok.err = errors.New("boom")
		if err := s.Once(context.Background()); err == nil {
			t.Error("once should return the run's error")
		}
	})
}

type stuckJob struct {
	started chan struct{}
	stop    chan struct{}
}

func (j *stuckJob) Run(context.Context, jobs.Options) (*jobs.Manifest, error) {
	j.started <- struct{}{}
	<-j.stop
	return nil, errors.New("stopped")
}
