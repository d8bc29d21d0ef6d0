package documents_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/internal/acceptancecase"
	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// fixture is an acceptance case run to its end by jobs.Runner: its documents are the ones the
// runs published (a tenant's workbook as the last run rendered it, each invoice as it was
// issued, rendered once).
type fixture struct {
	cfg *schemas.Config
	now time.Time
	out string // the output directory of the case's runs
	run *jobs.Runner
}

// at runs the case once more at another instant (nothing new to read) and returns the
// documents then published, as render does: the tenants' current period moves with it.
func (fx *fixture) at(t *testing.T, now time.Time) map[string][]byte {
	t.Helper()
	if _, err := fx.run.Run(context.Background(), jobs.Options{Now: now}); err != nil {
		t.Fatalf("run at %s: %v", now.Format(time.RFC3339), err)
	}
	_, files := render(t, fx)
	return files
}

// prepare runs an acceptance case (runs.txt, then NOW) with jobs.Runner. mutate, when set,
// edits the configuration before anything runs.
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
	return &fixture{cfg: cfg, now: now, out: cfg.Resolve(cfg.Output), run: r}
}
