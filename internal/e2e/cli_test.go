package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cli runs the creditmeter binary as a child process. Children get a TMPDIR of their own
// under the test's temporary directory, so the staging directories a killed run leaves
// behind go with the test.
type cli struct {
	bin string
	tmp string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return &cli{bin: creditmeterBin(t), tmp: tmp}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+c.tmp)
	return cmd
}

// runSpec is one `creditmeter run`: every location is given on the command line.
type runSpec struct {
	Config, Source, Output, Warehouse string
	Now                               time.Time
}

func (s runSpec) args() []string {
	return []string{"run", "--config", s.Config, "--source", s.Source, "--output", s.Output,
		"--warehouse", s.Warehouse, "--now", s.Now.UTC().Format(time.RFC3339), "--log-json", "--log-level", "info"}
}

// String is the command line, for replaying by hand.
func (s runSpec) String() string { return "creditmeter " + strings.Join(s.args(), " ") }

// logLine is a line of a child's standard error and when it arrived after the start.
type logLine struct {
	At   time.Duration
	Text string
}

// lineRecorder keeps a child's standard error with the arrival time of every line. With a
// trigger, it closes fired (once) when a line satisfies it.
type lineRecorder struct {
	mu      sync.Mutex
	start   time.Time
	buf     bytes.Buffer
	part    []byte
	lines   []logLine
	trigger func(line string) bool
	fired   chan struct{}
	firedAt time.Duration
}

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Since(r.start)
	r.buf.Write(p)
	r.part = append(r.part, p...)
	for {
		i := bytes.IndexByte(r.part, '\n')
		if i < 0 {
			break
		}
		line := string(r.part[:i])
		r.lines = append(r.lines, logLine{At: at, Text: line})
		r.part = r.part[i+1:]
		if r.trigger != nil && r.trigger(line) {
			r.trigger, r.firedAt = nil, at
			close(r.fired)
		}
	}
	return len(p), nil
}

// runResult is how a child ended.
type runResult struct {
	Code     int // exit status; -1 when killed by a signal
	Killed   bool
	Stdout   string
	Stderr   string
	Lines    []logLine
	Duration time.Duration
}

// completed reports whether `creditmeter run` did a run: exit 0 with its summary line on
// standard output ("run ID: N lines read, ..."). A run that found the lock held exits 0
// without one.
func (r runResult) completed() bool {
	return r.Code == 0 && strings.HasPrefix(r.Stdout, "run ")
}

// lockRefused reports whether the run exited because it found the output's lock held.
func (r runResult) lockRefused() bool {
	return r.Code == 0 && !r.completed() && strings.Contains(strings.ToLower(r.Stderr), "lock")
}

// tail is the end of standard error, for failure messages.
func (r runResult) tail() string {
	s := strings.TrimSpace(r.Stderr)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// lastStage names the last stage the child logged as done ("" before the first), from its
// JSON log lines ({"msg":"stage done","stage":...}).
func (r runResult) lastStage() string {
	last := ""
	for _, l := range r.Lines {
		if st, ok := stageDone(l.Text); ok {
			last = st
		}
	}
	return last
}

// stageDone parses a "stage done" log line.
func stageDone(line string) (string, bool) {
	var v struct {
		Msg   string `json:"msg"`
		Stage string `json:"stage"`
	}
	if json.Unmarshal([]byte(line), &v) != nil || v.Stage == "" || !strings.Contains(v.Msg, "stage done") {
		return "", false
	}
	return v.Stage, true
}

// start starts a child with its output recorded.
func (c *cli) start(t *testing.T, args []string, trigger func(string) bool) (*exec.Cmd, *bytes.Buffer, *lineRecorder) {
	t.Helper()
	cmd := c.command(args...)
	var stdout bytes.Buffer
	rec := &lineRecorder{trigger: trigger, fired: make(chan struct{})}
	cmd.Stdout = &stdout
	cmd.Stderr = rec
	rec.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.bin, err)
	}
	return cmd, &stdout, rec
}

func finish(cmd *exec.Cmd, err error, stdout *bytes.Buffer, rec *lineRecorder) runResult {
	d := time.Since(rec.start)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	res := runResult{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: rec.buf.String(),
		Lines: slices.Clone(rec.lines), Duration: d}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		res.Killed = true
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		res.Code = -2
		res.Stderr += "\n(wait: " + err.Error() + ")"
	}
	return res
}

// exec runs a child to its end.
func (c *cli) exec(t *testing.T, args ...string) runResult {
	t.Helper()
	cmd, stdout, rec := c.start(t, args, nil)
	err := cmd.Wait()
	return finish(cmd, err, stdout, rec)
}

// killAfter runs a child and sends it SIGKILL delay after the point p: its start, or the
// line logging stage p.After as done. It returns once the child is gone, with its pid and
// when the point was reached (-1: never, the child ended before).
func (c *cli) killAfter(t *testing.T, p killPoint, delay time.Duration, args ...string) (runResult, int, time.Duration) {
	t.Helper()
	var trigger func(string) bool
	if p.After != "" {
		trigger = func(line string) bool {
			st, ok := stageDone(line)
			return ok && st == p.After
		}
	}
	cmd, stdout, rec := c.start(t, args, trigger)
	pid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	reached := time.Duration(0)
	if trigger != nil {
		select {
		case err := <-done:
			return finish(cmd, err, stdout, rec), pid, -1
		case <-rec.fired:
			rec.mu.Lock()
			reached = rec.firedAt
			rec.mu.Unlock()
		}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case err := <-done:
		return finish(cmd, err, stdout, rec), pid, reached
	case <-timer.C:
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	err := <-done
	return finish(cmd, err, stdout, rec), pid, reached
}

// mustRun runs `creditmeter run` and fails the test unless it completed.
func (c *cli) mustRun(t *testing.T, s runSpec) runResult {
	t.Helper()
	res := c.exec(t, s.args()...)
	if !res.completed() {
		t.Fatalf("%s: exit %d, not completed\nstdout: %s\nstderr: %s", s, res.Code, res.Stdout, res.tail())
	}
	return res
}

// dataset is what `creditmeter generate` wrote.
type dataset struct {
	Dir     string // holds creditmeter.yaml and raw/
	Config  string
	Raw     string
	Objects []string // event object keys under Raw, in key order
	Others  []string // every other file under Raw (users/, notes), in key order
	Start   time.Time
	Months  int
}

// generate runs `creditmeter generate` into dir.
func (c *cli) generate(t *testing.T, dir string, events, tenants int, seed uint64, months, perObject int) dataset {
	t.Helper()
	args := []string{"generate", "--events", fmt.Sprint(events), "--tenants", fmt.Sprint(tenants),
		"--seed", fmt.Sprint(seed), "--months", fmt.Sprint(months), "--out", dir}
	if perObject > 0 {
		args = append(args, "--events-per-object", fmt.Sprint(perObject))
	}
	res := c.exec(t, args...)
	if res.Code != 0 {
		t.Fatalf("creditmeter %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.tail())
	}
	ds := dataset{Dir: dir, Config: filepath.Join(dir, "creditmeter.yaml"), Raw: filepath.Join(dir, "raw"),
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Months: months}
	err := filepath.WalkDir(ds.Raw, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(ds.Raw, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if isEventObject(key) {
			ds.Objects = append(ds.Objects, key)
		} else {
			ds.Others = append(ds.Others, key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ds.Objects)
	slices.Sort(ds.Others)
	if len(ds.Objects) == 0 {
		t.Fatalf("generate wrote no event objects under %s", ds.Raw)
	}
	t.Logf("generated %s: %s", dir, strings.TrimSpace(res.Stdout))
	return ds
}

// isEventObject tells event objects from the users/ directory and other files.
func isEventObject(key string) bool {
	if strings.HasPrefix(key, "users/") {
		return false
	}
	for _, ext := range []string{".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet"} {
		if strings.HasSuffix(key, ext) {
			return true
		}
	}
	return false
}

// linkObjects makes keys of src appear under dst: hard links, else copies with the same
// modification time (a local object's ETag is its size and modification time).
func linkObjects(t *testing.T, src, dst string, keys []string) {
	t.Helper()
	for _, k := range keys {
		from := filepath.Join(src, filepath.FromSlash(k))
		to := filepath.Join(dst, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(from, to); err == nil {
			continue
		}
		if err := copyFile(from, to); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(to, info.ModTime(), info.ModTime())
}

// copyTree copies a directory (a warehouse, an output) as it stands between runs.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return copyFile(p, to)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}
