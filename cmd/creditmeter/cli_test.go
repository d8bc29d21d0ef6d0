package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitStatus checks the exit statuses of FORMATS.md: 0 done, 1 the run failed and
// published nothing new, 2 bad arguments or configuration.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	// Given a configuration with several problems at once
	if err := os.WriteFile(bad, []byte(`source: raw
output: out
warehouse: out/w.duckdb
rate_cards:
  - id: c
    effective_from: 2026-01-01T00:00:00Z
    rules: [{event_type: chat, kind: per_event, credits: 10}]
tenants:
  - id: t1
    rate_card: nope
    timezone: Mars/Olympus
    currency: EUR
    period: weekly
    service_start: 2026-01-01
    service_end: 2026-12-31
    credits_plan: 100
    overage: {policy: bill, price_per_credit: 0.05}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	cases := []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		// When no command is given, then usage and 2.
		{"no command", nil, exitUsage, []string{"usage"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{"unknown command"}},
		{"run without config", []string{"run"}, exitUsage, []string{"--config is required"}},
		{"bad flag", []string{"run", "--nope"}, exitUsage, nil},
		{"bad --now", []string{"run", "--config", good, "--now", "yesterday"}, exitUsage, []string{"--now"}},
		// When the configuration is bad, then every problem is listed with its path and 2.
		{"bad config", []string{"run", "--config", bad}, exitUsage, []string{
			"tenants[0].period", "tenants[0].timezone", "tenants[0].rate_card",
		}},
		{"missing config", []string{"run", "--config", filepath.Join(dir, "none.yaml")}, exitUsage, []string{"none.yaml"}},
		// When the source is not a location creditmeter reads, then 2: a bad argument.
		{"unsupported source", []string{"run", "--config", good, "--source", "ftp://x/y",
			"--output", filepath.Join(dir, "out"), "--warehouse", filepath.Join(dir, "w.duckdb")}, exitUsage, []string{"unsupported scheme"}},
		// When the run succeeds, then 0.
		{"good run", []string{"run", "--config", good, "--output", filepath.Join(dir, "out2"),
			"--warehouse", filepath.Join(dir, "w2.duckdb"), "--now", "2026-03-10T12:00:00Z", "--log-level", "warn"}, exitOK, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, c.code, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
