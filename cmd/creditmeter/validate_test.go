package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestValidate checks that validate refuses each kind of problem a run refuses before it
// starts (exit 2, every problem listed), accepts a good configuration (exit 0) and never
// writes: a warehouse that does not exist is not created, one that exists keeps its bytes.
func TestValidate(t *testing.T) {
	c := filepath.Join(acceptanceDir(), "01-worked-example")
	base := string(mustRead(t, filepath.Join(c, "creditmeter.yaml")))
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "raw"), os.DirFS(filepath.Join(c, "raw"))); err != nil {
		t.Fatal(err)
	}
	// edit applies old -> new replacements to the case's configuration and writes it.
	n := 0
	edit := func(t *testing.T, pairs ...string) string {
		t.Helper()
		text := base
		for i := 0; i+1 < len(pairs); i += 2 {
			if !strings.Contains(text, pairs[i]) {
				t.Fatalf("the configuration of case 01 lacks %q", pairs[i])
			}
			text = strings.Replace(text, pairs[i], pairs[i+1], 1)
		}
		n++
		p := filepath.Join(dir, "config-"+string(rune('a'+n))+".yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(filepath.Join(dir, "creditmeter.yaml"), []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	wh := filepath.Join(dir, "out", "warehouse.duckdb")
	type tc struct {
		name  string
		cfg   []string // replacements in the configuration
		extra []string // more arguments
		code  int
		want  []string // in stdout (exit 0) or stderr
	}
	check := func(t *testing.T, c tc) {
		t.Helper()
		args := append([]string{"validate", "--config", edit(t, c.cfg...)}, c.extra...)
		code, out, errOut := cli(args...)
		if code != c.code {
			t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
		}
		got := out
		if c.code != exitOK {
			got = errOut
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("output lacks %q:\n%s", w, got)
			}
		}
	}

	before := []tc{
		// Given no warehouse yet, when the configuration is good, then 0
		{"good, no warehouse yet", nil, nil, exitOK, []string{"is valid", "1 tenants", "1 objects", "does not exist yet"}},
		// When the schema and the semantic checks fail, then every problem with its path
		{"schema and semantics", []string{"credits_plan: 100", "credits_plan: -5", "timezone: Europe/Rome", "timezone: Mars/Olympus",
			"rate_card: creator", "rate_card: nope"}, nil, exitUsage,
			[]string{"tenants[0].credits_plan", "tenants[0].timezone", "tenants[0].rate_card", "3 problem(s)"}},
		{"schedule", []string{`schedule: ["CRON_TZ=UTC 0 2,8,14,20 * * *"]`, `schedule: ["61 * * * *"]`}, nil, exitUsage, []string{"schedule[0]"}},
		// When a location is wrong, then 2 naming it
		{"missing source", nil, []string{"--source", filepath.Join(dir, "nowhere")}, exitUsage, []string{"source: ", "does not exist"}},
		{"unsupported source", nil, []string{"--source", "ftp://x/y"}, exitUsage, []string{"unsupported scheme"}},
		{"output inside the source", nil, []string{"--output", filepath.Join(dir, "raw", "out")}, exitUsage, []string{"output: ", "inside the source"}},
		{"warehouse inside the source", nil, []string{"--warehouse", filepath.Join(dir, "raw", "w.duckdb")}, exitUsage, []string{"warehouse: ", "inside the source"}},
		{"warehouse not a file", nil, []string{"--warehouse", ":memory:"}, exitUsage, []string{"not a local file"}},
		{"several problems at once", []string{"source: raw", "source: nowhere", "output: out", "output: nowhere/out"}, nil, exitUsage,
			[]string{"2 problem(s)", "source: ", "output: "}},
	}
	for _, c := range before {
		t.Run(c.name, func(t *testing.T) {
			check(t, c)
			if _, err := os.Stat(wh); !os.IsNotExist(err) {
				t.Fatalf("validate created the warehouse (%v)", err)
			}
		})
	}

	// Given a warehouse whose January and February are final
	runAt(t, dir, "2026-03-10T12:00:00Z")
	sum := fileSum(t, wh)
	after := []tc{
		{"good, with final periods", nil, nil, exitOK, []string{"is valid", "agrees with its 2 final periods of 1 tenants"}},
		// Only open periods change: accepted
		{"plan and price change", []string{"credits_plan: 100", "credits_plan: 120", "price_per_credit: 0.05", "price_per_credit: 0.06"}, nil, exitOK, []string{"is valid"}},
		// When the calendar would move a final period, then 2 naming the tenant and the period
		{"timezone", []string{"timezone: Europe/Rome", "timezone: Europe/Paris"}, nil, exitUsage,
			[]string{"tenants[0].timezone", "tenant acme has final periods (the last: final period 2026-02-01 to 2026-03-01)"}},
		{"anchor day and period", []string{"anchor_day: 1", "anchor_day: 5", "period: monthly", "period: quarterly"}, nil, exitUsage,
			[]string{"tenants[0].anchor_day", "anchor_day cannot change from 1 to 5", "tenants[0].period"}},
		{"service_end before a final period", []string{"service_end: 2026-12-31", "service_end: 2026-01-20"}, nil, exitUsage,
			[]string{"tenants[0].service_end", "final period 2026-02-01 to 2026-03-01 would move or go"}},
		{"tenant removed", []string{"  - id: acme", "  - id: acme2"}, nil, exitUsage, []string{"tenant acme has final periods"}},
		// Calendar and location problems are listed together
		{"calendar and location", []string{"timezone: Europe/Rome", "timezone: Europe/Paris"}, []string{"--output", filepath.Join(dir, "raw", "o")}, exitUsage,
			[]string{"2 problem(s)", "tenants[0].timezone", "output: "}},
	}
	for _, c := range after {
		t.Run(c.name, func(t *testing.T) {
			check(t, c)
			if fileSum(t, wh) != sum {
				t.Fatal("validate changed the warehouse")
			}
		})
	}

	t.Run("arguments", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"validate"}, "--config is required"},
			{[]string{"validate", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
			{[]string{"validate", "--config", edit(t), "extra"}, "unexpected argument"},
		} {
			code, _, errOut := cli(c.args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
			}
		}
	})
}

// TestVersion: --version and version print the version, the Go version and the DuckDB
// library's.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		code, out, errOut := cli(arg)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", arg, code, errOut)
		}
		if !regexp.MustCompile(`(?m)^creditmeter dev( \(\w+(-dirty)?\))?\ngo go1\.\d+.*\nduckdb v\d+\.\d+\.\d+`).MatchString(out) {
			t.Errorf("%s:\n%s", arg, out)
		}
	}
}
