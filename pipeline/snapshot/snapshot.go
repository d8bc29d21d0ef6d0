// Package snapshot keeps the analysts' copy of the results: a DuckDB database of its own
// beside the warehouse, with documented views events, rated_events, period_usage, invoices,
// quarantine, tenants, deposits, member_caps and notifications, published as
// analytics/warehouse.duckdb, and the ledger tables as Parquet per tenant
// (analytics/parquet/). It holds no personal data: users appear by user_id only, and
// notifications without their recipients.
//
// The snapshot grows with each run instead of being rebuilt (BILLING.md section 5, "Cost"):
// after a run's results commit, Update compares the snapshot's rows in the run's scope (the
// lines it loaded, moved, removed, validated or froze; the tenants it recomputed; the
// invoices it issued) with the warehouse's, and applies the difference in one transaction
// of the snapshot database. A final period's rows are written once; an open period's are
// replaced only when they change; a run that changes nothing writes no file to publish.
//
// The warehouse and the snapshot are two DuckDB databases, and no transaction spans both:
// the snapshot records the run it is current with, and when that is not the run just
// before (the first run, a run that died between its commit and the snapshot's, a failed
// run), it is rebuilt from the warehouse in full. Rebuilding gives the same rows as applying
// deltas (the tests compare the two).
//
// The snapshot is a file of its own, so analysts who open a copy (read-only) never block a
// run, and a run never blocks them: Install replaces a local copy by renaming a new file
// over it, which leaves readers of the old one undisturbed.
//
// The configuration (tenants, deposits, member caps) is not in the warehouse's ledgers: each
// Update first keeps the run's configuration in warehouse tables of its own
// (snapshot_config.sql), the one thing it writes there, so that a rebuild from the warehouse
// alone gives the rows a delta gives. These small tables and the notifications are compared
// whole on every run.
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
	"regexp"
	"sort"
	"strings"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Paths of the snapshot under the output directory.
const (
	DBKey      = "analytics/warehouse.duckdb"
	ParquetKey = "analytics/parquet"
)

// Layout is the version of the snapshot database's tables. A snapshot of another layout is
// rebuilt by the next run.
const Layout = 2

// Views are the documented views of the snapshot.
var Views = []string{"events", "rated_events", "period_usage", "invoices", "quarantine",
	"tenants", "deposits", "member_caps", "notifications"}

// ParquetTables are the views exported as Parquet, one file per tenant.
var ParquetTables = []string{"rated_events", "period_usage", "invoices"}

// Options locate a run's snapshot update.
type Options struct {
	// Path is the snapshot database kept between runs (beside the warehouse).
	Path string
	// RunSeq and RunID name the run whose committed results the snapshot is brought up to.
	RunSeq int
	RunID  string
	// OutDir is the run's outbox: the files to publish are written under OutDir/analytics.
	OutDir string
	// StageDir holds the staged rows in between (a private directory).
	StageDir string
}

// Result is what Update did.
type Result struct {
	// Rebuilt says why the snapshot was built from scratch rather than updated ("" when it
	// was updated).
	Rebuilt string
	// Changed counts the snapshot rows that went or came (a rebuild counts every row).
	Changed int64
	// Files are the files written under OutDir, as slash-separated keys, sorted: none when
	// the snapshot did not change and its last change was published.
	Files []string
}

// state is the snapshot's bookkeeping row (meta.snapshot).
type state struct {
	layout, runSeq int
	runID          string
	dataRun        int
}

// Update brings the snapshot at o.Path up to run o.RunSeq, whose results must be committed
// on conn (the run's connection: the delta is read from its temp tables changed_lines,
// removed_lines, checked, dirty and the configuration's cfg_*), and writes into o.OutDir
// the files that changed: analytics/warehouse.duckdb and the Parquet files of the tenants
// whose rows changed. The only tables of the warehouse it writes are its copy of the run's
// configuration (snapshot_config.sql).
func Update(ctx context.Context, conn *sql.Conn, o Options) (res Result, err error) {
	published, err := readPublished(ctx, conn)
	if err != nil {
		return res, err
	}
	if err := warehouse.InTx(ctx, conn, func() error { return warehouse.Exec(ctx, conn, "snapshot_config.sql") }); err != nil {
		return res, fmt.Errorf("snapshot: %w", err)
	}
	stage, err := os.MkdirTemp(o.StageDir, "snapshot-")
	if err != nil {
		return res, fmt.Errorf("snapshot: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	defer func() {
		if uerr := warehouse.Exec(context.WithoutCancel(ctx), conn, "snapshot_unstage.sql"); uerr != nil && err == nil {
			err = fmt.Errorf("snapshot: %w", uerr)
		}
	}()
	var db *sql.DB
	var sc *sql.Conn
	defer func() { err = closeDB(db, sc, o.Path, err) }()

	db, sc, st, why := openCurrent(ctx, o.Path)
	if why == "" {
		why, err = previousRun(ctx, conn, st, o.RunSeq)
		if err != nil {
			return res, err
		}
	}
	vars := map[string]string{"stage": filepath.ToSlash(stage)}
	if why == "" {
		// The snapshot holds the results of the run just before: stage this run's delta.
		if err := warehouse.Exec(ctx, conn, "snapshot_scope_run.sql", o.RunSeq); err != nil {
			return res, fmt.Errorf("snapshot: %w", err)
		}
		if err := sources(ctx, conn); err != nil {
			return res, err
		}
		if err := warehouse.Exec(ctx, conn, "snapshot_rows.sql"); err != nil {
			return res, fmt.Errorf("snapshot: %w", err)
		}
		for _, f := range []string{"snapshot_stage.sql", "snapshot_stage_run.sql"} {
			if err := warehouse.ExecTemplate(ctx, conn, f, vars); err != nil {
				return res, fmt.Errorf("snapshot: %w", err)
			}
		}
		why, err = columnsDiffer(ctx, sc, vars)
		if err != nil {
			return res, err
		}
	}
	publishAll := true
	if why == "" {
		err = inTx(ctx, sc, func() error {
			if err := warehouse.ExecTemplate(ctx, sc, "snapshot_apply.sql", vars, o.RunSeq, o.RunID); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			return warehouse.QueryRow(ctx, sc, "snapshot_changed_count.sql", &res.Changed)
		})
		if err != nil {
			return res, err
		}
		// The files of the last change were published unless a run died before the
		// output index recorded them: then every file is written again (the outbox drops
		// those whose bytes the index has).
		publishAll = published[DBKey] < st.dataRun
	} else {
		res.Rebuilt = why
		err = closeDB(db, sc, o.Path, nil)
		db, sc = nil, nil
		if err != nil {
			return res, err
		}
		if err := Rebuild(ctx, conn, o.Path, o.RunSeq, o.RunID, stage); err != nil {
			return res, err
		}
		if db, sc, err = open(ctx, o.Path); err != nil {
			return res, err
		}
		if err := warehouse.QueryRow(ctx, sc, "snapshot_count.sql", &res.Changed); err != nil {
			return res, fmt.Errorf("snapshot: %w", err)
		}
	}
	if res.Changed == 0 && !publishAll {
		return res, nil // nothing new: nothing written, the published files stand
	}

	// The Parquet files of the tenants whose rows changed (every tenant's, after a rebuild).
	files, err := tenantFiles(ctx, sc, publishAll, published)
	if err != nil {
		return res, err
	}
	for _, f := range files {
		key := ParquetKey + "/" + f.table + "/tenant_id=" + f.tenant + "/part0.parquet"
		p := filepath.Join(o.OutDir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, fmt.Errorf("snapshot: %w", err)
		}
		fv := map[string]string{"tenant": f.tenant, "file": filepath.ToSlash(p)}
		if err := warehouse.ExecTemplate(ctx, sc, "snapshot_parquet_"+f.table+".sql", fv); err != nil {
			return res, fmt.Errorf("snapshot: %w", err)
		}
		res.Files = append(res.Files, key)
	}
	// The database itself, written out in full and copied as it stands.
	if err := warehouse.Exec(ctx, sc, "snapshot_checkpoint.sql"); err != nil {
		return res, fmt.Errorf("snapshot: %w", err)
	}
	err = closeDB(db, sc, o.Path, nil)
	db, sc = nil, nil
	if err != nil {
		return res, err
	}
	if err := copyFile(o.Path, filepath.Join(o.OutDir, filepath.FromSlash(DBKey))); err != nil {
		return res, fmt.Errorf("snapshot: %w", err)
	}
	res.Files = append(res.Files, DBKey)
	sort.Strings(res.Files)
	return res, nil
}

// openCurrent opens the snapshot at path for writing and reads its bookkeeping. why says
// why it cannot be updated ("" when it can): there is none yet, it cannot be read, or its
// layout is another.
func openCurrent(ctx context.Context, path string) (db *sql.DB, sc *sql.Conn, st state, why string) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, st, "there is none yet"
	}
	db, sc, err := open(ctx, path)
	if err != nil {
		return nil, nil, st, err.Error()
	}
	if err := warehouse.QueryRow(ctx, sc, "snapshot_state.sql", &st.layout, &st.runSeq, &st.runID, &st.dataRun); err != nil {
		return db, sc, st, "its state cannot be read: " + err.Error()
	}
	if st.layout != Layout {
		return db, sc, st, fmt.Sprintf("its layout is %d, this creditmeter writes %d", st.layout, Layout)
	}
	return db, sc, st, ""
}

// columnsDiffer says why the staged rows of a delta do not fit the snapshot's tables (""
// when they do): the warehouse's columns changed, or a table is missing.
func columnsDiffer(ctx context.Context, sc *sql.Conn, vars map[string]string) (string, error) {
	if err := warehouse.ExecTemplate(ctx, sc, "snapshot_columns.sql", vars); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("snapshot: %w", err)
		}
		return "its tables cannot be compared with the warehouse's rows: " + err.Error(), nil
	}
	var differ sql.NullString
	if err := warehouse.QueryRow(ctx, sc, "snapshot_columns_differ.sql", &differ); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if differ.Valid {
		return "the columns of " + differ.String + " changed", nil
	}
	return "", nil
}

// previousRun says why the snapshot in state st does not hold the results of the run just
// before run runSeq ("" when it does): a run it missed (one that failed, or died between
// its commit and the snapshot's), or another warehouse.
func previousRun(ctx context.Context, conn *sql.Conn, st state, runSeq int) (string, error) {
	if st.runSeq != runSeq-1 {
		return fmt.Sprintf("it holds run %d, not run %d", st.runSeq, runSeq-1), nil
	}
	rows, err := warehouse.Query(ctx, conn, "snapshot_run_id.sql", st.runSeq)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	defer rows.Close()
	var id string
	if rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("snapshot: read run %d: %w", st.runSeq, err)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("snapshot: read run %d: %w", st.runSeq, err)
	}
	if id != st.runID {
		return fmt.Sprintf("it holds run %s, the warehouse's run %d is %q", st.runID, st.runSeq, id), nil
	}
	return "", nil
}

// Rebuild builds the snapshot at path from scratch from the warehouse (conn: any connection
// to it; only persistent tables are read), current with run runSeq named runID. The new
// file replaces the old one by a rename. stageDir holds the staged rows in between.
func Rebuild(ctx context.Context, conn *sql.Conn, path string, runSeq int, runID, stageDir string) (err error) {
	stage, err := os.MkdirTemp(stageDir, "snapshot-full-")
	if err != nil {
		return fmt.Errorf("snapshot: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := warehouse.Exec(ctx, conn, "snapshot_scope_all.sql"); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := sources(ctx, conn); err != nil {
		return err
	}
	if err := warehouse.Exec(ctx, conn, "snapshot_rows.sql"); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	vars := map[string]string{"stage": filepath.ToSlash(stage)}
	if err := warehouse.ExecTemplate(ctx, conn, "snapshot_stage.sql", vars); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tmp := path + ".build"
	for _, f := range []string{tmp, tmp + ".wal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("snapshot: %w", err)
		}
	}
	db, sc, err := open(ctx, tmp)
	if err != nil {
		return err
	}
	if err := warehouse.ExecTemplate(ctx, sc, "snapshot_build.sql", vars, Layout, runSeq, runID); err != nil {
		return closeDB(db, sc, tmp, fmt.Errorf("snapshot: %w", err))
	}
	if err := warehouse.Exec(ctx, sc, "snapshot_checkpoint.sql"); err != nil {
		return closeDB(db, sc, tmp, fmt.Errorf("snapshot: %w", err))
	}
	if err := closeDB(db, sc, tmp, nil); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("snapshot: install %s: %w", path, err)
	}
	// A write-ahead log of the replaced file would be replayed against the new one.
	if err := os.Remove(path + ".wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// sources names the warehouse tables the snapshot reads besides the ledgers
// (snapshot_sources.sql): its configuration copy and the notifications, or stand-ins
// without rows for those a warehouse does not have (one no run of this version wrote).
func sources(ctx context.Context, conn *sql.Conn) error {
	rows, err := warehouse.Query(ctx, conn, "snapshot_sources_found.sql")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	found := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return fmt.Errorf("snapshot: read the catalog: %w", err)
		}
		found[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("snapshot: read the catalog: %w", err)
	}
	vars := map[string]string{}
	for v, table := range map[string]string{"tenants": "snapshot_tenants", "deposits": "snapshot_deposits",
		"member_caps": "snapshot_member_caps", "notifications": "notifications"} {
		vars[v] = "main." + table
		if !found[table] {
			vars[v] = "snap_none_" + v
		}
	}
	if err := warehouse.ExecTemplate(ctx, conn, "snapshot_sources.sql", vars); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// open opens a snapshot database for writing, with its own memory bound beside the run's
// warehouse in the same process, and one thread: the Parquet files come out the same for
// the same rows.
func open(ctx context.Context, path string) (*sql.DB, *sql.Conn, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("snapshot: %w", err)
	}
	db, err := sql.Open("duckdb", path+"?autoinstall_known_extensions=false&autoload_known_extensions=true&threads=1&memory_limit=2GB")
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	sc, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("snapshot: open %s: %w", path, err)
	}
	return db, sc, nil
}

// closeDB closes a snapshot database opened by open (nothing when db is nil) and returns
// err, or the first error closing it.
func closeDB(db *sql.DB, sc *sql.Conn, path string, err error) error {
	if db == nil {
		return err
	}
	if cerr := sc.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("snapshot: close %s: %w", path, cerr)
	}
	if cerr := db.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("snapshot: close %s: %w", path, cerr)
	}
	return err
}

// readPublished reads the run that rendered each analytics/ output of the output index.
func readPublished(ctx context.Context, conn *sql.Conn) (map[string]int, error) {
	rows, err := warehouse.Query(ctx, conn, "snapshot_published.sql")
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var seq int
		if err := rows.Scan(&k, &seq); err != nil {
			return nil, fmt.Errorf("snapshot: read output index: %w", err)
		}
		out[k] = seq
	}
	return out, rows.Err()
}

// tenantFile is one Parquet file of the snapshot: a table's rows of one tenant.
type tenantFile struct{ table, tenant string }

// tenantIDs are the tenant ids that may name a directory (the configuration's pattern).
var tenantIDs = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// tenantFiles lists the Parquet files to write: those of the tables and tenants whose rows
// changed (snap_changed), or with all set every tenant's, and the published files of
// tenants that have no rows any more (they get a file without rows).
func tenantFiles(ctx context.Context, sc *sql.Conn, all bool, published map[string]int) ([]tenantFile, error) {
	q := "snapshot_tenants_changed.sql"
	if all {
		q = "snapshot_tenants_all.sql"
	}
	rows, err := warehouse.Query(ctx, sc, q)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	set := map[tenantFile]bool{}
	for rows.Next() {
		var f tenantFile
		if err := rows.Scan(&f.table, &f.tenant); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("snapshot: %s: %w", q, err)
		}
		set[f] = true
	}
	err = errors.Join(rows.Err(), rows.Close())
	if err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", q, err)
	}
	if all {
		for k := range published {
			rest, ok := strings.CutPrefix(k, ParquetKey+"/")
			if !ok {
				continue
			}
			parts := strings.Split(rest, "/")
			if len(parts) != 3 || parts[2] != "part0.parquet" {
				continue
			}
			if id, ok := strings.CutPrefix(parts[1], "tenant_id="); ok {
				set[tenantFile{parts[0], id}] = true
			}
		}
	}
	out := make([]tenantFile, 0, len(set))
	for f := range set {
		if !tenantIDs.MatchString(f.tenant) {
			return nil, fmt.Errorf("snapshot: tenant id %q cannot name a Parquet partition", f.tenant)
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].table != out[j].table {
			return out[i].table < out[j].table
		}
		return out[i].tenant < out[j].tenant
	})
	return out, nil
}

// inTx runs fn in one transaction of the snapshot database.
func inTx(ctx context.Context, sc *sql.Conn, fn func() error) (err error) {
	if _, err := sc.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("snapshot: begin: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rerr := sc.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("snapshot: roll back: %w", rerr))
			}
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	if _, err := sc.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("snapshot: commit: %w", err)
	}
	return nil
}

// copyFile copies src to dst (created, or truncated).
func copyFile(src, dst string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
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
