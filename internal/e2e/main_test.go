package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The binary is built once per test process, on first use, unless CREDITMETER_BIN names
// one: tests that do not run do not pay for the build.
var (
	binOnce  sync.Once
	binPath  string
	binErr   error
	binBuild string // temporary directory of the build, removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binBuild != "" {
		_ = os.RemoveAll(binBuild)
	}
	os.Exit(code)
}

// creditmeterBin returns the path of the binary under test: $CREDITMETER_BIN (relative to
// the module root), or `go build ./cmd/creditmeter` from the module root (found by walking
// up to go.mod).
func creditmeterBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			binErr = err
			return
		}
		if p := os.Getenv("CREDITMETER_BIN"); p != "" {
			// go test runs in the package directory: a relative path is the module root's
			if !filepath.IsAbs(p) {
				p = filepath.Join(root, p)
			}
			binPath = p
			if _, err := os.Stat(p); err != nil {
				binErr = fmt.Errorf("CREDITMETER_BIN: %w", err)
			}
			return
		}
		binBuild, err = os.MkdirTemp("", "creditmeter-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		out := filepath.Join(binBuild, "creditmeter")
		began := time.Now()
		cmd := exec.Command("go", "build", "-o", out, "./cmd/creditmeter")
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/creditmeter in %s: %w\n%s", root, err, msg)
			return
		}
		binPath = out
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", out, time.Since(began).Round(time.Millisecond))
	})
	if binErr != nil {
		t.Fatalf("creditmeter binary: %v", binErr)
	}
	return binPath
}

// moduleRoot walks up from the working directory (the package's, under go test) to the
// directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// envInt reads a positive integer knob, def when unset.
func envInt(t testing.TB, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// envSeed reads a seed knob; unset, it is def (a fixed seed) or, with def 0, the clock.
func envSeed(t testing.TB, name string, def uint64) (seed uint64, fromEnv bool) {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if def == 0 {
			return uint64(time.Now().UnixNano()) & (1<<53 - 1), false
		}
		return def, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer", name, v)
	}
	return n, true
}
