package jobs_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/fixtures/generator"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// BenchmarkRun is a full run on generated data: CREDITMETER_BENCH_EVENTS events (default
// 1M) for 20 tenants. It reports events/s per stage (ingest; rate and fund; publish), the
// whole run's events/s and the process's peak RSS. Data generation is not timed.
func BenchmarkRun(b *testing.B) {
	events := 1_000_000
	if v := os.Getenv("CREDITMETER_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("CREDITMETER_BENCH_EVENTS=%q: %v", v, err)
		}
		events = n
	}
	dir := b.TempDir()
	if _, err := generator.Generate(context.Background(), generator.Config{
		Events: events, Tenants: 20, Out: dir, Seed: 1,
	}); err != nil {
		b.Fatal(err)
	}
	cfg, err := schemas.LoadConfig(filepath.Join(dir, "creditmeter.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 4, 6, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		wh := filepath.Join(b.TempDir(), "warehouse.duckdb")
		out := b.TempDir()
		r, err := jobs.New(jobs.Config{Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m, err := r.Run(context.Background(), jobs.Options{Output: out, Warehouse: wh, Now: now})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		secs := map[string]float64{}
		var total float64
		for _, s := range m.Stages {
			secs[s.Stage] = s.Seconds
			total += s.Seconds
		}
		n := float64(m.Counts.LinesRead)
		b.ReportMetric(n/secs["ingest"], "ingest_events/s")
		b.ReportMetric(n/(secs["rate"]+secs["fund"]), "rate+fund_events/s")
		b.ReportMetric(n/(secs["aggregate"]+secs["publish"]), "publish_events/s")
		b.ReportMetric(n/total, "events/s")
		b.ReportMetric(n, "events")
		b.StartTimer()
	}
	b.StopTimer()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak_RSS_MB")
	}
}
