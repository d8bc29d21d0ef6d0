package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// MergeOptions locate the merge of a sharded round's snapshots.
type MergeOptions struct {
	// Shards are the shards' snapshot databases (each shard keeps its own, as a single
	// machine does, over its tenants).
	Shards []string
	// Invoices is a Parquet file of the fleet's invoices with the snapshot's columns (the
	// shards' hold no number: the close step gives them).
	Invoices string
	// Path is where the merged database is built (replaced).
	Path string
	// OutDir is the outbox: analytics/warehouse.duckdb and the invoices' Parquet files go
	// under it.
	OutDir string
	// StageDir holds the staged rows in between.
	StageDir     string
	RunSeq       int
	RunID        string
	InvoiceFiles bool // write analytics/parquet/invoices/tenant_id=*/part0.parquet
}

// mergedTables are the staged files of snapshot_build.sql, each with the snapshot table it
// comes from and the order snapshot_stage.sql gives it.
var mergedTables = []struct{ file, table, order string }{
	{"events_settled", "events", "line_id"},
	{"events_open", "events_open", "line_id"},
	{"rated_final", "rated_events", "tenant_id, billed_period_start, occurred_at, event_id"},
	{"rated_open", "rated_events_open", "line_id"},
	{"period_usage", "period_usage", "tenant_id, period_start"},
	{"quarantine", "quarantine", "object_key, line_no, line_id, obj_no"},
	{"tenants", "tenants", "tenant_id"},
	{"deposits", "deposits", "tenant_id, deposited_at, deposit_id"},
	{"member_caps", "member_caps", "tenant_id, user_id"},
	{"notifications", "notifications", "tenant_id, period_start, threshold"},
}

// Merge builds the analysts' snapshot of a sharded round from the shards' snapshots and
// the fleet's invoices, with the very definitions of a single machine's (snapshot_build.sql:
// the same tables, views and comments), and writes analytics/warehouse.duckdb and, with
// InvoiceFiles, the invoices' Parquet files into the outbox. Tenants are disjoint between
// shards; the only rows every shard holds are the unreadable objects, kept once. It returns
// the keys written.
func Merge(ctx context.Context, o MergeOptions) (keys []string, err error) {
	stage, err := os.MkdirTemp(o.StageDir, "snapshot-merge-")
	if err != nil {
		return nil, fmt.Errorf("snapshot: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	scratch, err := sql.Open("duckdb", "?autoinstall_known_extensions=false&autoload_known_extensions=true&threads=1&memory_limit=2GB")
	if err != nil {
		return nil, fmt.Errorf("snapshot: merge: %w", err)
	}
	defer scratch.Close()
	scratch.SetMaxOpenConns(1)
	conn, err := scratch.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: merge: %w", err)
	}
	defer conn.Close()
	var names []string
	for i, p := range o.Shards {
		name := "s" + strconv.Itoa(i)
		// a merge is one statement per table over every shard: the SQL is built here
		if _, err := conn.ExecContext(ctx, "ATTACH "+warehouse.Literal(filepath.ToSlash(p))+" AS "+name+" (READ_ONLY)"); err != nil {
			return nil, fmt.Errorf("snapshot: merge: attach %s: %w", p, err)
		}
		names = append(names, name)
	}
	for _, t := range mergedTables {
		var parts []string
		for _, n := range names {
			parts = append(parts, "SELECT * FROM "+n+".data."+t.table)
		}
		union := strings.Join(parts, " UNION ALL ")
		if t.table == "quarantine" {
			// an unreadable object (no line) is in every shard's objects: once
			union = "SELECT * FROM (" + union + ") WHERE line_id IS NOT NULL UNION ALL SELECT DISTINCT * FROM (" + union + ") WHERE line_id IS NULL"
		}
		q := "COPY (SELECT * FROM (" + union + ") ORDER BY " + t.order + ") TO " +
			warehouse.Literal(filepath.ToSlash(filepath.Join(stage, t.file+".parquet"))) + " (FORMAT parquet, COMPRESSION snappy)"
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("snapshot: merge %s: %w", t.table, err)
		}
	}
	if err := copyFile(o.Invoices, filepath.Join(stage, "invoices.parquet")); err != nil {
		return nil, fmt.Errorf("snapshot: merge: %w", err)
	}
	for _, f := range []string{o.Path, o.Path + ".wal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	}
	db, sc, err := open(ctx, o.Path)
	if err != nil {
		return nil, err
	}
	defer func() { err = closeDB(db, sc, o.Path, err) }()
	if err := warehouse.ExecTemplate(ctx, sc, "snapshot_build.sql", map[string]string{"stage": filepath.ToSlash(stage)}, Layout, o.RunSeq, o.RunID); err != nil {
		return nil, fmt.Errorf("snapshot: merge: %w", err)
	}
	if o.InvoiceFiles {
		rows, err := sc.QueryContext(ctx, "SELECT DISTINCT tenant_id FROM invoices ORDER BY 1")
		if err != nil {
			return nil, fmt.Errorf("snapshot: merge: %w", err)
		}
		var tenants []string
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("snapshot: merge: %w", err)
			}
			tenants = append(tenants, t)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("snapshot: merge: %w", err)
		}
		for _, t := range tenants {
			if !tenantIDs.MatchString(t) {
				return nil, fmt.Errorf("snapshot: tenant id %q cannot name a Parquet partition", t)
			}
			key := ParquetKey + "/invoices/tenant_id=" + t + "/part0.parquet"
			p := filepath.Join(o.OutDir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, fmt.Errorf("snapshot: %w", err)
			}
			if err := warehouse.ExecTemplate(ctx, sc, "snapshot_parquet_invoices.sql", map[string]string{"tenant": t, "file": filepath.ToSlash(p)}); err != nil {
				return nil, fmt.Errorf("snapshot: %w", err)
			}
			keys = append(keys, key)
		}
	}
	if err := warehouse.Exec(ctx, sc, "snapshot_checkpoint.sql"); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	err = closeDB(db, sc, o.Path, nil)
	db, sc = nil, nil
	if err != nil {
		return nil, err
	}
	if err := copyFile(o.Path, filepath.Join(o.OutDir, filepath.FromSlash(DBKey))); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return append(keys, DBKey), nil
}
