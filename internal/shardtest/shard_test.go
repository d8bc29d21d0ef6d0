package shardtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/partition"
)

// A sharded round (README, "Past one machine") against the S3 test server: partition, then
// every shard as its own process of the built binary, then close. Its outputs must be the
// single-machine run's, byte for byte.

// fleet is a sharded fleet of a test: its locations, and one local directory per shard
// (a shard's machine).
type fleet struct {
	bin, cfg           string
	source, state, out string
	shards             int
	work               string
	machine            int // bumped to give the shards new machines (empty local disks)
}

func newFleet(t *testing.T, bin, cfg, source, b string, shards int) *fleet {
	return &fleet{bin: bin, cfg: cfg, source: source, state: "s3://" + b + "/state/", out: "s3://" + b + "/out/",
		shards: shards, work: t.TempDir()}
}

// command runs the binary with the S3 server in its environment.
func (f *fleet) command(args ...string) *exec.Cmd {
	cmd := exec.Command(f.bin, args...)
	cmd.Env = append(os.Environ(), s3srv.Env()...)
	return cmd
}

func (f *fleet) shardWarehouse(i int) string {
	return filepath.Join(f.work, fmt.Sprintf("machine-%d-%d", f.machine, i), "warehouse.duckdb")
}

func (f *fleet) partition(t *testing.T, now string) {
	t.Helper()
	cmd := f.command("partition", "--config", f.cfg, "--state", f.state, "--shards", fmt.Sprint(f.shards),
		"--source", f.source, "--now", now, "--log-level", "warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("partition --now %s: %v\n%s", now, err, out)
	}
}

// startShard starts shard i; its combined output goes to buf.
func (f *fleet) startShard(t *testing.T, i int, buf *syncBuffer) *exec.Cmd {
	t.Helper()
	cmd := f.command("run", "--config", f.cfg, "--state", f.state, "--shard", fmt.Sprintf("%d/%d", i, f.shards),
		"--output", f.out, "--warehouse", f.shardWarehouse(i), "--log-level", "info")
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// runShards runs every shard at once, as an Indexed Job does.
func (f *fleet) runShards(t *testing.T) {
	t.Helper()
	cmds := make([]*exec.Cmd, f.shards)
	bufs := make([]*syncBuffer, f.shards)
	for i := range cmds {
		bufs[i] = &syncBuffer{}
		cmds[i] = f.startShard(t, i, bufs[i])
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %d/%d: %v\n%s", i, f.shards, err, bufs[i].String())
		}
	}
}

func (f *fleet) close(t *testing.T) (string, error) {
	t.Helper()
	cmd := f.command("close", "--config", f.cfg, "--state", f.state, "--output", f.out,
		"--warehouse", filepath.Join(f.work, "close", "fleet.duckdb"), "--log-level", "warn")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// round runs one whole round.
func (f *fleet) round(t *testing.T, now string) {
	t.Helper()
	began := time.Now()
	f.partition(t, now)
	parted := time.Now()
	f.runShards(t)
	ran := time.Now()
	if out, err := f.close(t); err != nil {
		t.Fatalf("close of the round at %s: %v\n%s", now, err, out)
	}
	t.Logf("round at %s, %d shards: partition %.1fs, shards %.1fs, close %.1fs", now, f.shards,
		parted.Sub(began).Seconds(), ran.Sub(parted).Seconds(), time.Since(ran).Seconds())
}

// syncBuffer is a bytes.Buffer safe for a process's stdout and stderr at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// shardCompared are the outputs a sharded round must publish byte for byte as a single
// machine: everything but the run manifests and the output index (timings, and the
// checksum of the analysts' database), the analysts' database itself (a DuckDB file is not
// byte-stable) and the locks.
func shardCompared(key string) bool {
	switch {
	case strings.HasPrefix(key, "runs/"), strings.HasPrefix(key, "locks/"), key == "analytics/warehouse.duckdb":
		return false
	}
	return true
}

// compareWithSingle compares the S3 output out with a local single-machine output dir.
func compareWithSingle(t *testing.T, what string, out *objstore.S3, dir string) {
	t.Helper()
	ctx := context.Background()
	objs, err := out.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range objs {
		if shardCompared(o.Key) {
			got[o.Key] = true
		}
	}
	want := map[string]bool{}
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if k := filepath.ToSlash(rel); shardCompared(k) {
			want[k] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !got[k] {
			t.Errorf("%s: %s published by the single machine, not by the shards", what, k)
			continue
		}
		delete(got, k)
		if !bytes.Equal(getObject(t, out, k), mustRead(t, filepath.Join(dir, filepath.FromSlash(k)))) {
			t.Errorf("%s: %s differs from the single machine's", what, k)
		}
	}
	for k := range got {
		t.Errorf("%s: %s published by the shards, not by the single machine", what, k)
	}
	for _, need := range []string{"ledger/period_usage.csv", "invoices/register.csv"} {
		if !want[need] {
			t.Errorf("%s: the single machine published no %s", what, need)
		}
	}
}

// perTenant reports whether a shard publishes an output itself (its tenants' files).
func perTenant(key string) bool {
	for _, p := range []string{"usage/", "restricted/usage/", "analytics/parquet/"} {
		if strings.HasPrefix(key, p) && !strings.HasPrefix(key, "analytics/parquet/invoices/") {
			return true
		}
	}
	return false
}

// singleRun runs the single machine into a local output (the reference).
func singleRun(t *testing.T, bin, cfg, source, dir, now string) {
	t.Helper()
	began := time.Now()
	if msg, err := runS3(t, bin, cfg, source, filepath.Join(dir, "out"), filepath.Join(dir, "wh.duckdb"), now); err != nil {
		t.Fatalf("single-machine run --now %s: %v\n%s", now, err, msg)
	}
	t.Logf("single-machine run at %s: %.1fs", now, time.Since(began).Seconds())
}

// checkRoundManifest checks the round's manifest is published, last, as a run's.
func checkRoundManifest(t *testing.T, out *objstore.S3, now string) {
	t.Helper()
	var m jobs.Manifest
	if err := json.Unmarshal(getObject(t, out, manifestKeyAt(t, out, mustTime(now))), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "succeeded" || !m.Reconciliation.OK {
		t.Errorf("round manifest at %s: status %s, reconciliation %+v", now, m.Status, m.Reconciliation)
	}
}

// shared builds a value once per test process for every test that needs it (the
// single-machine references); a failure fails the test that built it and every later one.
type shared[T any] struct {
	mu     sync.Mutex
	done   bool
	val    T
	failed bool
}

func (s *shared[T]) get(t *testing.T, build func() T) T {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		t.Fatal("building the shared reference failed in another test")
	}
	if !s.done {
		s.failed = true // until build returns
		s.val = build()
		s.failed, s.done = false, true
	}
	return s.val
}

// copyDir copies a directory tree (a reference output at one point).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for _, k := range listKeys(t, from) {
		copyFile(t, filepath.Join(from, filepath.FromSlash(k)), filepath.Join(to, filepath.FromSlash(k)))
	}
}

// shardRefDir holds the references; TestMain removes it.
var shardRefDir string

func refDir(t *testing.T, name string) string {
	t.Helper()
	if shardRefDir == "" {
		d, err := os.MkdirTemp("", "creditmeter-shard-ref-")
		if err != nil {
			t.Fatal(err)
		}
		shardRefDir = d
	}
	return filepath.Join(shardRefDir, name)
}

var (
	refMu         sync.Mutex
	acceptanceRef = map[string]*shared[string]{}
)

// acceptanceReference is a case's single-machine output after its last run, on S3 sources.
func acceptanceReference(t *testing.T, bin, c string) string {
	t.Helper()
	refMu.Lock()
	sh := acceptanceRef[c]
	if sh == nil {
		sh = &shared[string]{}
		acceptanceRef[c] = sh
	}
	dir := refDir(t, "acceptance-"+filepath.Base(c))
	refMu.Unlock()
	return sh.get(t, func() string {
		runs, err := acceptancecase.Runs(c)
		if err != nil {
			t.Fatal(err)
		}
		b := bucket(t, "shard-acc-ref")
		source := "s3://" + b + "/raw/"
		src := s3store(t, source)
		raw := filepath.Join(c, "raw")
		keys := listKeys(t, raw)
		cfg := filepath.Join(dir, "creditmeter.yaml")
		copyFile(t, filepath.Join(c, "creditmeter.yaml"), cfg)
		for _, r := range runs {
			syncUp(t, src, raw, matching(keys, r.Globs))
			singleRun(t, bin, cfg, source, dir, r.NowText())
		}
		return filepath.Join(dir, "out")
	})
}

// The fleet sizes: every acceptance case as 1, 2 and 4 shards, the generated rounds as 1,
// 2 and 4 shards (and as 2 again by TestShardKilledShard). A process costs about a CPU second
// however small its data; the fleets run side by side (fleetSlots).
func acceptanceShardCounts(string) []int { return []int{1, 2, 4} }

// fleetSlots bounds the fleets at work at once across the TestShard tests. A fleet is
// mostly processes starting and waiting on each other and on the server, so more fleets run
// at once than go test's -parallel (GOMAXPROCS) allows parallel tests: the subtests are run
// from goroutines (concurrent t.Run calls), not with t.Parallel.
var fleetSlots = make(chan struct{}, 6)

// concurrently runs the subtests at once (within fleetSlots) and waits for them.
func concurrently(t *testing.T, names []string, f func(t *testing.T, i int)) {
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fleetSlots <- struct{}{}
			defer func() { <-fleetSlots }()
			t.Run(name, func(t *testing.T) { f(t, i) })
		}()
	}
	wg.Wait()
}

// TestShardAcceptance runs every acceptance case as a sharded fleet (acceptanceShardCounts),
// each round with the objects of its run, and compares every output with a single
// machine's.
func TestShardAcceptance(t *testing.T) {
	bin := binary(t)
	cases, err := filepath.Glob(filepath.Join(acceptanceDir(), "[0-9]*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no acceptance cases: %v", err)
	}
	t.Parallel()
	type fleetCase struct {
		c, name string
		n       int
		runs    []acceptancecase.Run
	}
	var fcs []fleetCase
	var names []string
	for _, c := range cases {
		runs, err := acceptancecase.Runs(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range acceptanceShardCounts(filepath.Base(c)) {
			fcs = append(fcs, fleetCase{c, filepath.Base(c), n, runs})
			names = append(names, fmt.Sprintf("%s/%d", filepath.Base(c), n))
		}
	}
	concurrently(t, names, func(t *testing.T, i int) {
		c, name, n, runs := fcs[i].c, fcs[i].name, fcs[i].n, fcs[i].runs
		ref := acceptanceReference(t, bin, c)
		work := t.TempDir()
		cfg := filepath.Join(work, "creditmeter.yaml")
		copyFile(t, filepath.Join(c, "creditmeter.yaml"), cfg)
		b := bucket(t, "shard-acc")
		source := "s3://" + b + "/raw/"
		src, out := s3store(t, source), s3store(t, "s3://"+b+"/out/")
		raw := filepath.Join(c, "raw")
		keys := listKeys(t, raw)
		f := newFleet(t, bin, cfg, source, b, n)
		for _, r := range runs {
			syncUp(t, src, raw, matching(keys, r.Globs))
			f.round(t, r.NowText())
			checkRoundManifest(t, out, r.NowText())
		}
		compareWithSingle(t, name, out, ref)
	})
}

// generated is a generated data set of three months in three rounds and the single
// machine's output after each: the first round misses one January object, which arrives
// in the second, after January is final (late events); before the third one object is
// rewritten (its new version replaces the old one's lines in every shard).
type generated struct {
	cfg  string
	nows []string
	raws []string   // each round's raw directory
	keys [][]string // the objects of each round
	refs []string   // the single machine's output after each round
}

var genRef shared[*generated]

func generatedData(t *testing.T, bin string) *generated {
	t.Helper()
	return genRef.get(t, func() *generated {
		dir := refDir(t, "generated")
		cmd := exec.Command(bin, "generate", "--events", "1000", "--events-per-object", "70", "--tenants", "5",
			"--months", "3", "--seed", "13", "--out", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("generate: %v\n%s", err, out)
		}
		g := &generated{cfg: filepath.Join(dir, "creditmeter.yaml"),
			nows: []string{"2026-02-08T00:00:00Z", "2026-03-10T00:00:00Z", "2026-04-10T00:00:00Z"}}
		raw, raw3 := filepath.Join(dir, "raw"), filepath.Join(dir, "raw3")
		all := listKeys(t, raw)
		sort.Strings(all)
		var events []string
		for _, k := range all {
			if strings.HasPrefix(k, "2026/") && strings.Contains(k, "/events-") {
				events = append(events, k)
			}
		}
		late := ""
		for _, k := range events {
			if strings.HasPrefix(k, "2026/01/1") {
				late = k
				break
			}
		}
		if late == "" {
			t.Fatalf("no mid-January object to hold back in %v", events)
		}
		upTo := func(day string, withLate bool) []string {
			var out []string
			for _, k := range all {
				if !strings.HasPrefix(k, "2026/") || (k[:10] <= day && (withLate || k != late)) {
					out = append(out, k)
				}
			}
			return out
		}
		copyDir(t, raw, raw3)
		var rewritten string
		for _, k := range events {
			if strings.HasPrefix(k, "2026/02/") && strings.HasSuffix(k, ".jsonl") {
				rewritten = k
				break
			}
		}
		if rewritten == "" {
			t.Fatalf("no February JSON Lines object to rewrite in %v", events)
		}
		p := filepath.Join(raw3, filepath.FromSlash(rewritten))
		lines := strings.SplitAfter(string(mustRead(t, p)), "\n")
		if err := os.WriteFile(p, []byte(strings.Join(lines[1:], "")), 0o644); err != nil {
			t.Fatal(err)
		}
		g.raws = []string{raw, raw, raw3}
		g.keys = [][]string{upTo("2026/02/06", false), upTo("2026/03/05", true), all}
		b := bucket(t, "shard-gen-ref")
		source := "s3://" + b + "/raw/"
		src := s3store(t, source)
		work := filepath.Join(dir, "single")
		for i, now := range g.nows {
			syncUp(t, src, g.raws[i], g.keys[i])
			singleRun(t, bin, g.cfg, source, work, now)
			ref := filepath.Join(dir, fmt.Sprintf("ref-%d", i))
			copyDir(t, filepath.Join(work, "out"), ref)
			g.refs = append(g.refs, ref)
		}
		return g
	})
}

// TestShardGenerated runs the generated rounds (late events, finalizations between rounds, a
// rewritten object) as 1, 2 and 4 shards; before the last round the shards move to new
// machines (their warehouses come back from the state store).
func TestShardGenerated(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	counts := []int{1, 2, 4}
	var names []string
	for _, n := range counts {
		names = append(names, fmt.Sprint(n))
	}
	concurrently(t, names, func(t *testing.T, i int) {
		n := counts[i]
		g := generatedData(t, bin)
		b := bucket(t, "shard-gen")
		source := "s3://" + b + "/raw/"
		src, out := s3store(t, source), s3store(t, "s3://"+b+"/out/")
		f := newFleet(t, bin, g.cfg, source, b, n)
		for i, now := range g.nows {
			syncUp(t, src, g.raws[i], g.keys[i])
			if i == 2 {
				f.machine++ // new machines: empty local disks
			}
			f.round(t, now)
			checkRoundManifest(t, out, now)
			compareWithSingle(t, "round at "+now, out, g.refs[i])
		}
	})
}

// TestShardKilledShard kills one shard mid-run: the close step publishes nothing of the
// round and says which shard is missing; the next round (partition resumes the open round,
// the done shard does nothing, the killed one runs again, on another machine) completes with
// the single machine's results. In the round after, a shard is killed as it commits its
// warehouse: run again, it does not run the round twice, and the results still match.
func TestShardKilledShard(t *testing.T) {
	t.Parallel()
	fleetSlots <- struct{}{}
	defer func() { <-fleetSlots }()
	bin := binary(t)
	g := generatedData(t, bin)
	b := bucket(t, "shard-kill")
	source := "s3://" + b + "/raw/"
	src, out := s3store(t, source), s3store(t, "s3://"+b+"/out/")
	state := s3store(t, "s3://"+b+"/state/")
	f := newFleet(t, bin, g.cfg, source, b, 2)

	// round 1 completes
	syncUp(t, src, g.raws[0], g.keys[0])
	f.round(t, g.nows[0])
	compareWithSingle(t, "round 1", out, g.refs[0])
	before, err := out.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// round 2: shard 1 is killed once it has loaded its lines (January's invoices are issued
	// in this round, after the late object)
	now := g.nows[1]
	syncUp(t, src, g.raws[1], g.keys[1])
	f.partition(t, now)
	var b0, b1 syncBuffer
	c0 := f.startShard(t, 0, &b0)
	c1 := f.startShard(t, 1, &b1)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(b1.String(), `"stage":"fund"`) {
		if time.Now().After(deadline) {
			t.Fatalf("shard 1 never reached the fund stage:\n%s", b1.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = c1.Process.Kill()
	_ = c1.Wait()
	if err := c0.Wait(); err != nil {
		t.Fatalf("shard 0: %v\n%s", err, b0.String())
	}
	msg, err := f.close(t)
	if err == nil || !strings.Contains(msg, "shard(s) 1 of 2") {
		t.Fatalf("close with shard 1 killed: err %v, want it to fail naming shard 1\n%s", err, msg)
	}
	// the shard that completed published its own tenants' files (usage reports, their
	// analytics Parquet: outputs a reader trusts only once a manifest lists them, as a failed
	// single run's), the killed one left its lock; nothing fleet-wide changed
	after, err := out.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	was := map[string]string{}
	for _, o := range before {
		was[o.Key] = o.ETag
	}
	for _, o := range after {
		if perTenant(o.Key) || strings.HasPrefix(o.Key, "locks/") {
			continue
		}
		if etag, ok := was[o.Key]; !ok || etag != o.ETag {
			t.Errorf("close published %s with a shard missing", o.Key)
		}
	}
	rd, _, err := partition.ReadRound(context.Background(), state)
	if err != nil || rd.Phase != partition.PhasePartitioned {
		t.Fatalf("round after the failed close: %+v, %v", rd, err)
	}

	// the next round at a later instant: partition resumes the open round (nothing new is
	// read), shard 0 has nothing to do, shard 1 runs again on a new machine, close completes
	f.machine++
	f.round(t, "2026-03-10T06:00:00Z")
	checkRoundManifest(t, out, now)
	compareWithSingle(t, "the round completed after the kill", out, g.refs[1])

	// the last round: shard 0 is killed as its warehouse generation is committed, in the
	// window between the commit and its done marker (pending.json covers it): running the
	// shard again writes the marker and does not run the round twice
	syncUp(t, src, g.raws[2], g.keys[2])
	f.partition(t, g.nows[2])
	b0, b1 = syncBuffer{}, syncBuffer{}
	c0 = f.startShard(t, 0, &b0)
	c1 = f.startShard(t, 1, &b1)
	deadline = time.Now().Add(60 * time.Second)
	for !strings.Contains(b0.String(), "generation committed") {
		if time.Now().After(deadline) {
			t.Fatalf("shard 0 never committed:\n%s", b0.String())
		}
		time.Sleep(time.Millisecond)
	}
	_ = c0.Process.Kill()
	_ = c0.Wait()
	if err := c1.Wait(); err != nil {
		t.Fatalf("shard 1: %v\n%s", err, b1.String())
	}
	// the kill usually lands after the done marker too: take it away, as if it had landed
	// before (the marker is the last thing a shard writes)
	rd, _, err = partition.ReadRound(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Delete(context.Background(), partition.DoneKey(rd.ID, 0)); err != nil {
		t.Fatal(err)
	}
	again := f.command("run", "--config", f.cfg, "--state", f.state, "--shard", "0/2", "--output", f.out,
		"--warehouse", f.shardWarehouse(0), "--log-level", "warn")
	msg2, err := again.CombinedOutput()
	if err != nil {
		t.Fatalf("shard 0 again: %v\n%s", err, msg2)
	}
	t.Logf("shard 0 run again after the kill at its commit: %s", strings.TrimSpace(string(msg2)))
	if !strings.Contains(string(msg2), "had committed") {
		t.Errorf("shard 0 did not complete its committed round from its pending marker: %s", msg2)
	}
	if msg, err := f.close(t); err != nil {
		t.Fatalf("close of the last round: %v\n%s", err, msg)
	}
	checkRoundManifest(t, out, g.nows[2])
	compareWithSingle(t, "the round after", out, g.refs[2])
}
