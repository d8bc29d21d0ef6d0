// Package acceptancecase reads the acceptance cases of fixtures/acceptance for the tests that
// run them: the sequence of runs (runs.txt, then NOW) and which objects exist at each.
package acceptancecase

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Run is one run of a case: at Now, with the objects whose key matches Globs (nil: all).
type Run struct {
	Now   time.Time
	Globs []string
}

// NowText is the run's --now value.
func (r Run) NowText() string { return r.Now.UTC().Format(time.RFC3339) }

// Runs lists a case's runs: one per line of runs.txt (when present), then the run at NOW
// with every object.
func Runs(dir string) ([]Run, error) {
	var out []Run
	b, err := os.ReadFile(filepath.Join(dir, "runs.txt"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read runs.txt: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		now, err := time.Parse(time.RFC3339, f[0])
		if err != nil {
			return nil, fmt.Errorf("runs.txt: %w", err)
		}
		globs := f[1:]
		if globs == nil {
			globs = []string{} // a run with no object, not every object
		}
		out = append(out, Run{Now: now, Globs: globs})
	}
	nb, err := os.ReadFile(filepath.Join(dir, "NOW"))
	if err != nil {
		return nil, fmt.Errorf("read NOW: %w", err)
	}
	now, err := time.Parse(time.RFC3339, strings.TrimSpace(string(nb)))
	if err != nil {
		return nil, fmt.Errorf("NOW: %w", err)
	}
	return append(out, Run{Now: now}), nil
}

// Matches reports whether an object key existed at a run: a glob matches as a pattern or as
// a prefix ("2026/01/" is every key under it); nil globs match every key.
func Matches(key string, globs []string) bool {
	if globs == nil {
		return true
	}
	for _, g := range globs {
		if ok, _ := filepath.Match(g, key); ok || strings.HasPrefix(key, g) {
			return true
		}
	}
	return false
}

// Stage makes dst hold exactly the objects of src that match globs. Files keep their
// modification times, so an object present in two runs is not seen as changed.
func Stage(src, dst string, globs []string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if !Matches(filepath.ToSlash(rel), globs) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		return os.Chtimes(to, st.ModTime(), st.ModTime())
	})
}
