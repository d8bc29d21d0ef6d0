package main

import (
	"bytes"
	"encoding/csv"
	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The acceptance cases of fixtures/acceptance run end to end through the built binary,
// including the runs.txt sequences with the warehouse kept between runs.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds creditmeter once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "creditmeter-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "creditmeter")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("build creditmeter: %v", buildErr)
	}
	return binPath
}

func acceptanceDir() string { return filepath.Join("..", "..", "fixtures", "acceptance") }

func TestAcceptance(t *testing.T) {
	bin := binary(t)
	cases, err := filepath.Glob(filepath.Join(acceptanceDir(), "[0-9]*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no acceptance cases: %v", err)
	}
	for _, c := range cases {
		t.Run(filepath.Base(c), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			copyFile(t, filepath.Join(c, "creditmeter.yaml"), filepath.Join(work, "creditmeter.yaml"))
			runs, err := acceptancecase.Runs(c)
			if err != nil {
				t.Fatal(err)
			}
			// Given the earlier runs of runs.txt, each seeing only the objects that existed then,
			// when the product runs at NOW with every object
			for _, r := range runs {
				if err := acceptancecase.Stage(filepath.Join(c, "raw"), filepath.Join(work, "raw"), r.Globs); err != nil {
					t.Fatal(err)
				}
				runOK(t, bin, work, r.NowText())
			}
			// Then the ledger and the invoice register are what the case expects
			for _, f := range []struct {
				rel   string
				key   []string
				order bool
			}{
				{"ledger/period_usage.csv", []string{"tenant_id", "period_start"}, true},
				{"invoices/register.csv", []string{"invoice_number"}, false},
			} {
				compareCSV(t, filepath.Join(c, "expected", f.rel), filepath.Join(work, "out", f.rel), f.key, f.order)
			}
		})
	}
}

// TestAcceptanceCopyMatchesShared checks that the project's copy of the acceptance cases is
// identical to ../shared where that exists.
func TestAcceptanceCopyMatchesShared(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "fixtures", "acceptance")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no shared fixtures beside the repository (%v); the copy stands alone", err)
	}
	ours := map[string][]byte{}
	theirs := map[string][]byte{}
	for dir, m := range map[string]map[string][]byte{acceptanceDir(): ours, shared: theirs} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			m[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range theirs {
		if !bytes.Equal(ours[k], v) {
			t.Errorf("fixtures/acceptance/%s differs from ../shared (copy it again)", k)
		}
	}
	for k := range ours {
		if _, ok := theirs[k]; !ok {
			t.Errorf("fixtures/acceptance/%s is not in ../shared", k)
		}
	}
}

func listKeys(t *testing.T, root string) []string {
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

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runOK(t *testing.T, bin, work, now string) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--config", filepath.Join(work, "creditmeter.yaml"), "--now", now, "--log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("creditmeter run --now %s: %v\n%s", now, err, stderr.String())
	}
}

func readCSV(t *testing.T, path string) ([]string, []map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			if i < len(r) {
				m[strings.TrimSpace(h)] = r[i]
			}
		}
		rows = append(rows, m)
	}
	return recs[0], rows
}

// sameValue compares numbers numerically (25 == 25.00) and everything else as text.
func sameValue(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	if okx && oky {
		return x.Cmp(y) == 0
	}
	return a == b
}

// compareCSV compares actual with expected by the expected file's column names; extra
// columns in actual are allowed.
func compareCSV(t *testing.T, expPath, actPath string, key []string, order bool) {
	t.Helper()
	head, exp := readCSV(t, expPath)
	_, act := readCSV(t, actPath)
	k := func(m map[string]string) string {
		var parts []string
		for _, c := range key {
			parts = append(parts, m[c])
		}
		return strings.Join(parts, "/")
	}
	byKey := map[string]map[string]string{}
	var actOrder []string
	for _, r := range act {
		if _, dup := byKey[k(r)]; dup {
			t.Errorf("%s: duplicate row %s", actPath, k(r))
		}
		byKey[k(r)] = r
		actOrder = append(actOrder, k(r))
	}
	var expOrder []string
	for _, e := range exp {
		expOrder = append(expOrder, k(e))
		a, ok := byKey[k(e)]
		if !ok {
			t.Errorf("%s: row %s missing", actPath, k(e))
			continue
		}
		for _, c := range head {
			if !sameValue(e[c], a[c]) {
				t.Errorf("%s: row %s: %s expected %q got %q", actPath, k(e), c, e[c], a[c])
			}
		}
	}
	if len(act) != len(exp) {
		t.Errorf("%s: %d rows, expected %d", actPath, len(act), len(exp))
	}
	if order && strings.Join(actOrder, ",") != strings.Join(expOrder, ",") {
		t.Errorf("%s: rows not in the expected order:\n got  %v\n want %v", actPath, actOrder, expOrder)
	}
}
