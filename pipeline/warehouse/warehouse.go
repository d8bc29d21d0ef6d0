// Package warehouse opens the DuckDB warehouse and runs the embedded SQL against it. A run
// holds one connection for its whole life: the per-run temporary tables live on it.
package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	sqlfiles "github.com/creditmeter/creditmeter/sql"
)

// Open opens (creating when missing) the warehouse file at path and makes sure its
// persistent tables exist. Extensions are never fetched from the network.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	if path != "" && path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("create warehouse directory for %s: %w", path, err)
		}
	}
	db, err := sql.Open("duckdb", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; temp tables belong to a connection
	if err := checkVersion(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	if err := Exec(ctx, db, "schema.sql"); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	if path != "" && path != ":memory:" {
		// the warehouse holds personal data (FORMATS.md): its owner only
		for _, f := range []string{path, path + ".wal"} {
			if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
				_ = db.Close()
				return nil, fmt.Errorf("open warehouse %s: %w", path, err)
			}
		}
	}
	return db, nil
}

// SchemaVersion is the layout of the persistent tables (sql/schema.sql). Version 3 added
// what an invoice captures when issued (terms, customer, tax; issue 12): a version 2
// warehouse has issued invoices without them, which no later run can make up.
const SchemaVersion = "3"

// ErrOldSchema is returned for a warehouse written by the first version of creditmeter,
// whose state (every line re-rated each run, frozen events without closing balances)
// cannot be carried into this one without recomputing final periods.
var ErrOldSchema = errors.New("the warehouse was written by creditmeter 1 (schema version 1); start a new warehouse for this version, the old one stays readable with creditmeter query")

// checkVersion refuses a warehouse of another schema version before anything is written.
func checkVersion(ctx context.Context, db *sql.DB) error {
	var hasMeta, hasV1 int
	if err := queryRow(ctx, db, "schema_tables.sql", &hasMeta, &hasV1); err != nil {
		return err
	}
	if hasMeta == 0 {
		if hasV1 > 0 {
			return ErrOldSchema
		}
		return nil // a new warehouse
	}
	var v string
	err := queryRow(ctx, db, "schema_version.sql", &v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if v != SchemaVersion {
		return fmt.Errorf("warehouse schema version %s, this creditmeter reads version %s: start a new warehouse for this version, the old one stays readable with creditmeter query", v, SchemaVersion)
	}
	return nil
}

// RowQuerier is what a single-row query runs on: a *sql.DB or *sql.Conn.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// QueryRow runs an embedded single-row query without arguments and scans its columns;
// sql.ErrNoRows is returned as it is.
func QueryRow(ctx context.Context, db RowQuerier, name string, dest ...any) error {
	return queryRow(ctx, db, name, dest...)
}

// queryRow runs an embedded single-row query and scans its columns.
func queryRow(ctx context.Context, db RowQuerier, name string, dest ...any) error {
	text, err := sqlFile(name)
	if err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, text).Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return fmt.Errorf("run %s: %w", name, err)
	}
	return nil
}

// OpenReadOnly opens an existing warehouse file for reading only.
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	db, err := sql.Open("duckdb", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", path, err)
	}
	return db, nil
}

// DefaultMemoryLimit bounds DuckDB's buffer memory; past it, sorts, joins and temporary
// tables spill to disk beside the warehouse, so a run's peak stays under 2 GiB whatever the
// history. CREDITMETER_MEMORY_LIMIT (e.g. "4GB") overrides it. Without a bound DuckDB takes
// 80% of the machine, and a 10M-event run peaked at 21 GB of 24. 768MB lowered a 1M-event
// run's peak (2017 to 1673 MiB) but a 10M-event first run then failed in finalize.sql
// (out of memory: a statement that cannot spill): 1GB it stays.
const DefaultMemoryLimit = "1GB"

func dsn(path string, readOnly bool) string {
	limit := os.Getenv("CREDITMETER_MEMORY_LIMIT")
	if limit == "" {
		limit = DefaultMemoryLimit
	}
	q := "autoinstall_known_extensions=false&autoload_known_extensions=true&memory_limit=" + url.QueryEscape(limit)
	if readOnly {
		q += "&access_mode=read_only"
	}
	if path == ":memory:" {
		path = ""
	}
	return path + "?" + q
}

// profileSeq numbers profiles written under CREDITMETER_SQL_PROFILE (a debugging aid).
var profileSeq int

// Execer is what statements run on: a *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Exec runs every statement of an embedded SQL file in order. Arguments are passed to the
// statements that use parameters.
func Exec(ctx context.Context, db Execer, name string, args ...any) error {
	return ExecTemplate(ctx, db, name, nil, args...)
}

// ExecTemplate is Exec for files with {{name}} placeholders (file paths, which DuckDB's COPY
// cannot take as parameters); placeholders stand inside quoted string literals and each
// value is substituted with its quotes escaped.
func ExecTemplate(ctx context.Context, db Execer, name string, vars map[string]string, args ...any) error {
	text, err := sqlFile(name)
	if err != nil {
		return err
	}
	for k, v := range vars {
		text = strings.ReplaceAll(text, "{{"+k+"}}", strings.ReplaceAll(v, "'", "''"))
	}
	for i, stmt := range Statements(text) {
		var a []any
		if strings.Contains(stmt, "?") || strings.Contains(stmt, "$") {
			a = args
		}
		start := time.Now()
		if dir := os.Getenv("CREDITMETER_SQL_PROFILE"); dir != "" {
			profileSeq++
			out := filepath.Join(dir, fmt.Sprintf("%03d.%s.%d.json", profileSeq, name, i+1))
			if _, err := db.ExecContext(ctx, "PRAGMA enable_profiling='json'; PRAGMA profiling_output="+Literal(out)); err != nil {
				return fmt.Errorf("enable profiling: %w", err)
			}
		}
		if _, err := db.ExecContext(ctx, stmt, a...); err != nil {
			return fmt.Errorf("run %s statement %d: %w", name, i+1, err)
		}
		if os.Getenv("CREDITMETER_SQL_TRACE") != "" {
			fmt.Fprintf(os.Stderr, "sql %s #%d %v\n", name, i+1, time.Since(start))
		}
	}
	return nil
}

// Literal quotes s as a SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Statements splits SQL text at semicolons that end a line. Comment-only pieces are dropped.
func Statements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") && !strings.HasPrefix(strings.TrimSpace(line), "--") {
			if s := strings.TrimSpace(cur.String()); hasCode(s) {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); hasCode(s) {
		out = append(out, s)
	}
	return out
}

func hasCode(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			return true
		}
	}
	return false
}

// Query runs an embedded SQL file that is a single query.
func Query(ctx context.Context, conn *sql.Conn, name string, args ...any) (*sql.Rows, error) {
	text, err := sqlFile(name)
	if err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", name, err)
	}
	return rows, nil
}

// Append streams rows into a table through DuckDB's appender; fn calls add once per row.
// Temporary tables are found in the temp catalog.
func Append(ctx context.Context, conn *sql.Conn, table string, fn func(add func(vals ...driver.Value) error) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("append to %s: not a driver connection", table)
		}
		a, err := duckdb.NewAppender(c, "temp", "main", table)
		if err != nil {
			a, err = duckdb.NewAppender(c, "", "", table)
		}
		if err != nil {
			return fmt.Errorf("open appender on %s: %w", table, err)
		}
		ferr := fn(a.AppendRow)
		cerr := a.Close()
		if ferr != nil {
			return fmt.Errorf("append to %s: %w", table, ferr)
		}
		if cerr != nil {
			return fmt.Errorf("flush appender on %s: %w", table, cerr)
		}
		return nil
	})
}

// InTx runs fn inside one transaction on conn: committed when fn succeeds, rolled back when
// it fails. (database/sql's Tx cannot be used: the appender needs the raw connection.)
func InTx(ctx context.Context, conn *sql.Conn, fn func() error) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
		}
	}()
	if err := fn(); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sqlFile returns an embedded SQL file's text.
func sqlFile(name string) (string, error) { return sqlfiles.Get(name) }
