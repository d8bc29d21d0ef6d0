package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingSourceIsExit2: a mistyped or missing source is a mistake (exit 2), never an
// empty source: it was read as one, and the run finalized every due period at zero. Nothing
// is published, on a local output or on S3, and a missing bucket is the same mistake.
func TestMissingSourceIsExit2(t *testing.T) {
	bin := binary(t)
	good := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	dir := t.TempDir()

	// Given a local source directory that does not exist
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "run", "--config", good, "--source", "/does/not/exist", "--output", out,
		"--warehouse", filepath.Join(dir, "w.duckdb"), "--now", "2026-03-10T12:00:00Z", "--log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	// Then exit 2, the location named, and no output file
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("exit %v, want %d\n%s", err, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), "/does/not/exist") || !strings.Contains(stderr.String(), "does not exist") {
		t.Errorf("stderr does not say what is missing:\n%s", stderr.String())
	}
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("output file written: %s", p)
		}
		return nil
	})

	// Given an S3 source whose bucket does not exist
	outBucket := bucket(t, "missing-src-out")
	text, err := runS3(t, bin, good, "s3://no-such-source-bucket/raw/", "s3://"+outBucket+"/", filepath.Join(dir, "w2.duckdb"), "2026-03-10T12:00:00Z")
	if !errors.As(err, &ee) || ee.ExitCode() != exitUsage {
		t.Fatalf("missing bucket: exit %v, want %d\n%s", err, exitUsage, text)
	}
	list, err := s3store(t, "s3://"+outBucket+"/").List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("objects published: %v", list)
	}
}
