package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKillNineThenRerun is the fault suite of BILLING.md section 5 and the issue: "Kill the
// process at any point (load, finalize, render, upload): the warehouse stays consistent and
// the next run completes the work with the same results as an uninterrupted run", invoice
// numbers gap-free.
//
// Each scenario makes a clean reference (fresh warehouse and output), then, per trial, sets
// up the same state afresh, starts the run, sends it SIGKILL after a random delay and runs it
// again to completion; every output but the run manifests and the analysts' DuckDB file must
// equal the reference byte for byte.
//
//   - one-run: the killed run is the first, over every object, at a --now that finalizes most
//     periods; the kill falls anywhere in the time the reference run took.
//   - second-run: the killed run is the second of two (the first, at an earlier --now, saw the
//     objects of the first month); same kills.
//   - finalizing: as second-run, the clock starting when the killed run logs the stage before
//     the finalization stage (publish/finalize/render) as done, the kill falling within the
//     time the rest of the reference took: while the run finalizes periods, issues invoices,
//     renders and uploads. The last trial's clock starts at the last stage logged done
//     (uploading the outputs and the manifest).
//
// Kills are stratified: with n trials, trial i falls at a random point of the i-th n-th of
// its window, so that a few trials still spread over the whole run.
//
// Small by default (make test). `make fault`: CREDITMETER_FAULT_EVENTS=1000000
// CREDITMETER_FAULT_TRIALS=10. The delays come from CREDITMETER_FAULT_SEED (the clock when
// unset); the seed, each delay and where the kill landed are logged.
func TestKillNineThenRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the binary some twenty times")
	}
	events := envInt(t, "CREDITMETER_FAULT_EVENTS", 20000)
	trials := envInt(t, "CREDITMETER_FAULT_TRIALS", 3)
	tenants := envInt(t, "CREDITMETER_FAULT_TENANTS", 6)
	seed, _ := envSeed(t, "CREDITMETER_FAULT_SEED", 0)
	t.Logf("fault seed %d (data seed 11), %d events, %d tenants, %d trials per scenario; replay: CREDITMETER_FAULT_SEED=%d CREDITMETER_FAULT_EVENTS=%d CREDITMETER_FAULT_TENANTS=%d CREDITMETER_FAULT_TRIALS=%d go test ./internal/e2e -run 'TestKillNineThenRerun' -v",
		seed, events, tenants, trials, seed, events, tenants, trials)

	c := newCLI(t)
	root := t.TempDir()
	ds := c.generate(t, filepath.Join(root, "data"), events, tenants, 11, 3, 0)
	firstNow := ds.Start.AddDate(0, 1, 9)     // 2026-02-10: January final, February open
	finalNow := ds.Start.AddDate(0, 3, 5)     // 2026-04-06 (make run): January to March final
	firstMonth := ds.Start.Format("2006/01/") // keys are dated by their first line
	var firstObjects []string
	for _, k := range ds.Objects {
		if strings.HasPrefix(k, firstMonth) {
			firstObjects = append(firstObjects, k)
		}
	}
	t.Logf("data %s; first run at %s over %d of %d objects (%s*), second run at %s over all",
		ds.Dir, firstNow.Format(time.RFC3339), len(firstObjects), len(ds.Objects), firstMonth, finalNow.Format(time.RFC3339))

	// The state after an uninterrupted first run, copied into every two-run trial.
	var firstOnce sync.Once
	firstDir := filepath.Join(root, "after-first-run")
	afterFirstRun := func(t *testing.T) string {
		t.Helper()
		firstOnce.Do(func() {
			src := filepath.Join(root, "source-first")
			linkObjects(t, ds.Raw, src, append(append([]string(nil), ds.Others...), firstObjects...))
			res := c.mustRun(t, runSpec{Config: ds.Config, Source: src, Output: filepath.Join(firstDir, "out"),
				Warehouse: filepath.Join(firstDir, "var", "warehouse.duckdb"), Now: firstNow})
			t.Logf("first run (uninterrupted, shared by the two-run trials): %s, %d final periods, %d invoices; %s",
				res.Duration.Round(time.Millisecond), countFinal(t, filepath.Join(firstDir, "out")), countInvoices(t, filepath.Join(firstDir, "out")), strings.TrimSpace(res.Stdout))
		})
		if _, err := os.Stat(filepath.Join(firstDir, "out", "ledger", "period_usage.csv")); err != nil {
			t.Fatalf("the first run's state is missing: %v", err)
		}
		return firstDir
	}

	oneRun := func(t *testing.T, dir string) runSpec {
		return runSpec{Config: ds.Config, Source: ds.Raw, Output: filepath.Join(dir, "out"),
			Warehouse: filepath.Join(dir, "var", "warehouse.duckdb"), Now: finalNow}
	}
	secondRun := func(t *testing.T, dir string) runSpec {
		copyTree(t, afterFirstRun(t), dir)
		return runSpec{Config: ds.Config, Source: ds.Raw, Output: filepath.Join(dir, "out"),
			Warehouse: filepath.Join(dir, "var", "warehouse.duckdb"), Now: finalNow}
	}
	scenarios := []crashScenario{
		{name: "one-run", step: "one-run", before: oneRun, window: wholeRun},
		{name: "second-run", step: "two-runs", before: secondRun, window: wholeRun},
		{name: "finalizing", step: "two-runs", before: secondRun, window: finalizingWindow, tail: afterLastStage},
	}
	refs := map[string]*reference{} // scenarios killing the same step share its reference
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ref := refs[sc.step]
			if ref == nil {
				ref = makeReference(t, c, filepath.Join(root, sc.step+"-reference"), sc)
				refs[sc.step] = ref
			}
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			runCrashScenario(t, c, filepath.Join(root, sc.name), sc, ref, trials, seed, rng)
		})
	}
}

// reference is an uninterrupted run of the step a scenario kills.
type reference struct {
	spec runSpec
	res  runResult
}

func makeReference(t *testing.T, c *cli, dir string, sc crashScenario) *reference {
	t.Helper()
	spec := sc.before(t, dir)
	res := c.mustRun(t, spec)
	invs := checkInvoices(t, "reference", spec.Output)
	t.Logf("reference: %s in %s: %d final periods, %d invoices; stages %s",
		spec, res.Duration.Round(time.Millisecond), countFinal(t, spec.Output), len(invs), stageOffsets(res))
	if len(invs) == 0 {
		t.Logf("note: the reference issued no invoice; invoice numbering is not exercised")
	}
	return &reference{spec: spec, res: res}
}

// crashScenario is one way of killing a run.
type crashScenario struct {
	name string
	step string // the step killed; scenarios of one step share a reference
	// before sets up dir as the run to kill finds it and returns that run.
	before func(t *testing.T, dir string) runSpec
	// window says, from the reference's run of the same step, when the kills fall.
	window func(ref runResult) killPoint
	// tail, if set, is where the last trial's kill falls instead.
	tail func(ref runResult) (killPoint, bool)
}

// killPoint is where kills fall: within Within after the run logs stage After as done (""
// after the start of the run).
type killPoint struct {
	After  string
	Within time.Duration
	How    string
}

func (p killPoint) String() string {
	from := "the start"
	if p.After != "" {
		from = fmt.Sprintf("stage %q logged done", p.After)
	}
	return fmt.Sprintf("within %s after %s (%s)", p.Within.Round(time.Millisecond), from, p.How)
}

func wholeRun(ref runResult) killPoint {
	return killPoint{Within: ref.Duration, How: "anywhere in the run"}
}

// finalizationStage matches the stage names under which a run finalizes periods, issues
// invoices and renders and uploads outputs.
var finalizationStage = regexp.MustCompile(`(?i)final|publish|render|invoice|upload`)

// finalizingWindow starts when the stage before the first finalization stage is logged
// done, and lasts as long as the rest of the reference's run did.
func finalizingWindow(ref runResult) killPoint {
	prev, prevAt := "", time.Duration(0)
	for _, l := range ref.Lines {
		st, ok := stageDone(l.Text)
		if !ok {
			continue
		}
		if finalizationStage.MatchString(st) {
			return killPoint{After: prev, Within: ref.Duration - prevAt, How: fmt.Sprintf("finalizing: stage %q and what follows it", st)}
		}
		prev, prevAt = st, l.At
	}
	return killPoint{Within: ref.Duration, How: "anywhere: no finalization stage found in the reference's log"}
}

// afterLastStage starts when the reference's last stage is logged done: what follows is
// uploading the outputs and writing the manifest.
func afterLastStage(ref runResult) (killPoint, bool) {
	last, lastAt := "", time.Duration(0)
	for _, l := range ref.Lines {
		if st, ok := stageDone(l.Text); ok {
			last, lastAt = st, l.At
		}
	}
	if last == "" || ref.Duration <= lastAt {
		return killPoint{}, false
	}
	return killPoint{After: last, Within: ref.Duration - lastAt, How: "uploading: after the last stage logged"}, true
}

func runCrashScenario(t *testing.T, c *cli, dir string, sc crashScenario, ref *reference, trials int, seed uint64, rng *rand.Rand) {
	began := time.Now()
	refSpec := ref.spec
	win := sc.window(ref.res)
	t.Logf("kills %s", win)
	var tail killPoint
	hasTail := false
	if sc.tail != nil && trials > 1 {
		if tail, hasTail = sc.tail(ref.res); hasTail {
			t.Logf("last trial's kill %s", tail)
		}
	}

	// Stratified: trial i of n falls in the i-th n-th of the window, at a random point of it,
	// so that a few trials still spread over the whole run.
	strata := trials
	if hasTail {
		strata--
	}
	for i := range trials {
		f := rng.Float64()
		p, part := win, (float64(i)+f)/float64(strata)
		if hasTail && i == trials-1 {
			p, part = tail, f
		}
		t.Run(fmt.Sprintf("trial-%d", i+1), func(t *testing.T) {
			delay := time.Duration(part * float64(p.Within))
			tdir := filepath.Join(dir, fmt.Sprintf("trial-%d", i+1))
			spec := sc.before(t, tdir)
			from := "the start"
			if p.After != "" {
				from = "stage " + p.After + " done"
			}
			label := fmt.Sprintf("%s trial %d (seed %d, kill %s after %s, %.4f of %s)", sc.name, i+1, seed,
				delay.Round(time.Millisecond), from, part, p.Within.Round(time.Millisecond))
			killed, pid, reached := c.killAfter(t, p, delay, spec.args()...)
			lock := filepath.Join(spec.Output, "locks", "run.lock")
			lockData, lockErr := os.ReadFile(lock)
			switch {
			case killed.Killed:
				stage := killed.lastStage()
				if stage == "" {
					stage = "none"
				}
				t.Logf("%s: killed pid %d at %s; last stage logged done: %s; lock left: %v",
					label, pid, killed.Duration.Round(time.Millisecond), stage, lockErr == nil)
				if lockErr == nil {
					t.Logf("lock left by the killed run: %s", strings.TrimSpace(string(lockData)))
				}
			case killed.completed():
				t.Logf("%s: the run completed (%s) before the kill; the next run is a plain re-run", label, killed.Duration.Round(time.Millisecond))
				if rest := killed.Duration - reached; reached >= 0 && rest < win.Within && p.After == win.After {
					win.Within = rest // the reference ran slow: keep the next kills inside a run
					t.Logf("later kills %s", win)
				}
			default:
				t.Errorf("%s: the run ended on its own before the kill, without completing: exit %d\n%s", label, killed.Code, killed.tail())
			}

			next := c.exec(t, spec.args()...)
			if next.lockRefused() {
				t.Errorf("%s: the stale lock was not taken over: the killed run (pid %d, on this host) is gone, yet the next run exited %d without running (FORMATS.md, \"Command line\": a lock left by a dead run is taken over; same host: its process is gone).\n  lock: %s\n  stderr: %s\nRemoving %s by hand to check the rest of the promise.",
					label, pid, next.Code, strings.TrimSpace(string(lockData)), next.tail(), lock)
				if err := os.Remove(lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				next = c.exec(t, spec.args()...)
			}
			if !next.completed() {
				t.Fatalf("%s: the run after the kill did not complete: exit %d\n  replay: %s\n  stdout: %s\n  stderr: %s",
					label, next.Code, spec, next.Stdout, next.tail())
			}
			t.Logf("%s: the next run completed in %s", label, next.Duration.Round(time.Millisecond))
			if _, err := os.Stat(lock); err == nil {
				t.Errorf("%s: %s is still there after a completed run", label, lock)
			}
			n := compareOutputs(t, label, refSpec.Output, spec.Output, crashCompared, nil)
			compareQuarantine(t, label, refSpec.Output, spec.Output)
			checkInvoices(t, label, spec.Output)
			if !t.Failed() {
				t.Logf("%s: %d outputs equal the reference's", label, n)
				_ = os.RemoveAll(tdir) // a 1M-event trial holds about a gigabyte
			}
		})
	}
	t.Logf("%s: %d trials in %s", sc.name, trials, time.Since(began).Round(time.Millisecond))
}

// stageOffsets lists when each stage was logged done, for choosing and reading kill delays.
func stageOffsets(r runResult) string {
	var b strings.Builder
	for _, l := range r.Lines {
		if st, ok := stageDone(l.Text); ok {
			fmt.Fprintf(&b, "%s@%s ", st, l.At.Round(time.Millisecond))
		}
	}
	fmt.Fprintf(&b, "exit@%s", r.Duration.Round(time.Millisecond))
	return b.String()
}
