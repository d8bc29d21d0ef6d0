package documents_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/fund"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// fixture is an acceptance case run to its end, with the run's temporary tables rebuilt on
// an open connection to its warehouse, as they stand when a run renders its outputs.
type fixture struct {
	cfg  *schemas.Config
	now  time.Time
	conn *sql.Conn
	out  string // the output directory of the case's runs
}

// prepare runs an acceptance case (runs.txt, then NOW) with jobs.Runner, then reopens the
// warehouse and runs the stages between ingestion and rendering (rate, fund, aggregate) at
// the case's NOW, with nothing new to ingest: period_calc, rated_events, cfg_* exist then.
// mutate, when set, edits the configuration before anything runs.
func prepare(t *testing.T, caseName string, mutate func(cfg *schemas.Config)) *fixture {
	t.Helper()
	dir := filepath.Join("..", "..", "fixtures", "acceptance", caseName)
	work := t.TempDir()
	data, err := os.ReadFile(filepath.Join(dir, "creditmeter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := schemas.ParseConfig(data, "creditmeter.yaml", work)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	r, err := jobs.New(jobs.Config{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "raw")
	run := func(now string, globs []string) time.Time {
		stage := filepath.Join(work, "raw")
		if err := os.RemoveAll(stage); err != nil {
			t.Fatal(err)
		}
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			keep := globs == nil
			for _, g := range globs {
				if strings.HasPrefix(filepath.ToSlash(rel), g) {
					keep = true
				}
			}
			if !keep {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			dst := filepath.Join(stage, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background(), jobs.Options{Now: ts}); err != nil {
			t.Fatalf("run at %s: %v", now, err)
		}
		return ts
	}
	if b, err := os.ReadFile(filepath.Join(dir, "runs.txt")); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			run(f[0], f[1:])
		}
	}
	nowText, err := os.ReadFile(filepath.Join(dir, "NOW"))
	if err != nil {
		t.Fatal(err)
	}
	now := run(strings.TrimSpace(string(nowText)), nil)

	ctx := context.Background()
	db, err := warehouse.Open(ctx, cfg.Resolve(cfg.Warehouse))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rows, err := warehouse.Query(ctx, conn, "final_periods_read.sql")
	if err != nil {
		t.Fatal(err)
	}
	final := map[string]map[string]bool{}
	for rows.Next() {
		var tn, p string
		if err := rows.Scan(&tn, &p); err != nil {
			t.Fatal(err)
		}
		if final[tn] == nil {
			final[tn] = map[string]bool{}
		}
		final[tn][p] = true
	}
	rows.Close()
	cal, err := rate.NewCalendar(cfg, final)
	if err != nil {
		t.Fatal(err)
	}
	if err := rate.Prepare(ctx, conn, cfg, cal, now); err != nil {
		t.Fatal(err)
	}
	if err := rate.Run(ctx, conn); err != nil {
		t.Fatal(err)
	}
	w, err := fund.New(rate.Tenants(cfg, cal))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fund.Stream(ctx, conn, w); err != nil {
		t.Fatal(err)
	}
	if err := aggregate.Run(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return &fixture{cfg: cfg, now: now, conn: conn, out: cfg.Resolve(cfg.Output)}
}
