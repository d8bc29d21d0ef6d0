package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sharded rounds themselves (partition, shards as processes, close, against the S3
// test server) are tested in internal/shardtest.

// copyDir copies a directory tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	for _, k := range listKeys(t, from) {
		copyFile(t, filepath.Join(from, filepath.FromSlash(k)), filepath.Join(to, filepath.FromSlash(k)))
	}
}

// TestShardCommandLine checks the sharded commands' arguments (exit 2) and that a shard or
// a close without a round fails (exit 1) without publishing anything.
func TestShardCommandLine(t *testing.T) {
	work := t.TempDir()
	cfg := filepath.Join(work, "creditmeter.yaml")
	copyFile(t, filepath.Join(acceptanceDir(), "01-worked-example", "creditmeter.yaml"), cfg)
	copyDir(t, filepath.Join(acceptanceDir(), "01-worked-example", "raw"), filepath.Join(work, "raw"))
	state, out := filepath.Join(work, "state"), filepath.Join(work, "out")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOB_COMPLETION_INDEX", "")
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"run", "--config", cfg, "--state", state}, exitUsage, "--shard"},
		{[]string{"run", "--config", cfg, "--state", state, "--shard", "4/4"}, exitUsage, "0 <= I < N"},
		{[]string{"run", "--config", cfg, "--state", state, "--shard", "4"}, exitUsage, "JOB_COMPLETION_INDEX"},
		{[]string{"run", "--config", cfg, "--shard", "0/2"}, exitUsage, "--state"},
		{[]string{"partition", "--config", cfg, "--state", state}, exitUsage, "--shards"},
		{[]string{"close", "--config", cfg}, exitUsage, "--state"},
		{[]string{"run", "--config", cfg, "--state", state, "--shard", "0/2", "--output", out}, exitFailed, "run creditmeter partition first"},
		{[]string{"close", "--config", cfg, "--state", state, "--output", out}, exitFailed, "run creditmeter partition first"},
	} {
		code, _, stderr := cli(c.args...)
		if code != c.code || !strings.Contains(stderr, c.says) {
			t.Errorf("creditmeter %s: exit %d, want %d saying %q\n%s", strings.Join(c.args, " "), code, c.code, c.says, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the output was created: %v", err)
	}
	// a round of 2 shards refuses a shard of 3
	if code, _, stderr := cli("partition", "--config", cfg, "--state", state, "--shards", "2", "--now", "2026-03-10T12:00:00Z"); code != exitOK {
		t.Fatalf("partition: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("run", "--config", cfg, "--state", state, "--shard", "0/3", "--output", out); code != exitUsage || !strings.Contains(stderr, "2 shards") {
		t.Errorf("shard 0/3 of a round of 2: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := cli("partition", "--config", cfg, "--state", state, "--shards", "3"); code != exitFailed || !strings.Contains(stderr, "another number of shards") {
		t.Errorf("partition as 3 shards after 2: exit %d\n%s", code, stderr)
	}
	// close names the shards that have not completed
	if code, _, stderr := cli("close", "--config", cfg, "--state", state, "--output", out); code != exitFailed || !strings.Contains(stderr, "shard(s) 0, 1 of 2") {
		t.Errorf("close with no shard done: exit %d\n%s", code, stderr)
	}
}
