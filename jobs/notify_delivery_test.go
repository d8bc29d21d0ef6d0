package jobs_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// closedPort is a loopback port nothing listens on: a mail server that cannot be reached.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// outboxStatuses reads the published outbox: status (and reason) by period and threshold.
func (w *world) outboxStatuses() map[string]string {
	w.t.Helper()
	out := map[string]string{}
	for _, e := range readJSONL(w.t, filepath.Join(w.out, "notifications", "outbox.jsonl")) {
		v := e["status"].(string)
		if r, ok := e["status_reason"].(string); ok {
			v += ": " + r
		}
		out[fmt.Sprintf("%s %v", e["period_start"], e["threshold"])] = v
	}
	return out
}

// TestEmailTurnedOnWithHistory (issue 12): e-mail turned on for a deployment with history
// sent every pending notice at once (January's alerts in March). Given crossings recorded in
// January (final) and March (open) by runs without smtp:, when a run first has smtp:
// (a server that cannot be reached), then it succeeds, January's notification is suppressed
// with its reason, March's is attempted (failed, retried later), and the published outbox
// says so. The run's outbox changes twice (suppression while computing, the attempt after
// the commit): both must be published.
func TestEmailTurnedOnWithHistory(t *testing.T) {
	base := config("", tenantYAML("acme", "credits_plan", "10", "notify", "{thresholds: [0.5], email: [ops@acme.example]}"))
	w := newWorld(t, base)
	w.put("a.jsonl", lines(ev("j1"), ev("m1", "occurred_at", "2026-03-10T10:00:00Z")))
	w.run("2026-03-20T00:00:00Z")
	if got := w.outboxStatuses(); got["2026-01-01 0.5"] != "pending" || got["2026-03-01 0.5"] != "pending" {
		t.Fatalf("before e-mail: %v", got)
	}
	w.cfg = fmt.Sprintf("smtp: {host: 127.0.0.1, port: %d, from: billing@example.com}\n", closedPort(t)) + base
	w.run("2026-03-20T06:00:00Z")
	got := w.outboxStatuses()
	if s := got["2026-01-01 0.5"]; !strings.HasPrefix(s, "suppressed: not sent: the period was final when e-mail delivery was first enabled") {
		t.Errorf("January: %q", s)
	}
	if s := got["2026-03-01 0.5"]; s != "failed" {
		t.Errorf("March: %q", s)
	}
	// A later run, the server still down: nothing more is suppressed, March is tried again.
	w.put("b.jsonl", lines(ev("m2", "occurred_at", "2026-03-11T10:00:00Z")))
	w.run("2026-03-21T00:00:00Z")
	if got := w.outboxStatuses(); !strings.HasPrefix(got["2026-01-01 0.5"], "suppressed") || got["2026-03-01 0.5"] != "failed" {
		t.Errorf("later run: %v", got)
	}
}

// TestEmailFromTheFirstRun: a first run with smtp: that records a crossing and attempts it
// (the outbox changed while computing and again after the commit) succeeds and publishes
// the attempt; nothing is suppressed in a period that is open.
func TestEmailFromTheFirstRun(t *testing.T) {
	w := newWorld(t, fmt.Sprintf("smtp: {host: 127.0.0.1, port: %d, from: billing@example.com}\n", closedPort(t))+
		config("", tenantYAML("acme", "credits_plan", "10", "notify", "{thresholds: [0.5], email: [ops@acme.example]}")))
	w.put("a.jsonl", lines(ev("j1")))
	w.run("2026-01-20T00:00:00Z")
	if got := w.outboxStatuses(); got["2026-01-01 0.5"] != "failed" {
		t.Errorf("outbox: %v", got)
	}
	if _, err := os.Stat(filepath.Join(w.out, "notifications", "outbox.jsonl")); err != nil {
		t.Error(err)
	}
}
