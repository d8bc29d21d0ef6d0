package shardtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"github.com/creditmeter/creditmeter/internal/s3test"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

var (
	s3srv    *s3test.Server
	binDir   string
	binOnce  sync.Once
	binPath  string
	binErr   error
	buckets  atomic.Int32
	repoRoot string
)

func TestMain(m *testing.M) {
	var err error
	if repoRoot, err = s3test.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s3srv, err = s3test.Start()
	if err != nil {
		// never a skip: a missing server is a failure, in CI and elsewhere
		fmt.Fprintln(os.Stderr, "start the S3 test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	s3srv.Stop()
	for _, d := range []string{binDir, shardRefDir} {
		if d != "" {
			_ = os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

// binary builds creditmeter once per test process ($CREDITMETER_BIN, relative to the module
// root, names a built one).
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("CREDITMETER_BIN"); p != "" {
			if !filepath.IsAbs(p) {
				p = filepath.Join(repoRoot, p)
			}
			binPath = p
			_, binErr = os.Stat(p)
			return
		}
		if binDir, binErr = os.MkdirTemp("", "creditmeter-shard-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "creditmeter")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/creditmeter")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/creditmeter: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("creditmeter binary: %v", binErr)
	}
	return binPath
}

func acceptanceDir() string { return filepath.Join(repoRoot, "fixtures", "acceptance") }

func s3store(t *testing.T, location string) *objstore.S3 {
	t.Helper()
	st, err := s3srv.Store(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// bucket creates a new bucket named after base and returns its name.
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
	for _, k := range keys {
		b := mustRead(t, filepath.Join(dir, filepath.FromSlash(k)))
		if err := st.Put(ctx, k, bytes.NewReader(b), int64(len(b)), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
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

// runS3 runs a single-machine run with the server in its environment.
func runS3(t *testing.T, bin, cfg, source, output, wh, now string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--config", cfg, "--now", now, "--log-level", "warn",
		"--source", source, "--output", output, "--warehouse", wh)
	cmd.Env = append(os.Environ(), s3srv.Env()...)
	out, err := cmd.CombinedOutput()
	return string(out), err
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

// manifestKeyAt finds the manifest of the last run at the instant now.
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

func mustTime(s string) time.Time {
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return ts
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listKeys(t *testing.T, root string) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		keys = append(keys, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// copyFile copies a file, keeping its modification time.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b := mustRead(t, from)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(to, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}
