package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffGolden compares the ledger between runs of the acceptance cases, as text and CSV,
// against golden files: across late events and a finalization (case 05's runs), and across
// a change of configuration (case 01 run again with another plan).
func TestDiffGolden(t *testing.T) {
	late := runAcceptanceCase(t, "05-rate-card-versions-and-late-events")
	// Given the worked example, when the plan changes from 100 to 150 and a run follows at
	// the same instant, then only the open period's plan and what follows from it change
	conf := runAcceptanceCase(t, "01-worked-example")
	cfgPath := filepath.Join(conf, "creditmeter.yaml")
	text := string(mustRead(t, cfgPath))
	if !strings.Contains(text, "credits_plan: 100") {
		t.Fatal("case 01 no longer has credits_plan: 100")
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(text, "credits_plan: 100", "credits_plan: 150", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	runAt(t, conf, "2026-03-10T12:00:00Z")
	runAt(t, conf, "2026-04-05T00:00:00Z") // March final, April opens

	cases := []struct {
		name, dir, from, to string
		extra               []string
		want                []string // in the text output
	}{
		// The second run of case 05 brings late events for beta-rome and finalizes alpha-la's
		// January with a delayed event in it.
		{"late-and-finalized", late, "20260204T000000Z-000001", "20260220T000000Z-000002", nil,
			[]string{"alpha-la   2026-01-01    status             open  final", "exceeding_credits  472   487    +15", "late_events 2"}},
		// The third finalizes February and opens March; run numbers name runs too.
		{"finalization", late, "2", "3", nil, []string{"finalized 1", "period_started 1", "new row"}},
		{"one-tenant", late, "1", "3", []string{"--tenant", "beta-rome"}, []string{"beta-rome"}},
		{"configuration", conf, "20260310T120000Z-000001", "20260310T120000Z-000002", nil,
			[]string{"credits_plan  100   150  +50", "configuration 1"}},
		{"configuration-then-finalized", conf, "1", "3", nil, []string{"configuration 1", "finalized 1", "2026-04-01"}},
		{"nothing", late, "3", "3", nil, []string{"no ledger row changed"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wh := filepath.Join(c.dir, "out", "warehouse.duckdb")
			before := fileSum(t, wh)
			args := append([]string{"diff", "--config", filepath.Join(c.dir, "creditmeter.yaml"), "--from", c.from, "--to", c.to}, c.extra...)
			code, out, errOut := cli(args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("text lacks %q:\n%s", w, out)
				}
			}
			golden(t, "diff/"+c.name+".txt", out)
			code, out, errOut = cli(append(args, "--csv")...)
			if code != exitOK {
				t.Fatalf("--csv: exit %d: %s", code, errOut)
			}
			if !strings.HasPrefix(out, strings.Join(diffHeader, ",")+"\n") {
				t.Errorf("csv header:\n%s", out)
			}
			golden(t, "diff/"+c.name+".csv", out)
			if fileSum(t, wh) != before {
				t.Error("diff changed the warehouse")
			}
		})
	}

	t.Run("a tenant filter keeps only that tenant", func(t *testing.T) {
		_, out, _ := cli("diff", "--warehouse", filepath.Join(late, "out", "warehouse.duckdb"), "--from", "1", "--to", "3", "--tenant", "beta-rome", "--csv")
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if !strings.HasPrefix(l, "beta-rome,") {
				t.Errorf("row of another tenant: %s", l)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		wh := filepath.Join(late, "out", "warehouse.duckdb")
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"diff", "--warehouse", wh, "--from", "1"}, exitUsage, "--from and --to are required"},
			{[]string{"diff", "--from", "1", "--to", "2"}, exitUsage, "--warehouse (or --config) is required"},
			{[]string{"diff", "--warehouse", wh, "--from", "20260101T000000Z-000001", "--to", "2"}, exitUsage, "no such run"},
			{[]string{"diff", "--warehouse", wh, "--from", "3", "--to", "1"}, exitUsage, "is later than --to"},
			{[]string{"diff", "--warehouse", filepath.Join(t.TempDir(), "none.duckdb"), "--from", "1", "--to", "2"}, exitFailed, "none.duckdb"},
		} {
			code, _, errOut := cli(c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
			}
		}
	})
}
