package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const serveConfig = `source: raw
output: out
warehouse: var/warehouse.duckdb
schedule: ["CRON_TZ=Europe/Rome 0 3 * * *", "CRON_TZ=UTC 30 14 * * 1-5"]
listen: LISTEN
serve: {run_timeout: 10m, shutdown_timeout: 30s, ready_max_age: 30h}
analytics: {local_copy: analytics/creditmeter.duckdb}
rate_cards:
  - id: std
    effective_from: 2026-01-01T00:00:00Z
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
tenants:
  - {id: acme, rate_card: std, timezone: UTC, currency: EUR, period: monthly, anchor_day: 1,
     service_start: 2026-01-01, service_end: 2026-12-31, credits_plan: 100,
     overage: {policy: bill, price_per_credit: 0.05}}
`

func serveDir(t *testing.T, listen string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "raw"), 0o755); err != nil {
		t.Fatal(err)
	}
	ev := `{"event_id":"e1","occurred_at":"2026-01-10T10:00:00Z","tenant_id":"acme","user_id":"u-1","event_type":"chat","event_value":1,"event_unit":"attempt"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "raw", "a.jsonl"), []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(serveConfig, "LISTEN", listen, 1)
	if err := os.WriteFile(filepath.Join(dir, "creditmeter.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServeOnce(t *testing.T) {
	dir := serveDir(t, "127.0.0.1:9464")
	code, _, errOut := runCmd("serve", "--config", filepath.Join(dir, "creditmeter.yaml"), "--once", "--log-level", "warn")
	if code != exitOK {
		t.Fatalf("serve --once: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "ledger", "period_usage.csv")); err != nil {
		t.Errorf("no outputs: %v", err)
	}
	// a failing run: exit status 1
	if err := os.WriteFile(filepath.Join(dir, "var", "warehouse.duckdb"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd("serve", "--config", filepath.Join(dir, "creditmeter.yaml"), "--once", "--log-level", "error"); code != exitFailed {
		t.Errorf("serve --once with a broken warehouse: exit %d, want %d\n%s", code, exitFailed, errOut)
	}
	// bad arguments: exit status 2
	if code, _, _ := runCmd("serve", "--once"); code != exitUsage {
		t.Errorf("serve without --config: exit %d", code)
	}
}

func TestServeDaemon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := serveDir(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- run(ctx, []string{"serve", "--config", filepath.Join(dir, "creditmeter.yaml")}, io.Discard, &syncWriter{w: &stderr})
	}()
	var resp *http.Response
	for i := 0; i < 200; i++ {
		if resp, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		cancel()
		t.Fatalf("the listener did not come up: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz before any run: %d", resp.StatusCode)
	}
	cancel() // SIGTERM
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the listener is still up after shutdown")
	}
	// logs are JSON lines when stderr is not a terminal
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(l, "{") {
			t.Errorf("not a JSON log line: %s", l)
		}
	}
	if !strings.Contains(stderr.String(), "scheduler started") {
		t.Errorf("logs:\n%s", stderr.String())
	}
}

// syncWriter serializes writes from the daemon's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
