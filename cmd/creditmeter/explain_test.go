package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
)

// update rewrites the golden files of explain and diff: go test ./cmd/creditmeter/ -run
// 'Explain|Diff' -update, then read the diff of testdata/ before committing it.
var update = flag.Bool("update", false, "rewrite the golden files of explain and diff (testdata/)")

// cli runs the command line in process.
func cli(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runAcceptanceCase runs an acceptance case as TestAcceptance does (the runs of runs.txt,
// each with the objects that existed then, then NOW with every object), in process, in a
// temporary directory; it returns the directory, which holds creditmeter.yaml, raw/ and
// out/ (the warehouse is out/warehouse.duckdb).
func runAcceptanceCase(t *testing.T, name string) string {
	t.Helper()
	c := filepath.Join(acceptanceDir(), name)
	work := t.TempDir()
	copyFile(t, filepath.Join(c, "creditmeter.yaml"), filepath.Join(work, "creditmeter.yaml"))
	runs, err := acceptancecase.Runs(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if err := acceptancecase.Stage(filepath.Join(c, "raw"), filepath.Join(work, "raw"), r.Globs); err != nil {
			t.Fatal(err)
		}
		runAt(t, work, r.NowText())
	}
	return work
}

// runAt runs the pipeline on work/creditmeter.yaml at now.
func runAt(t *testing.T, work, now string) {
	t.Helper()
	code, _, errOut := cli("run", "--config", filepath.Join(work, "creditmeter.yaml"), "--now", now, "--log-level", "warn")
	if code != exitOK {
		t.Fatalf("run --now %s: exit %d\n%s", now, code, errOut)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", p, got, want)
	}
}

// fileSum is the checksum of a file's bytes.
func fileSum(t *testing.T, p string) [32]byte {
	t.Helper()
	return sha256.Sum256(mustRead(t, p))
}

// TestExplainGolden explains one event of each kind on the acceptance cases, as text and as
// JSON, against golden files; the warehouse is left byte for byte as it was.
func TestExplainGolden(t *testing.T) {
	dirs := map[string]string{}
	for _, c := range []string{"01-worked-example", "03-hard-stop-and-members", "04-messy-input", "05-rate-card-versions-and-late-events"} {
		dirs[c] = runAcceptanceCase(t, c)
	}
	cases := []struct {
		name, dir, tenant, event string
		want                     []string // in the text output
	}{
		// Given the worked example, when its video event is explained, then the split across
		// plan, bank and exceeding, the allowance and the invoice line show.
		{"split-final", "01-worked-example", "acme", "ev-0004", []string{"plan          35", "bank          150", "exceeding     25", "INV-2026-000001", "included: 2 units, 2 covered"}},
		{"below-threshold", "01-worked-example", "acme", "ev-0003", []string{"below_threshold", "is not above 0.3"}},
		// A final event billed with a rate-card version that later changed
		{"final-exceeding", "05-rate-card-versions-and-late-events", "alpha-la", "a-03", []string{"INV-2026-000002", "creator@2026-01-15T23:00:00Z", "472 exceeding credits x 0.04 = 18.88 USD"}},
		// An accepted event of an open period
		{"open", "05-rate-card-versions-and-late-events", "beta-rome", "b-22", []string{"open", "last validated by run  20260306T000000Z-000003", "nothing of it exceeds"}},
		// A late event: billed in February, its own January final when it arrived
		{"late", "05-rate-card-versions-and-late-events", "beta-rome", "b-08", []string{"late              yes", "2026-01-01 to 2026-02-01", "start of the billing period (late event)"}},
		// Member caps and the hard stop
		{"member-cap", "03-hard-stop-and-members", "au-hardstop", "h-04", []string{"u-lead: cap 40, funded before 10; left 30 before, 0 after", "by the member cap 25"}},
		{"hard-stop", "03-hard-stop-and-members", "au-hardstop", "h-08", []string{"by the hard stop 109.2506", "blocked credits are never invoiced"}},
		// Quarantined by validation, and at parsing
		{"quarantined-validation", "04-messy-input", "acme", "ev-a004", []string{"quarantined (missing_attribute, field attributes.configured_seconds)"}},
		{"quarantined-parse", "04-messy-input", "acme", "ev-a005", []string{"quarantined (malformed, field event_value)"}},
		{"unknown-tenant", "04-messy-input", "umbrella", "ev-a011", []string{"unknown_tenant", "not in the configuration"}},
		// Duplicates: which line is the first
		{"duplicate-exact", "04-messy-input", "acme", "ev-a001", []string{"exact duplicate", "the first line is 2026/01/15/batch-a.jsonl line 1"}},
		{"duplicate-conflicting", "04-messy-input", "acme", "ev-a017", []string{"conflicting duplicate", "the first line is 2026/01/15/batch-a.jsonl line 17"}},
		// A preview uses no allowance; the next video draws on two allowances in contract order
		{"preview", "04-messy-input", "acme", "ev-a013", []string{"rated 0 without applying the rule", "rated 0 because  preview"}},
		{"allowance-two-entries", "04-messy-input", "acme", "ev-a015", []string{"included: 1 units, 1 covered", "purchased: 2 units, 1 covered"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := dirs[c.dir]
			wh := filepath.Join(work, "out", "warehouse.duckdb")
			before := fileSum(t, wh)
			args := []string{"explain", "--config", filepath.Join(work, "creditmeter.yaml"), "--tenant", c.tenant, "--event", c.event}
			code, text, errOut := cli(args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			golden(t, "explain/"+c.name+".txt", text)
			code, js, errOut := cli(append(args, "--json")...)
			if code != exitOK {
				t.Fatalf("--json: exit %d: %s", code, errOut)
			}
			golden(t, "explain/"+c.name+".json", js)
			if fileSum(t, wh) != before {
				t.Error("explain changed the warehouse")
			}
		})
	}

	t.Run("personal data only with --restricted", func(t *testing.T) {
		work := dirs["04-messy-input"]
		args := []string{"explain", "--config", filepath.Join(work, "creditmeter.yaml"), "--tenant", "acme", "--event", "ev-a001"}
		for _, asJSON := range []bool{false, true} {
			a := args
			if asJSON {
				a = append(a, "--json")
			}
			_, out, _ := cli(a...)
			for _, pd := range []string{"mrossi", "Mario", "Rossi", `"username"`, "raw"} {
				if strings.Contains(out, pd) {
					t.Errorf("json %t: %q without --restricted:\n%s", asJSON, pd, out)
				}
			}
			code, out, errOut := cli(append(a, "--restricted")...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, pd := range []string{"mrossi", "Mario", "Rossi", `"event_id": "ev-a001"`} {
				if !strings.Contains(out, pd) && !strings.Contains(out, strings.ReplaceAll(pd, `"`, `\"`)) {
					t.Errorf("json %t: %q missing with --restricted:\n%s", asJSON, pd, out)
				}
			}
		}
	})

	t.Run("a late event's exceeding credits are on the late usage line", func(t *testing.T) {
		// Given case 05 with a plan of 5 for beta-rome, its late January events exceed in
		// February: the invoice bills them on the line of their own period
		c := filepath.Join(acceptanceDir(), "05-rate-card-versions-and-late-events")
		work := t.TempDir()
		cfg := strings.Replace(string(mustRead(t, filepath.Join(c, "creditmeter.yaml"))), "credits_plan: 50", "credits_plan: 5", 1)
		if err := os.WriteFile(filepath.Join(work, "creditmeter.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		runs, err := acceptancecase.Runs(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if err := acceptancecase.Stage(filepath.Join(c, "raw"), filepath.Join(work, "raw"), r.Globs); err != nil {
				t.Fatal(err)
			}
			runAt(t, work, r.NowText())
		}
		code, out, errOut := cli("explain", "--config", filepath.Join(work, "creditmeter.yaml"), "--tenant", "beta-rome", "--event", "b-09")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, w := range []string{"late              yes", `line        2 "Late usage from`, "this event  10 exceeding credits x 0.04 = 0.4 EUR"} {
			if !strings.Contains(out, w) {
				t.Errorf("lacks %q:\n%s", w, out)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		cfg := filepath.Join(dirs["01-worked-example"], "creditmeter.yaml")
		for _, c := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"explain", "--config", cfg, "--tenant", "acme"}, exitUsage, "--event and --tenant are required"},
			{[]string{"explain", "--config", cfg, "--tenant", "acme", "--event", "nope"}, exitFailed, "no such event"},
			// an event's identity is its tenant and its id: another tenant does not see it
			{[]string{"explain", "--config", cfg, "--tenant", "other", "--event", "ev-0004"}, exitFailed, "no such event"},
			{[]string{"explain", "--config", cfg, "--tenant", "acme", "--event", "ev-0004", "--warehouse", filepath.Join(t.TempDir(), "none.duckdb")}, exitFailed, "none.duckdb"},
		} {
			code, _, errOut := cli(c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
			}
		}
	})
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"é ok":         "é ok",
		"tab\there":    `tab\x09here`,
		"nl\nx":        `nl\x0ax`,
		"\x1b[31mred":  `\x1b[31mred`,
		"bad\xffutf8":  `bad\xffutf8`,
		"c1\u0085ctrl": `c1\xc2\x85ctrl`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
