package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/creditmeter/creditmeter/internal/s3test"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// The same product against a real S3 server (versitygw, started by TestMain): sources
// uploaded to it, outputs read back from it.

var s3srv *s3test.Server

func TestMain(m *testing.M) {
	var err error
	s3srv, err = s3test.Start()
	if err != nil {
		// never a skip: a missing server is a failure, in CI and elsewhere
		fmt.Fprintln(os.Stderr, "start the S3 test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	s3srv.Stop()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func s3store(t *testing.T, location string) *objstore.S3 {
	t.Helper()
	st, err := s3srv.Store(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var buckets atomic.Int32

// bucket creates a new bucket named after base (unique per call, so that -count=N starts
// each repetition afresh) and returns its name.
func bucket(t *testing.T, base string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", base, buckets.Add(1))
	if err := s3srv.Bucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// syncUp makes the store hold exactly the files of dir whose key is in keys.
func syncUp(t *testing.T, st *objstore.S3, dir string, keys []string) {
	t.Helper()
	ctx := context.Background()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	have, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range have {
		if !want[o.Key] {
			if err := st.Delete(ctx, o.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k)))
			if err == nil {
				err = st.Put(ctx, k, bytes.NewReader(b), int64(len(b)), "application/octet-stream")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// matching keeps the keys that existed at a run (acceptancecase.Matches).
func matching(keys, globs []string) []string {
	var out []string
	for _, k := range keys {
		if acceptancecase.Matches(k, globs) {
			out = append(out, k)
		}
	}
	return out
}

// runS3 runs the binary with the server in its environment and returns stdout+stderr.
func runS3(t *testing.T, bin, cfg, source, output, wh, now string) (string, error) {
	t.Helper()
	args := []string{"run", "--config", cfg, "--now", now, "--log-level", "warn"}
	if source != "" {
		args = append(args, "--source", source)
	}
	if output != "" {
		args = append(args, "--output", output)
	}
	if wh != "" {
		args = append(args, "--warehouse", wh)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), s3srv.Env()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func getObject(t *testing.T, st *objstore.S3, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestS3Acceptance runs the acceptance cases with the source on S3 and the output on S3.
func TestS3Acceptance(t *testing.T) {
	bin := binary(t)
	cases, err := filepath.Glob(filepath.Join(acceptanceDir(), "[0-9]*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no acceptance cases: %v", err)
	}
	acc := bucket(t, "accept")
	for i, c := range cases {
		name := filepath.Base(c)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			cfgText := string(mustRead(t, filepath.Join(c, "creditmeter.yaml")))
			if i%2 == 0 {
				// the endpoint from the configuration rather than the environment
				cfgText += fmt.Sprintf("\ns3: {region: %s, endpoint: %q}\n", s3test.Region, s3srv.URL)
			}
			cfg := filepath.Join(work, "creditmeter.yaml")
			if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
				t.Fatal(err)
			}
			source, output := "s3://"+acc+"/"+name+"/raw", "s3://"+acc+"/"+name+"/out/"
			wh := filepath.Join(work, "warehouse.duckdb")
			src, out := s3store(t, source), s3store(t, output)
			raw := filepath.Join(c, "raw")
			keys := listKeys(t, raw)
			runs, err := acceptancecase.Runs(c)
			if err != nil {
				t.Fatal(err)
			}
			var now string
			for _, r := range runs {
				now = r.NowText()
				syncUp(t, src, raw, matching(keys, r.Globs))
				if msg, err := runS3(t, bin, cfg, source, output, wh, now); err != nil {
					t.Fatalf("run --now %s: %v\n%s", now, err, msg)
				}
			}
			got := filepath.Join(work, "got")
			for _, f := range []struct {
				rel   string
				key   []string
				order bool
			}{
				{"ledger/period_usage.csv", []string{"tenant_id", "period_start"}, true},
				{"invoices/register.csv", []string{"invoice_number"}, false},
			} {
				p := filepath.Join(got, filepath.FromSlash(f.rel))
				_ = os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, getObject(t, out, f.rel), 0o644); err != nil {
					t.Fatal(err)
				}
				compareCSV(t, filepath.Join(c, "expected", f.rel), p, f.key, f.order)
			}
			checkPublished(t, out, now)
		})
	}
}

// checkPublished checks the run manifest of the run at now: every output it lists is on the
// server with the listed checksum and a content type, and the lock is released.
func checkPublished(t *testing.T, out *objstore.S3, now string) {
	t.Helper()
	ctx := context.Background()
	ts, _ := time.Parse(time.RFC3339, now)
	var m jobs.Manifest
	if err := json.Unmarshal(getObject(t, out, manifestKeyAt(t, out, ts)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "succeeded" || len(m.Outputs) == 0 {
		t.Fatalf("manifest: status %s, %d outputs", m.Status, len(m.Outputs))
	}
	for _, f := range m.Outputs {
		info, err := out.Stat(ctx, f.Key)
		if err != nil {
			t.Errorf("output %s: %v", f.Key, err)
			continue
		}
		if info.Size != f.Bytes || (info.SHA256 != "" && info.SHA256 != f.SHA256) {
			t.Errorf("output %s: %d bytes sha256 %s, manifest says %d %s", f.Key, info.Size, info.SHA256, f.Bytes, f.SHA256)
		}
		if want := objstore.ContentType(f.Key); info.ContentType != want {
			t.Errorf("output %s: content type %q, want %q", f.Key, info.ContentType, want)
		}
	}
	if _, err := out.Stat(ctx, objstore.LockKey); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("run lock not released: %v", err)
	}
}

// generate writes synthetic raw data with `creditmeter generate`.
func generate(t *testing.T, bin, dir string, events, perObject int) {
	t.Helper()
	cmd := exec.Command(bin, "generate", "--events", fmt.Sprint(events), "--events-per-object", fmt.Sprint(perObject),
		"--tenants", "3", "--months", "2", "--seed", "11", "--out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, out)
	}
}

// localLedger runs the product on a local copy of raw with a fresh warehouse: the ledger
// the S3 runs must match byte for byte.
func localLedger(t *testing.T, bin, cfg, raw, now string) []byte {
	t.Helper()
	work := t.TempDir()
	if msg, err := runS3(t, bin, cfg, raw, filepath.Join(work, "out"), filepath.Join(work, "wh.duckdb"), now); err != nil {
		t.Fatalf("local reference run: %v\n%s", err, msg)
	}
	return mustRead(t, filepath.Join(work, "out", "ledger", "period_usage.csv"))
}

// TestS3ManyObjectsAndChanges pulls more than 1,000 objects (several ListObjectsV2 pages),
// then replaces one object (a new ETag) and checks its events are replaced, and that
// unchanged outputs are not uploaded again.
func TestS3ManyObjectsAndChanges(t *testing.T) {
	bin := binary(t)
	work := t.TempDir()
	generate(t, bin, work, 3300, 3) // 1,100 objects and the user directory
	raw := filepath.Join(work, "raw")
	cfg := filepath.Join(work, "creditmeter.yaml")
	b := bucket(t, "many")
	srcLoc, outLoc := "s3://"+b+"/raw/", "s3://"+b+"/out/"
	src, out := s3store(t, srcLoc), s3store(t, outLoc)
	keys := listKeys(t, raw)
	if len(keys) <= 1000 {
		t.Fatalf("only %d objects", len(keys))
	}
	syncUp(t, src, raw, keys)
	wh := filepath.Join(work, "wh.duckdb")
	const now = "2026-03-05T00:00:00Z"
	msg, err := runS3(t, bin, cfg, srcLoc, outLoc, wh, now)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, msg)
	}
	var m jobs.Manifest
	if err := json.Unmarshal(getObject(t, out, manifestKeyAt(t, out, mustTime(now))), &m); err != nil {
		t.Fatal(err)
	}
	if m.Objects.Listed != len(keys) || m.Objects.Ingested != len(keys) {
		t.Errorf("listed %d ingested %d, want %d", m.Objects.Listed, m.Objects.Ingested, len(keys))
	}
	// the same history run on a local copy is the reference
	ref := t.TempDir()
	refRun := func(now string) []byte {
		if msg, err := runS3(t, bin, cfg, raw, filepath.Join(ref, "out"), filepath.Join(ref, "wh.duckdb"), now); err != nil {
			t.Fatalf("local reference run: %v\n%s", err, msg)
		}
		return mustRead(t, filepath.Join(ref, "out", "ledger", "period_usage.csv"))
	}
	if got, want := getObject(t, out, "ledger/period_usage.csv"), refRun(now); !bytes.Equal(got, want) {
		t.Errorf("ledger from S3 differs from the local run:\n%s\nwant\n%s", got, want)
	}

	// one object changes: drop its first event line
	var changed string
	for _, k := range keys {
		if strings.HasSuffix(k, ".jsonl") && !strings.HasPrefix(k, "users/") {
			changed = k
			break
		}
	}
	p := filepath.Join(raw, filepath.FromSlash(changed))
	lines := strings.SplitAfter(string(mustRead(t, p)), "\n")
	if err := os.WriteFile(p, []byte(strings.Join(lines[1:], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	syncUp(t, src, raw, []string{changed})
	const now2 = "2026-03-05T06:00:00Z"
	if msg, err := runS3(t, bin, cfg, srcLoc, outLoc, wh, now2); err != nil {
		t.Fatalf("run after change: %v\n%s", err, msg)
	}
	var m2 jobs.Manifest
	if err := json.Unmarshal(getObject(t, out, manifestKeyAt(t, out, mustTime(now2))), &m2); err != nil {
		t.Fatal(err)
	}
	if m2.Objects.Ingested != 1 {
		t.Errorf("second run ingested %d objects, want the 1 that changed", m2.Objects.Ingested)
	}
	if got, want := getObject(t, out, "ledger/period_usage.csv"), refRun(now2); !bytes.Equal(got, want) {
		t.Errorf("ledger after the change differs from the local run:\n%s\nwant\n%s", got, want)
	}
	// the object's events were replaced, not added to
	db, err := warehouse.Open(context.Background(), wh)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM lines l JOIN objects o ON o.obj_no = l.obj_no WHERE o.key = ? AND o.status = 'read'", changed).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(lines[1:]) - 1; n != want { // the last element is the empty tail after the final newline
		t.Errorf("%s: %d lines in the warehouse after the change, want %d", changed, n, want)
	}
	// only what changed is written: the ledger, not every tenant's documents
	if len(m2.Outputs) == 0 || len(m2.Outputs) >= len(m.Outputs) {
		t.Errorf("the second run wrote %d outputs (the first %d); unchanged ones should be skipped", len(m2.Outputs), len(m.Outputs))
	}
}

func mustTime(s string) time.Time {
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return ts
}

// TestS3Lock: a run that finds the lock held exits 0 and does nothing; an expired lock is
// taken over.
func TestS3Lock(t *testing.T) {
	bin := binary(t)
	c := filepath.Join(acceptanceDir(), "01-worked-example")
	work := t.TempDir()
	cfg := filepath.Join(work, "creditmeter.yaml")
	copyFile(t, filepath.Join(c, "creditmeter.yaml"), cfg)
	b := bucket(t, "locked")
	srcLoc, outLoc := "s3://"+b+"/raw", "s3://"+b+"/out"
	src, out := s3store(t, srcLoc), s3store(t, outLoc)
	raw := filepath.Join(c, "raw")
	syncUp(t, src, raw, listKeys(t, raw))
	wh := filepath.Join(work, "wh.duckdb")
	now := strings.TrimSpace(string(mustRead(t, filepath.Join(c, "NOW"))))
	putLock := func(owner string, expires time.Time) {
		data, _ := json.Marshal(objstore.LockInfo{Owner: owner, Acquired: expires.Add(-time.Hour), Expires: expires})
		if _, err := out.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(b),
			Key: aws.String("out/" + objstore.LockKey), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	// held by a live run
	putLock("other-host pid 42", time.Now().Add(time.Hour))
	msg, err := runS3(t, bin, cfg, srcLoc, outLoc, wh, now)
	if err != nil {
		t.Fatalf("a run that finds the lock held must exit 0: %v\n%s", err, msg)
	}
	if !strings.Contains(msg, "another run holds the lock") || !strings.Contains(msg, "other-host pid 42") {
		t.Errorf("message %q", msg)
	}
	if list, _ := out.List(context.Background()); len(list) != 1 {
		t.Errorf("a locked-out run published %d objects", len(list)-1)
	}
	// held by a run that died: expired, taken over
	putLock("dead-host pid 7", time.Now().Add(-time.Minute))
	if msg, err := runS3(t, bin, cfg, srcLoc, outLoc, wh, now); err != nil {
		t.Fatalf("run over an expired lock: %v\n%s", err, msg)
	}
	checkPublished(t, out, now)

	// the local directory output behaves the same
	local := filepath.Join(work, "localout")
	lockFile := filepath.Join(local, filepath.FromSlash(objstore.LockKey))
	_ = os.MkdirAll(filepath.Dir(lockFile), 0o755)
	held, _ := json.Marshal(objstore.LockInfo{Owner: "other-host pid 43", Expires: time.Now().Add(time.Hour)})
	if err := os.WriteFile(lockFile, held, 0o644); err != nil {
		t.Fatal(err)
	}
	msg, err = runS3(t, bin, cfg, raw, local, filepath.Join(work, "wh2.duckdb"), now)
	if err != nil || !strings.Contains(msg, "another run holds the lock") {
		t.Fatalf("local output held: %v\n%s", err, msg)
	}
	if _, err := os.Stat(filepath.Join(local, "ledger")); err == nil {
		t.Error("a locked-out run published to the local output")
	}
}

// killingStore stops the server just before its n-th Get.
type killingStore struct {
	objstore.Store
	n, at int32
	kill  func()
	once  sync.Once
}

func (k *killingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if atomic.AddInt32(&k.n, 1) == k.at {
		k.once.Do(k.kill)
	}
	return k.Store.Get(ctx, key)
}

// TestS3ServerStopsMidPull: the server dies while objects are being pulled; the run fails
// naming the key, nothing is half-ingested, and after a restart the next run completes with
// exactly the ledger of a clean run.
func TestS3ServerStopsMidPull(t *testing.T) {
	bin := binary(t)
	work := t.TempDir()
	generate(t, bin, work, 2400, 8) // 300 objects
	raw := filepath.Join(work, "raw")
	cfgPath := filepath.Join(work, "creditmeter.yaml")
	// a server of its own, so that stopping it does not disturb the other tests
	srv, err := s3test.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	if err := srv.Bucket(ctx, "flaky"); err != nil {
		t.Fatal(err)
	}
	src, err := srv.Store(ctx, "s3://flaky/raw")
	if err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, raw)
	syncUp(t, src, raw, keys)
	cfg, err := schemas.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.PullConcurrency = 4
	wh := filepath.Join(work, "wh.duckdb")
	const now = "2026-03-05T00:00:00Z"
	killer := &killingStore{at: 150, kill: srv.Kill}
	open := func(first bool) objstore.Options {
		return objstore.Options{OpenS3: func(ctx context.Context, loc string) (objstore.Store, error) {
			st, err := objstore.NewS3(ctx, loc, srv.Config())
			if err != nil || !first || !strings.HasSuffix(loc, "/raw") {
				return st, err
			}
			killer.Store = st
			return killer, nil
		}}
	}
	r, err := jobs.New(jobs.Config{Config: cfg, Stores: open(true), BatchObjects: 40})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(ctx, jobs.Options{Source: "s3://flaky/raw", Output: filepath.Join(work, "out"), Warehouse: wh, Now: mustTime(now)})
	if err == nil {
		t.Fatal("the run succeeded with the server down")
	}
	if !strings.Contains(err.Error(), "read object 20") || !strings.Contains(err.Error(), "s3://flaky/raw/") {
		t.Errorf("error does not name the object: %v", err)
	}
	t.Logf("run failed as expected: %v", err)
	if _, serr := os.Stat(filepath.Join(work, "out", "ledger")); serr == nil {
		t.Error("a failed run published outputs")
	}
	// nothing half-ingested: every object in the manifest has all its lines, and no line
	// belongs to an object outside it
	db, err := warehouse.Open(ctx, wh)
	if err != nil {
		t.Fatal(err)
	}
	var objs, partial, orphans int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM objects").Scan(&objs); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM objects o
		WHERE o.lines <> (SELECT count(*) FROM lines l WHERE l.obj_no = o.obj_no)`).Scan(&partial); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(DISTINCT obj_no) FROM lines WHERE obj_no NOT IN (SELECT obj_no FROM objects)").Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, "SELECT key, sha256 FROM objects WHERE sha256 IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, sum string
		if err := rows.Scan(&k, &sum); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(mustRead(t, filepath.Join(raw, filepath.FromSlash(k))))
		if hex.EncodeToString(s[:]) != sum {
			t.Errorf("object %s committed with the wrong content", k)
		}
	}
	rows.Close()
	db.Close()
	if objs == 0 || objs >= len(keys) || partial != 0 || orphans != 0 {
		t.Errorf("after the failed run: %d of %d objects committed, %d partial, %d orphan keys", objs, len(keys), partial, orphans)
	}
	t.Logf("%d of %d objects committed before the failure", objs, len(keys))

	// restart; the next run completes with the right ledger
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	r2, _ := jobs.New(jobs.Config{Config: cfg, Stores: open(false)})
	if _, err := r2.Run(ctx, jobs.Options{Source: "s3://flaky/raw", Output: filepath.Join(work, "out"), Warehouse: wh, Now: mustTime(now)}); err != nil {
		t.Fatalf("run after restart: %v", err)
	}
	got := mustRead(t, filepath.Join(work, "out", "ledger", "period_usage.csv"))
	if want := localLedger(t, bin, cfgPath, raw, now); !bytes.Equal(got, want) {
		t.Errorf("ledger after the restart differs from a clean run:\n%s\nwant\n%s", got, want)
	}
}

// manifestKeyAt finds the manifest of the last run at the instant now (run ids start with
// the instant and end with the run's number).
func manifestKeyAt(t *testing.T, out *objstore.S3, now time.Time) string {
	t.Helper()
	objs, err := out.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prefix := "runs/" + now.UTC().Format("20060102T150405Z") + "-"
	key := ""
	for _, o := range objs {
		if strings.HasPrefix(o.Key, prefix) && strings.HasSuffix(o.Key, ".json") {
			key = o.Key
		}
	}
	if key == "" {
		t.Fatalf("no manifest of a run at %s", now.Format(time.RFC3339))
	}
	return key
}
