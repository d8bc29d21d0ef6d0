// Package snapshot writes the analysts' copy of a run's results: a DuckDB file of its own
// (analytics/warehouse.duckdb) with documented views events, rated_events, period_usage,
// invoices and quarantine, and the ledger tables as Parquet partitioned by tenant
// (analytics/parquet/). It holds no personal data: users appear by user_id only.
//
// The snapshot is a separate file, so analysts who open it (read-only) never block a run,
// and a run never blocks them: Install replaces a local copy by renaming a new file over it,
// which leaves readers of the old one undisturbed.
package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Paths of the snapshot under the output directory.
const (
	DBKey      = "analytics/warehouse.duckdb"
	ParquetKey = "analytics/parquet"
)

// Views are the documented views of the snapshot.
var Views = []string{"events", "rated_events", "period_usage", "invoices", "quarantine"}

// Write exports the run's results from conn (the run's connection, with its temp tables
// rated_events, period_calc and line_status) into dir/analytics/: warehouse.duckdb and
// parquet/. It may run inside the run's finalize transaction: it writes no table of the
// warehouse. It returns the files written, as slash-separated paths relative to dir, sorted.
func Write(ctx context.Context, conn *sql.Conn, dir string) ([]string, error) {
	root := filepath.Join(dir, "analytics")
	if err := os.RemoveAll(root); err != nil {
		return nil, fmt.Errorf("snapshot: clear %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "parquet"), 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	stage, err := os.MkdirTemp("", "creditmeter-snapshot-")
	if err != nil {
		return nil, fmt.Errorf("snapshot: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := warehouse.ExecTemplate(ctx, conn, "snapshot_export.sql", map[string]string{"stage": filepath.ToSlash(stage)}); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := build(ctx, filepath.Join(dir, filepath.FromSlash(DBKey)), stage, filepath.Join(dir, filepath.FromSlash(ParquetKey))); err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: list: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// build makes the snapshot database at path from the staged Parquet files, then exports
// its ledger views to parquetDir.
func build(ctx context.Context, path, stage, parquetDir string) (err error) {
	// One thread: the file comes out the same for the same data, and the build streams.
	// Its own memory bound, beside the run's warehouse in the same process.
	db, err := sql.Open("duckdb", path+"?autoinstall_known_extensions=false&autoload_known_extensions=true&threads=1&memory_limit=2GB")
	if err != nil {
		return fmt.Errorf("snapshot: create %s: %w", path, err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("snapshot: close %s: %w", path, cerr)
		}
	}()
	db.SetMaxOpenConns(1)
	if err := warehouse.ExecTemplate(ctx, db, "snapshot_build.sql", map[string]string{"stage": filepath.ToSlash(stage)}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := warehouse.ExecTemplate(ctx, db, "snapshot_parquet.sql", map[string]string{"out": filepath.ToSlash(parquetDir)}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := warehouse.Exec(ctx, db, "snapshot_checkpoint.sql"); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// Install copies the snapshot file src to dst (the configuration's analytics.local_copy)
// through a temporary file in dst's directory renamed into place, so that readers of the
// previous copy keep reading it undisturbed and new readers see the whole new one.
func Install(src, dst string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("install snapshot: copy to %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("install snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("install snapshot: %w", err)
	}
	// A stale write-ahead log beside the copy would be replayed against the new file.
	if err := os.Remove(dst + ".wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("install snapshot: %w", err)
	}
	return nil
}
