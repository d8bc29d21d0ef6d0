package warehouse

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesOtherSchemaVersion: a warehouse of another layout is refused before
// anything is written, with a message that says what to do.
func TestOpenRefusesOtherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.duckdb")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "UPDATE meta SET value = '2' WHERE name = 'schema_version'"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "schema version 2, this creditmeter reads version "+SchemaVersion) ||
		!strings.Contains(err.Error(), "start a new warehouse") {
		t.Fatalf("Open of a version 2 warehouse: %v", err)
	}

	// the current version opens again
	db, err = Open(ctx, filepath.Join(t.TempDir(), "fresh.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
