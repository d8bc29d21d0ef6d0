package documents_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
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
	runs, err := acceptancecase.Runs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	for _, run := range runs {
		if err := acceptancecase.Stage(filepath.Join(dir, "raw"), filepath.Join(work, "raw"), run.Globs); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background(), jobs.Options{Now: run.Now}); err != nil {
			t.Fatalf("run at %s: %v", run.NowText(), err)
		}
		now = run.Now
	}

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
