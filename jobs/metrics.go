package jobs

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records the outcome of runs for /metrics and /readyz. It uses its own registry.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	runs          *prometheus.CounterVec
	duration      prometheus.Histogram
	skipped       prometheus.Counter
	objects       prometheus.Counter
	events        prometheus.Counter
	quarantined   *prometheus.GaugeVec
	credits       *prometheus.GaugeVec
	lastSuccess   prometheus.Gauge
	lastRun       prometheus.Gauge
	running       prometheus.Gauge
	ready         prometheus.Gauge
	mu            sync.Mutex
	lastOutcome   string
	lastErr       string
	lastSuccessAt time.Time
	lastRunID     string
	tenants       map[string]bool
}

// SetTenants limits the per-tenant series to the configured tenants; without it, tenants
// that rated no credit (unknown tenant ids of quarantined lines) are left out.
func (m *Metrics) SetTenants(ids []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenants = map[string]bool{}
	for _, id := range ids {
		m.tenants[id] = true
	}
}

// NewMetrics makes the collectors on a new registry; now reads the clock (nil: time.Now).
func NewMetrics(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		now: now,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "creditmeter_runs_total", Help: "Runs finished, by outcome (succeeded, failed, timeout, aborted).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "creditmeter_run_duration_seconds",
			Help:    "Duration of finished runs.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400},
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "creditmeter_ticks_skipped_total", Help: "Scheduled ticks skipped because a run was still going.",
		}),
		objects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "creditmeter_objects_ingested_total", Help: "Source objects read and loaded, over all runs.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "creditmeter_events_ingested_total", Help: "Event lines loaded from source objects, over all runs.",
		}),
		quarantined: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "creditmeter_quarantined_events", Help: "Quarantined event lines in the warehouse by reason, as of the last successful run.",
		}, []string{"reason"}),
		credits: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "creditmeter_credits", Help: "Credits per tenant by bucket (rated, plan, bank, exceeding, blocked), as of the last successful run.",
		}, []string{"tenant_id", "bucket"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "creditmeter_last_success_timestamp_seconds", Help: "Unix time at which the last successful run finished.",
		}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "creditmeter_last_run_timestamp_seconds", Help: "Unix time at which the last run finished, whatever its outcome.",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "creditmeter_run_in_progress", Help: "1 while a run is going.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "creditmeter_last_run_succeeded", Help: "1 when the last finished run succeeded.",
		}),
	}
	for _, o := range []string{OutcomeSucceeded, OutcomeFailed, OutcomeTimeout, OutcomeAborted, OutcomeLocked} {
		m.runs.WithLabelValues(o) // export zeros
	}
	m.reg.MustRegister(m.runs, m.duration, m.skipped, m.objects, m.events, m.quarantined, m.credits,
		m.lastSuccess, m.lastRun, m.running, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the metrics' own registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Started marks a run as going.
func (m *Metrics) Started() { m.running.Set(1) }

// Skipped counts a skipped tick.
func (m *Metrics) Skipped(time.Time) { m.skipped.Inc() }

// Observe records a finished run.
func (m *Metrics) Observe(r RunResult) {
	m.running.Set(0)
	outcome := r.Outcome
	if outcome == "" {
		outcome = OutcomeSucceeded
		if r.Err != nil {
			outcome = OutcomeFailed
		}
	}
	m.runs.WithLabelValues(outcome).Inc()
	if outcome == OutcomeLocked {
		return // another process ran: readiness and totals are its business
	}
	m.duration.Observe(r.Duration.Seconds())
	end := m.now()
	m.lastRun.Set(float64(end.UnixNano()) / 1e9)
	if man := r.Manifest; man != nil {
		// Objects loaded are committed batch by batch, so they count even when a later
		// stage fails.
		m.objects.Add(float64(man.Objects.Ingested))
		m.events.Add(float64(man.Objects.Lines))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastOutcome = outcome
	m.lastErr = ""
	if r.Err != nil {
		m.lastErr = r.Err.Error()
		m.ready.Set(0)
		return
	}
	m.ready.Set(1)
	m.lastSuccessAt = end
	m.lastSuccess.Set(float64(end.UnixNano()) / 1e9)
	if man := r.Manifest; man != nil {
		m.lastRunID = man.RunID
		m.quarantined.Reset()
		for reason, n := range man.QuarantineBy {
			m.quarantined.WithLabelValues(reason).Set(float64(n))
		}
		m.credits.Reset()
		for _, t := range man.Tenants {
			if m.tenants != nil && !m.tenants[t.TenantID] {
				continue
			}
			if m.tenants == nil {
				if r, err := strconv.ParseFloat(t.Rated, 64); t.TenantID == "" || err != nil || r == 0 {
					continue
				}
			}
			for bucket, v := range map[string]string{"rated": t.Rated, "plan": t.Plan, "bank": t.Bank,
				"exceeding": t.Exceeding, "blocked": t.Blocked} {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					continue
				}
				m.credits.WithLabelValues(t.TenantID, bucket).Set(f)
			}
		}
	}
}

// Ready reports whether the last run succeeded and finished at most maxAge ago, and why
// not.
func (m *Metrics) Ready(maxAge time.Duration) (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.lastOutcome == "":
		return false, "no run has finished yet"
	case m.lastOutcome != OutcomeSucceeded:
		return false, fmt.Sprintf("the last run %s: %s", m.lastOutcome, m.lastErr)
	}
	age := m.now().Sub(m.lastSuccessAt)
	if maxAge > 0 && age > maxAge {
		return false, fmt.Sprintf("the last successful run (%s) finished %v ago, more than %v", m.lastRunID, age.Round(time.Second), maxAge)
	}
	return true, fmt.Sprintf("the last run (%s) succeeded %v ago", m.lastRunID, age.Round(time.Second))
}

// Handler serves /healthz (the process is up), /readyz (Ready with maxAge) and /metrics.
func (m *Metrics) Handler(maxAge time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := m.Ready(maxAge)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", why)
			return
		}
		fmt.Fprintln(w, "ready:", why)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	return mux
}
