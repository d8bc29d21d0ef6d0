package jobs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func wantLines(t *testing.T, what, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("%s: no line %q", what, l)
		}
	}
}

// TestMetricsAndReadiness: /healthz, /readyz and /metrics before any run, after a good run
// of the real pipeline (through the scheduler's --once path), once that run is too old, and
// after a failed run.
func TestMetricsAndReadiness(t *testing.T) {
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "15"), tenantYAML("blk", "overage", "{policy: block}", "credits_plan", "5")))
	w.put("2026/01/a.jsonl", lines(ev("a1"), ev("a2"), ev("a3", "tenant_id", "blk"), "not json",
		ev("a4", "tenant_id", "nobody"), ev("a1")))
	w.put("2026/01/b.jsonl", lines(ev("b1", "event_type", "nope")))
	cfg, err := schemas.ParseConfig([]byte(w.cfg), "test.yaml", w.root)
	if err != nil {
		t.Fatal(err)
	}
	runner, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	metrics := jobs.NewMetrics(clock)
	srv := httptest.NewServer(metrics.Handler(6 * time.Hour))
	defer srv.Close()

	if code, body := get(t, srv, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "no run") {
		t.Errorf("/readyz before any run: %d %q", code, body)
	}

	// Given a good run,
	opts := jobs.Options{Source: w.src, Output: w.out, Warehouse: w.wh, Now: now}
	s, err := jobs.NewScheduler(jobs.SchedulerConfig{Job: runner, Options: opts,
		OnStart: func(time.Time) { metrics.Started() }, OnDone: metrics.Observe})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Once(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv, "/readyz"); code != 200 || !strings.Contains(body, "20260310T120000Z") {
		t.Errorf("/readyz after a good run: %d %q", code, body)
	}
	code, body := get(t, srv, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	wantLines(t, "metrics after a good run", body,
		`creditmeter_runs_total{outcome="succeeded"} 1`,
		`creditmeter_runs_total{outcome="failed"} 0`,
		`creditmeter_run_duration_seconds_count 1`,
		`creditmeter_objects_ingested_total 2`,
		`creditmeter_events_ingested_total 7`,
		`creditmeter_quarantined_events{reason="malformed"} 1`,
		`creditmeter_quarantined_events{reason="unknown_tenant"} 1`,
		`creditmeter_quarantined_events{reason="unknown_event_type"} 1`,
		`creditmeter_credits{bucket="rated",tenant_id="acme"} 20`,
		`creditmeter_credits{bucket="plan",tenant_id="acme"} 15`,
		`creditmeter_credits{bucket="exceeding",tenant_id="acme"} 5`,
		`creditmeter_credits{bucket="plan",tenant_id="blk"} 5`,
		`creditmeter_credits{bucket="blocked",tenant_id="blk"} 5`,
		`creditmeter_last_success_timestamp_seconds 1.773144e+09`,
		`creditmeter_last_run_succeeded 1`,
		`creditmeter_run_in_progress 0`,
	)
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "creditmeter_credits{") && !strings.Contains(l, `tenant_id="acme"`) && !strings.Contains(l, `tenant_id="blk"`) {
			t.Errorf("a series for an unknown tenant: %s", l)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}

	// When the last success grows older than the maximum age, the process is not ready.
	mu.Lock()
	now = now.Add(7 * time.Hour)
	mu.Unlock()
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "more than 6h0m0s") {
		t.Errorf("/readyz with an old success: %d %q", code, body)
	}

	// Given a failed run (the warehouse path is a directory),
	bad := filepath.Join(w.root, "not-a-file")
	if err := os.MkdirAll(filepath.Join(bad, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts.Warehouse = bad
	s, _ = jobs.NewScheduler(jobs.SchedulerConfig{Job: runner, Options: opts, OnDone: metrics.Observe})
	if err := s.Once(context.Background()); err == nil {
		t.Fatal("the run should fail")
	}
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "the last run failed") {
		t.Errorf("/readyz after a failed run: %d %q", code, body)
	}
	if code, body := get(t, srv, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz after a failed run: %d %q", code, body)
	}
	_, body = get(t, srv, "/metrics")
	wantLines(t, "metrics after a failed run", body,
		`creditmeter_runs_total{outcome="succeeded"} 1`,
		`creditmeter_runs_total{outcome="failed"} 1`,
		`creditmeter_run_duration_seconds_count 2`,
		`creditmeter_last_success_timestamp_seconds 1.773144e+09`,
		`creditmeter_last_run_succeeded 0`,
		`creditmeter_quarantined_events{reason="malformed"} 1`,
	)
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestLockedRunLeavesReadiness: a run that found another run holding the lock did nothing;
// it is counted as locked and does not change readiness.
func TestLockedRunLeavesReadiness(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	m := jobs.NewMetrics(func() time.Time { return now })
	// Given a successful run
	m.Observe(jobs.RunResult{Outcome: jobs.OutcomeSucceeded, Duration: time.Second})
	// When a later run finds the lock held
	m.Observe(jobs.RunResult{Outcome: jobs.OutcomeLocked})
	// Then the process is still ready
	if ok, why := m.Ready(time.Hour); !ok {
		t.Fatalf("not ready after a locked run: %s", why)
	}
}
