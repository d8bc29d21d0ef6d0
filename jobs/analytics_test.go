package jobs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// TestAnalyticsSnapshotPublished: a run publishes analytics/warehouse.duckdb and the
// Parquet ledger, and replaces the configured local copy, which opens read-only.
func TestAnalyticsSnapshotPublished(t *testing.T) {
	w := newWorld(t, "analytics: {local_copy: snap/creditmeter.duckdb}\n"+config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("a1"), ev("a2", "username", "secret-name")))
	m := w.run("2026-03-10T12:00:00Z")
	for _, k := range []string{"analytics/warehouse.duckdb", "analytics/parquet/rated_events/tenant_id=acme/part0.parquet"} {
		if _, err := os.Stat(filepath.Join(w.out, filepath.FromSlash(k))); err != nil {
			t.Errorf("%s not published: %v", k, err)
		}
	}
	found := false
	for _, o := range m.Outputs {
		found = found || o.Key == "analytics/warehouse.duckdb"
	}
	if !found {
		t.Error("the snapshot is not in the manifest's outputs")
	}
	db, err := warehouse.OpenReadOnly(filepath.Join(w.root, "snap", "creditmeter.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM rated_events").Scan(&n); err != nil || n != 2 {
		t.Errorf("local copy rated_events: %d %v", n, err)
	}
}
