package objstore_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keys(list []objstore.Object) string {
	var out []string
	for _, o := range list {
		out = append(out, o.Key)
	}
	return strings.Join(out, ",")
}

// TestLocalListMissing: a source directory that does not exist, or that is a file, is a
// mistake (ErrMissing), never an empty source; an existing empty directory is empty.
func TestLocalListMissing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file.jsonl"), "{}\n")
	for _, root := range []string{filepath.Join(dir, "does", "not", "exist"), filepath.Join(dir, "file.jsonl")} {
		st, err := objstore.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.List(ctx)
		if !errors.Is(err, objstore.ErrMissing) {
			t.Errorf("List(%s) = %v, %v; want ErrMissing", root, list, err)
		}
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	st, _ := objstore.NewLocal(empty)
	if list, err := st.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("empty directory: %v, %v", list, err)
	}
}

// TestLocalListSymlinkedRoot: a source given as a symbolic link to a directory is listed
// (it was read as an empty source); links inside the tree are not followed.
func TestLocalListSymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "2026", "a.jsonl"), "{}\n")
	writeFile(t, filepath.Join(dir, "secret.txt"), "not an event")
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(dir, "real", "escape.jsonl")); err != nil {
		t.Fatal(err)
	}
	st, _ := objstore.NewLocal(filepath.Join(dir, "link"))
	list, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(list); got != "2026/a.jsonl" {
		t.Errorf("keys %q, want 2026/a.jsonl", got)
	}
	rc, err := st.Get(context.Background(), "2026/a.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

// TestLocalKeysStayInside: a key that climbs out of the store (a tampered register names
// "../../x") is refused by Get and Put.
func TestLocalKeysStayInside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "outside.txt"), "private")
	st, _ := objstore.NewLocal(filepath.Join(dir, "store"))
	for _, key := range []string{"../outside.txt", "a/../../outside.txt", "/etc/passwd", "", "."} {
		if rc, err := st.Get(ctx, key); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Get(%q) read %q", key, b)
		}
		if err := st.Put(ctx, key, strings.NewReader("x"), 1, "text/plain"); err == nil {
			t.Errorf("Put(%q) accepted", key)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "outside.txt")); string(b) != "private" {
		t.Errorf("outside file now %q", b)
	}
}

// TestLocalPutModes: files under restricted/ (personal data) are readable by their owner
// only, and so are the directories created for them; everything else is 0644 (FORMATS.md,
// "Text cells and personal data").
func TestLocalPutModes(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "out")
	st, _ := objstore.NewLocal(root)
	for _, k := range []string{"restricted/usage/acme/2026-01-01_ai_credits_usage.csv", "restricted/quarantine/r1.jsonl",
		"usage/acme/2026-01-01_ai_credits_usage.csv", "runs/r1.json", "restrictedness.csv"} {
		if err := st.Put(ctx, k, strings.NewReader("x"), 1, "text/csv"); err != nil {
			t.Fatal(err)
		}
	}
	mode := func(rel string) fs.FileMode {
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	for rel, want := range map[string]fs.FileMode{
		"restricted/usage/acme/2026-01-01_ai_credits_usage.csv": 0o600,
		"restricted/quarantine/r1.jsonl":                        0o600,
		"restricted":                                            0o700,
		"restricted/usage":                                      0o700,
		"restricted/usage/acme":                                 0o700,
		"usage/acme/2026-01-01_ai_credits_usage.csv":            0o644,
		"runs/r1.json":                                          0o644,
		"restrictedness.csv":                                    0o644,
		".":                                                     0o755,
		"usage/acme":                                            0o755,
	} {
		if got := mode(rel); got != want {
			t.Errorf("%s: mode %v, want %v", rel, got, want)
		}
	}
	// Given a restricted/ directory left open by an earlier version, Then the next write
	// closes it (unchanged files under it are not rewritten, so their mode stays).
	if err := os.Chmod(filepath.Join(root, "restricted"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "restricted/usage/acme/2026-02-01_ai_credits_usage.csv", strings.NewReader("y"), 1, "text/csv"); err != nil {
		t.Fatal(err)
	}
	if got := mode("restricted"); got != 0o700 {
		t.Errorf("restricted: mode %v after a write, want 0700", got)
	}
}

// TestWithin: whether a location lies inside another (an output or warehouse inside the
// source would be read back as events).
func TestWithin(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"src/raw", "elsewhere/deep"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "src"), filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "src", "raw"), filepath.Join(dir, "elsewhere", "into-src")); err != nil {
		t.Fatal(err)
	}
	p := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	cwd, _ := os.Getwd()
	relDir, err := filepath.Rel(cwd, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		parent, child string
		want          bool
	}{
		{p("src"), p("src"), true},
		{p("src"), p("src") + "/", true},
		{p("src") + "/", p("src/raw/out"), true}, // does not exist yet
		{p("src"), p("src/raw/../out"), true},
		{p("src"), p("src/../out"), false},
		{p("src"), p("src2"), false},
		{p("src/raw"), p("src"), false},
		{p("src"), p("alias/out"), true},            // through a link to the source
		{p("alias"), p("src/raw/new/dir"), true},    // the source named through a link
		{p("src"), p("elsewhere/into-src/x"), true}, // a link inside another directory
		{p("src"), p("elsewhere/deep/x"), false},
		{p("src"), filepath.Join(relDir, "src", "raw"), true}, // relative to the working directory
		{"s3://bucket/raw", "s3://bucket/raw/out", true},
		{"s3://bucket/raw/", "s3://bucket/raw", true},
		{"s3://bucket/raw", "s3://bucket/raw2/", false},
		{"s3://bucket/raw", "s3://bucket/raw2/out", false},
		{"s3://bucket", "s3://bucket/anything", true},
		{"s3://bucket/", "s3://bucket", true},
		{"s3://bucket/raw", "s3://bucket", false},
		{"s3://bucket/raw", "s3://other/raw", false},
		{"s3://bucket/raw", p("src"), false},
		{p("src"), "s3://bucket/raw", false},
	} {
		got, err := objstore.Within(c.parent, c.child)
		if err != nil {
			t.Errorf("Within(%s, %s): %v", c.parent, c.child, err)
			continue
		}
		if got != c.want {
			t.Errorf("Within(%s, %s) = %v, want %v", c.parent, c.child, got, c.want)
		}
	}
	for _, c := range [][2]string{{"", p("src")}, {p("src"), ""}, {"s3://", "s3://b/x"}, {"ftp://h/x", p("src")}} {
		if _, err := objstore.Within(c[0], c[1]); err == nil {
			t.Errorf("Within(%q, %q): no error", c[0], c[1])
		}
	}
}

// TestS3ListMissingBucket: a bucket that does not exist is ErrMissing; an existing bucket
// with nothing under the prefix is an empty source.
func TestS3ListMissingBucket(t *testing.T) {
	ctx := context.Background()
	c := srv.Config()
	c.MaxAttempts = 1
	st, _ := objstore.NewS3(ctx, "s3://no-such-bucket-at-all/raw", c)
	if _, err := st.List(ctx); !errors.Is(err, objstore.ErrMissing) {
		t.Errorf("missing bucket: %v, want ErrMissing", err)
	}
	newBucket(t, ctx, "empty-source")
	st, _ = objstore.NewS3(ctx, "s3://empty-source/raw/", c)
	if list, err := st.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("empty prefix: %v, %v", list, err)
	}
}

// TestLocalDelete: Delete removes an object and the directories it leaves empty (never the
// root, never a directory that holds something else); a missing key is not an error, a key
// outside the store is refused.
func TestLocalDelete(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := objstore.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"invoices/drafts/a_2026-01-01.csv", "invoices/register.csv"} {
		if err := st.Put(ctx, k, strings.NewReader("x"), 1, "text/csv"); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "invoices/drafts/a_2026-01-01.csv"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "invoices", "drafts")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty drafts directory left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "invoices", "register.csv")); err != nil {
		t.Errorf("a sibling went: %v", err)
	}
	if err := st.Delete(ctx, "invoices/drafts/a_2026-01-01.csv"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if err := st.Delete(ctx, "../outside"); err == nil {
		t.Error("a key outside the store was accepted")
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}
