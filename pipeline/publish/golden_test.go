package publish_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current outputs")

// TestGoldenReports runs acceptance cases in process and compares every published file
// (the run manifest aside; the Parquet ledger as CSV) with testdata/golden.
func TestGoldenReports(t *testing.T) {
	for _, c := range []string{"04-messy-input", "05-rate-card-versions-and-late-events"} {
		t.Run(c, func(t *testing.T) {
			out := runCase(t, filepath.Join("..", "..", "fixtures", "acceptance", c))
			golden := filepath.Join("testdata", "golden", c)
			got := snapshot(t, out)
			if *update {
				if err := os.RemoveAll(golden); err != nil {
					t.Fatal(err)
				}
				for k, v := range got {
					p := filepath.Join(golden, filepath.FromSlash(k))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, v, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			want := map[string][]byte{}
			err := filepath.WalkDir(golden, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(golden, p)
				b, err := os.ReadFile(p)
				want[filepath.ToSlash(rel)] = b
				return err
			})
			if err != nil {
				t.Fatalf("read golden files (run with -update to create them): %v", err)
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("%s: not produced", k)
					continue
				}
				if !bytes.Equal(g, w) {
					t.Errorf("%s differs from golden:\n--- got\n%s\n--- want\n%s", k, g, w)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: produced but not in golden files", k)
				}
			}
		})
	}
}

// runCase runs a case's runs.txt sequence and its final run, returning the output directory.
func runCase(t *testing.T, dir string) string {
	t.Helper()
	work := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "creditmeter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := schemas.ParseConfig(data, "creditmeter.yaml", work)
	if err != nil {
		t.Fatal(err)
	}
	r, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := acceptancecase.Runs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range runs {
		if err := acceptancecase.Stage(filepath.Join(dir, "raw"), filepath.Join(work, "raw"), run.Globs); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background(), jobs.Options{Now: run.Now}); err != nil {
			t.Fatalf("run at %s: %v", run.NowText(), err)
		}
	}
	return filepath.Join(work, "out")
}

// snapshot reads every output except run manifests and the warehouse; Parquet files are
// rendered as CSV so that the golden files can be read in a review.
func snapshot(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		key := filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(key, "runs/"), strings.HasSuffix(key, ".duckdb"), strings.HasSuffix(key, ".wal"):
			return nil
		case strings.HasSuffix(key, ".parquet"):
			files[key+".csv"] = parquetCSV(t, p)
			return nil
		}
		b, err := os.ReadFile(p)
		files[key] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func parquetCSV(t *testing.T, path string) []byte {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT * FROM read_parquet(?)", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(cols)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		rec := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
				rec[i] = ""
			case time.Time:
				rec[i] = x.UTC().Format(time.RFC3339Nano)
			default:
				rec[i] = fmt.Sprint(x)
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}
