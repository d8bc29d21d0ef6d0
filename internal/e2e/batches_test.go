package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBatchesDoNotMatter is the property of BILLING.md section 5: "the result of a run
// depends only on the set of objects ingested, the configuration, --now and the periods that
// earlier runs finalized ... never on how many runs came before or in which batches the
// objects arrived."
//
// For a seed: generate a data set, run once over every object at the final --now (the
// reference), then again from scratch with the objects arriving in random consecutive
// batches in key order, one run per batch at a --now that grows, and compare the last
// run's ledger/period_usage.csv and rated_events.parquet, invoices/register.csv, the invoice
// documents and every usage report (usage/ and restricted/usage/) with the reference's, byte
// for byte.
//
// The history may show only through late events and through finalization (section 4, 7), so
// the schedule keeps both out of the way:
//   - no event becomes late: the run that precedes batch k+1 happens before end + grace of
//     every period holding an event of batch k+1 or later (bounded by the events' own time:
//     now < occurred_at + grace_period);
//   - invoice numbers come out in the same order: no run finalizes an invoiced period while
//     one that precedes it in the numbering order of its year (period_end date, tenant_id)
//     is still open;
//   - an invoice issued by an earlier run is dated that run's day (section 7: rendered once,
//     when issued): its documents and its register row must equal the reference's but for
//     the issue date, which must be the day of the run that finalized the period, and the
//     due date, which moves with it. Invoices issued by the last run are compared byte for
//     byte.
//
// Batches are cut in key order rather than by the earliest event time an object holds: the
// first of conflicting duplicates is the first by key (section 2), which the order of
// arrival must not change; the generator's keys follow event time anyway. The seed makes
// both the data set and the schedule.
//
// Some runs fall exactly at a period's end + grace (the first instant it is final), so that
// periods are finalized and invoices issued between batches. The notification outbox is not
// compared: a crossing is recorded once, when first seen (README, "Notifications").
//
// Seeds 1-3 by default; CREDITMETER_BATCH_SEEDS=N runs seeds 1..N, CREDITMETER_BATCH_SEED=S
// replays one; CREDITMETER_BATCH_EVENTS sizes the data set (default 5000).
func TestBatchesDoNotMatter(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the binary some twenty times")
	}
	events := envInt(t, "CREDITMETER_BATCH_EVENTS", 5000)
	seeds := []uint64{1, 2, 3}
	if n := envInt(t, "CREDITMETER_BATCH_SEEDS", 3); n != 3 {
		seeds = seeds[:0]
		for s := range n {
			seeds = append(seeds, uint64(s+1))
		}
	}
	if s, ok := envSeed(t, "CREDITMETER_BATCH_SEED", 1); ok {
		seeds = []uint64{s}
	}
	c := newCLI(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			t.Parallel()
			batchesProperty(t, c, seed, events)
		})
	}
}

// batchRun is one run of the batched history: at Now, with the first Upto objects present.
type batchRun struct {
	Now  time.Time
	Upto int
	Why  string
}

func batchesProperty(t *testing.T, c *cli, seed uint64, events int) {
	began := time.Now()
	t.Logf("seed %d (replay: CREDITMETER_BATCH_SEED=%d CREDITMETER_BATCH_EVENTS=%d go test ./internal/e2e -run 'TestBatchesDoNotMatter' -v)", seed, seed, events)
	root := t.TempDir()
	const months = 4
	ds := c.generate(t, filepath.Join(root, "data"), events, 8, seed, months, max(events/25, 100))
	cfg := readConfig(t, ds.Config)
	finalNow := ds.Start.AddDate(0, months, 5)

	ref := runSpec{Config: ds.Config, Source: ds.Raw, Output: filepath.Join(root, "single", "out"),
		Warehouse: filepath.Join(root, "single", "var", "warehouse.duckdb"), Now: finalNow}
	c.mustRun(t, ref)
	refInvoices := checkInvoices(t, "single run", ref.Output)
	t.Logf("single run: %s: %d final periods, %d invoices", ref, countFinal(t, ref.Output), len(refInvoices))

	// The instants at which a period becomes final, and the invoices' order.
	var finalAt []time.Time
	for _, p := range readPeriods(t, ref.Output) {
		if at, ok := periodFinalAt(t, cfg, p.Tenant, p.End); ok {
			finalAt = append(finalAt, at)
		}
	}
	slices.SortFunc(finalAt, func(a, b time.Time) int { return a.Compare(b) })
	finalAt = slices.Compact(finalAt)
	invoiceFinalAt := map[string]time.Time{}
	for _, inv := range refInvoices {
		at, ok := periodFinalAt(t, cfg, inv.Tenant, inv.PeriodEnd)
		if !ok {
			t.Fatalf("invoice %s: tenant %s is not in the configuration", inv.Number, inv.Tenant)
		}
		invoiceFinalAt[inv.Number] = at
	}
	numberingKept := func(now time.Time) bool { return numberingOrderKept(refInvoices, invoiceFinalAt, now) }

	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	spans := objectSpans(t, ds, cfg)
	runs := planBatches(rng, spans, cfg.Grace, ds.Start, finalNow, finalAt, numberingKept)
	for i := 1; i < len(runs); i++ {
		if !runs[i].Now.After(runs[i-1].Now) || runs[i].Upto <= runs[i-1].Upto {
			t.Fatalf("bad plan (a test bug): run %d at %s with %d objects after run %d at %s with %d", i+1, runs[i].Now, runs[i].Upto, i, runs[i-1].Now, runs[i-1].Upto)
		}
	}

	src := filepath.Join(root, "batched", "source")
	spec := runSpec{Config: ds.Config, Source: src, Output: filepath.Join(root, "batched", "out"),
		Warehouse: filepath.Join(root, "batched", "var", "warehouse.duckdb")}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	linkObjects(t, ds.Raw, src, ds.Others) // users/ and the non-event file come first
	have, finalBefore, invBefore := 0, 0, 0
	for i, r := range runs {
		linkObjects(t, ds.Raw, src, ds.Objects[have:r.Upto])
		spec.Now = r.Now
		res := c.mustRun(t, spec)
		final, invs := countFinal(t, spec.Output), countInvoices(t, spec.Output)
		t.Logf("run %d/%d at %s (%s): objects %d-%d of %d (%s .. %s), %d periods newly final, %d invoices issued; %s",
			i+1, len(runs), r.Now.UTC().Format(time.RFC3339), r.Why, have+1, r.Upto, len(ds.Objects), ds.Objects[have], ds.Objects[r.Upto-1],
			final-finalBefore, invs-invBefore, res.Duration.Round(time.Millisecond))
		have, finalBefore, invBefore = r.Upto, final, invs
	}
	earlyFinal := 0
	for _, at := range finalAt {
		if len(runs) > 1 && !at.After(runs[len(runs)-2].Now) {
			earlyFinal++
		}
	}
	t.Logf("%d runs; %d periods were final before the last run", len(runs), earlyFinal)

	// Which run issued each invoice: the first at or after its period's end + grace.
	refIssued := finalNow.UTC().Truncate(24 * time.Hour)
	issued := map[string]time.Time{}
	for num, at := range invoiceFinalAt {
		for _, r := range runs {
			if !r.Now.Before(at) {
				issued[num] = r.Now.UTC().Truncate(24 * time.Hour)
				break
			}
		}
	}
	checkInvoices(t, "batched", spec.Output)
	n := compareOutputs(t, fmt.Sprintf("seed %d batched", seed), ref.Output, spec.Output, batchCompared,
		func(key, refPath, gotPath string) bool {
			if key == "invoices/register.csv" { // issue and due dates of the invoices issued earlier differ
				for _, p := range sameRegisterButIssueDates(refPath, gotPath, refIssued, issued) {
					t.Errorf("seed %d batched: %s: %s", seed, key, p)
				}
				return true
			}
			m := invoiceDocument.FindStringSubmatch(key)
			if m == nil {
				return false
			}
			day, ok := issued[m[1]]
			if !ok || day.Equal(refIssued) {
				return false // issued by the last run, as in the reference: byte for byte
			}
			for _, p := range sameInvoiceButIssueDate(refPath, gotPath, refIssued, day) {
				t.Errorf("seed %d batched: %s (issued %s by an earlier run; %s in the single run): %s",
					seed, key, day.Format(time.DateOnly), refIssued.Format(time.DateOnly), p)
			}
			return true
		})
	t.Logf("seed %d: %d outputs compared with the single run's in %s", seed, n, time.Since(began).Round(time.Millisecond))
}

// batchCompared selects the outputs the batched history must reproduce.
func batchCompared(key string) bool {
	switch {
	case key == "ledger/period_usage.csv", key == "ledger/rated_events.parquet", key == "invoices/register.csv":
		return true
	case invoiceDocument.MatchString(key):
		return true
	case strings.HasPrefix(key, "usage/"), strings.HasPrefix(key, "restricted/usage/"):
		return true
	}
	return false
}

// periodFinalAt is the first instant at which a tenant's period ending on a local date is
// final: its end (tenant-local midnight) plus the grace period (BILLING.md section 9).
func periodFinalAt(t *testing.T, cfg config, tenantID, periodEnd string) (time.Time, bool) {
	t.Helper()
	tn, ok := cfg.Tenants[tenantID]
	if !ok {
		return time.Time{}, false
	}
	end, err := tn.localMidnight(periodEnd)
	if err != nil {
		t.Fatalf("tenant %s: period_end %q: %v", tenantID, periodEnd, err)
	}
	return end.Add(cfg.Grace).UTC(), true
}

// numberingOrderKept reports whether a run at now finalizes the invoiced periods of each
// year as a prefix of their numbering order (period_end date, tenant_id), so that runs
// finalizing them one group at a time number them as one run would.
func numberingOrderKept(invs []registerInvoice, finalAt map[string]time.Time, now time.Time) bool {
	byYear := map[int][]registerInvoice{}
	for _, inv := range invs {
		byYear[inv.Year] = append(byYear[inv.Year], inv)
	}
	for _, list := range byYear {
		slices.SortFunc(list, func(a, b registerInvoice) int {
			if c := strings.Compare(a.PeriodEnd, b.PeriodEnd); c != 0 {
				return c
			}
			return strings.Compare(a.Tenant, b.Tenant)
		})
		open := false
		for _, inv := range list {
			final := !now.Before(finalAt[inv.Number])
			if final && open {
				return false
			}
			if !final {
				open = true
			}
		}
	}
	return true
}

// planBatches cuts the objects (in key order) into consecutive batches and gives each run a
// --now: growing, before end + grace of any period holding an event of a later batch
// (now < earliest such event + grace), after the latest event of the batches it has when it
// can be, and often exactly at a period's end + grace. The last run has every object at
// finalNow. A cut that leaves no room for a run is dropped.
func planBatches(rng *rand.Rand, spans []objectSpan, grace time.Duration, start, finalNow time.Time, finalAt []time.Time, ok func(time.Time) bool) []batchRun {
	n := len(spans)
	// suffixMin[c]: the earliest relevant event in objects c..n-1 (zero: none).
	suffixMin := make([]time.Time, n+1)
	for c := n - 1; c >= 0; c-- {
		suffixMin[c] = suffixMin[c+1]
		if s := spans[c]; s.Events > 0 && (suffixMin[c].IsZero() || s.Min.Before(suffixMin[c])) {
			suffixMin[c] = s.Min
		}
	}
	prefixMax := make([]time.Time, n+1) // prefixMax[c]: the latest relevant event in objects 0..c-1
	for c := 1; c <= n; c++ {
		prefixMax[c] = prefixMax[c-1]
		if s := spans[c-1]; s.Events > 0 && s.Max.After(prefixMax[c]) {
			prefixMax[c] = s.Max
		}
	}
	limit := func(c int) time.Time { // every run before batch c's arrival happens before this
		if suffixMin[c].IsZero() {
			return finalNow
		}
		return suffixMin[c].Add(grace)
	}
	if n < 2 {
		return []batchRun{{Now: finalNow, Upto: n, Why: "every object"}}
	}
	want := 1 + rng.IntN(min(5, n-1)) // 2 to 6 batches
	cuts := map[int]bool{}
	// about half the cuts where some period's end + grace can fall between two batches
	for range want/2 + 1 {
		if len(finalAt) == 0 {
			break
		}
		f := finalAt[rng.IntN(len(finalAt))]
		for c := 1; c < n; c++ {
			if limit(c).After(f) {
				cuts[c] = true
				break
			}
		}
	}
	for len(cuts) < want {
		cuts[1+rng.IntN(n-1)] = true
	}
	sorted := make([]int, 0, len(cuts))
	for c := range cuts {
		sorted = append(sorted, c)
	}
	slices.Sort(sorted)

	var runs []batchRun
	prev := start.Add(-time.Minute)
	for _, c := range sorted {
		lo, hi := prev.Add(time.Minute), limit(c)
		if !lo.Before(hi) {
			continue
		}
		pref := lo
		if prefixMax[c].After(pref) && prefixMax[c].Before(hi) {
			pref = prefixMax[c]
		}
		var cands []time.Time
		for _, f := range finalAt {
			if !f.Before(pref) && f.Before(hi) && ok(f) {
				cands = append(cands, f)
			}
		}
		var now time.Time
		why := ""
		if len(cands) > 0 && rng.IntN(3) < 2 {
			now, why = cands[rng.IntN(len(cands))], "a period's end + grace"
			if rng.IntN(2) == 0 {
				if later := now.Add(time.Duration(1+rng.IntN(3600)) * time.Second); later.Before(hi) && ok(later) {
					now, why = later, "just after a period's end + grace"
				}
			}
		} else {
			for range 20 {
				at := pref.Add(time.Duration(rng.Int64N(int64(hi.Sub(pref))))).Truncate(time.Second)
				if at.Before(lo) {
					at = lo
				}
				if at.Before(hi) && ok(at) {
					now, why = at, "random"
					break
				}
			}
		}
		if now.IsZero() {
			continue
		}
		runs = append(runs, batchRun{Now: now, Upto: c, Why: why})
		prev = now
	}
	return append(runs, batchRun{Now: finalNow, Upto: n, Why: "the rest, final --now"})
}

// TestRerunRewritesNothing: "Running twice changes nothing; outputs of a re-run with no new
// input are byte-identical (the run manifest aside)" (BILLING.md section 5), and outputs
// whose bytes did not change are not rewritten (README). After a run at an earlier --now and
// after one at the final --now, a run at the same --now with nothing new exits 0 and leaves
// every file under the output but runs/ as it was (same bytes, same modification time, no
// file added or removed); a run one second later may add only its own
// quarantine/{run_id}.jsonl and manifest. The analysts' DuckDB file is checked in a subtest
// of its own (README: it may differ in layout from one build to the next).
func TestRerunRewritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the binary several times")
	}
	c := newCLI(t)
	root := t.TempDir()
	ds := c.generate(t, filepath.Join(root, "data"), 5000, 8, 1, 4, 200)
	spec := runSpec{Config: ds.Config, Source: ds.Raw, Output: filepath.Join(root, "out"),
		Warehouse: filepath.Join(root, "var", "warehouse.duckdb")}
	step := func(name string, now time.Time, newOK func(string) bool) {
		t.Run(name, func(t *testing.T) {
			before := snapshotTree(t, spec.Output)
			time.Sleep(10 * time.Millisecond) // a rewrite gets a later modification time
			spec.Now = now
			res := c.mustRun(t, spec)
			t.Logf("%s: exit %d in %s", spec, res.Code, res.Duration.Round(time.Millisecond))
			checkNothingRewritten(t, name, before, snapshotTree(t, spec.Output), newOK)
		})
	}
	for _, now := range []time.Time{ds.Start.AddDate(0, 2, 9), ds.Start.AddDate(0, 4, 5)} {
		spec.Now = now
		c.mustRun(t, spec)
		t.Logf("run at %s: %d final periods, %d invoices (%s)", now.Format(time.RFC3339), countFinal(t, spec.Output), countInvoices(t, spec.Output), spec.Output)
		step("again-at-"+now.Format("2006-01-02"), now, nil)
	}
	later := spec.Now.Add(time.Second)
	id := later.UTC().Format("20060102T150405Z")
	step("one-second-later", later, func(key string) bool { return key == "quarantine/"+id+".jsonl" })
}

// checkNothingRewritten compares two listings of an output: runs/ aside, no file added
// (unless newOK says it may be), removed, changed or rewritten.
func checkNothingRewritten(t *testing.T, what string, before, after map[string]fileState, newOK func(string) bool) {
	t.Helper()
	const snapshotDB = "analytics/warehouse.duckdb"
	var keys []string
	for k := range after {
		keys = append(keys, k)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var problems, dbProblems []string
	for _, k := range keys {
		if strings.HasPrefix(k, "runs/") {
			continue
		}
		b, hadIt := before[k]
		a, hasIt := after[k]
		var p string
		switch {
		case !hadIt && newOK != nil && newOK(k):
			continue
		case !hadIt:
			p = k + ": added"
		case !hasIt:
			p = k + ": removed"
		case a.SHA256 != b.SHA256:
			p = fmt.Sprintf("%s: bytes changed (%d -> %d bytes)", k, b.Size, a.Size)
		case !a.ModTime.Equal(b.ModTime):
			p = fmt.Sprintf("%s: rewritten with the same bytes (modified %s -> %s)", k, b.ModTime.Format(time.RFC3339Nano), a.ModTime.Format(time.RFC3339Nano))
		default:
			continue
		}
		if k == snapshotDB {
			dbProblems = append(dbProblems, p)
		} else {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%s: %d outputs not left as they were:\n  %s", what, len(problems), strings.Join(problems, "\n  "))
	}
	t.Run("analytics-snapshot", func(t *testing.T) {
		if len(dbProblems) > 0 {
			t.Errorf("%s: %s (BILLING.md section 5: a re-run with no new input rewrites byte-identical outputs, the manifest aside; README: the DuckDB file of a large warehouse may differ in layout from one build to the next)",
				what, strings.Join(dbProblems, "; "))
		}
	})
}
