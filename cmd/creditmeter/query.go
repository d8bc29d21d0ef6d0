package main

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// cmdQuery runs one SQL statement on a warehouse (or the analysts' snapshot) opened
// read-only, and prints the result as an aligned table on a terminal, CSV otherwise. JSON
// values (and lists, structs, maps) print as JSON; on a snapshot the statement may read
// the snapshot's own Parquet files, and no other file.
func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wh := fs.String("warehouse", "", "DuckDB file: the warehouse, or the analysts' snapshot (analytics/warehouse.duckdb)")
	cfgPath := fs.String("config", "", "configuration file: its warehouse: when --warehouse is not given")
	format := fs.String("format", "", "table or csv (default: table on a terminal, csv otherwise)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		fmt.Fprintln(stderr, `creditmeter query: want one SQL statement: creditmeter query --warehouse W [--format table|csv] "SQL"`)
		return exitUsage
	}
	path := *wh
	if path == "" && *cfgPath != "" {
		cfg, err := schemas.LoadConfig(*cfgPath)
		if err != nil {
			return exitCode(stderr, err)
		}
		path = cfg.Resolve(cfg.Warehouse)
	}
	if path == "" {
		fmt.Fprintln(stderr, "creditmeter query: --warehouse (or --config) is required")
		return exitUsage
	}
	f := *format
	if f == "" {
		f = "csv"
		if isTerminal(stdout) {
			f = "table"
		}
	}
	if f != "table" && f != "csv" {
		return exitCode(stderr, usageError{fmt.Errorf("query: --format %q: want table or csv", f)})
	}
	return exitCode(stderr, query(ctx, path, fs.Arg(0), f, stdout))
}

func query(ctx context.Context, path, q, format string, w io.Writer) error {
	db, err := warehouse.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer conn.Close()
	parquet, err := allowSnapshotParquet(ctx, conn, path)
	if err != nil {
		return err
	}
	if err := warehouse.Exec(ctx, conn, "snapshot_query_guard.sql"); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	if parquet {
		// the Parquet directory is open to file access, writes too (COPY ... TO, EXPORT):
		// only a single SELECT may run
		if err := selectOnly(ctx, conn, q); err != nil {
			return err
		}
	}
	rows, err := conn.QueryContext(ctx, jsonAsText(ctx, conn, q))
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return fmt.Errorf("query: %w (a run holds the warehouse: query the analysts' snapshot, analytics/warehouse.duckdb or analytics.local_copy, instead)", err)
		}
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	var out rowWriter
	if format == "table" {
		out = newTableWriter(w)
	} else {
		out = &csvWriter{w: csv.NewWriter(w)}
	}
	if err := out.row(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rec := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		for i, v := range vals {
			rec[i] = formatValue(v, types[i].DatabaseTypeName(), format == "table")
		}
		if err := out.row(rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return out.flush()
}

// allowSnapshotParquet lets a query on an analysts' snapshot read the snapshot's Parquet
// files (the directory parquet/ beside it: analytics/parquet/ of the output), and nothing
// else: a warehouse, or a snapshot without that directory, reads no file at all.
// It reports whether the directory was opened.
func allowSnapshotParquet(ctx context.Context, conn *sql.Conn, path string) (bool, error) {
	var isSnapshot bool
	if err := warehouse.QueryRow(ctx, conn, "snapshot_query_kind.sql", &isSnapshot); err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	if !isSnapshot {
		return false, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(filepath.Dir(abs), "parquet"))
	if err != nil {
		return false, nil // no Parquet files beside this copy of the snapshot
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false, nil
	}
	err = warehouse.ExecTemplate(ctx, conn, "snapshot_query_parquet.sql",
		map[string]string{"dir": dir + string(filepath.Separator)})
	if err != nil {
		return false, fmt.Errorf("query: %w", err)
	}
	return true, nil
}

// selectOnly refuses anything but one SELECT (SHOW, DESCRIBE and SUMMARIZE are SELECTs to
// DuckDB): DuckDB's allowed_directories lets COPY ... TO write where it lets a query read.
func selectOnly(ctx context.Context, conn *sql.Conn, q string) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("query: the driver cannot prepare statements")
		}
		st, err := c.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("query: %w (on the snapshot, one SELECT statement at a time)", err)
		}
		defer st.Close()
		ds, ok := st.(*duckdb.Stmt)
		if !ok {
			return errors.New("query: the driver cannot tell the statement's type")
		}
		typ, err := ds.StatementType()
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if typ != duckdb.STATEMENT_TYPE_SELECT {
			return errors.New("query: only a SELECT statement may run on the snapshot (it reads its Parquet files)")
		}
		return nil
	})
}

// jsonAsText rewrites a single query whose result has JSON columns so that they come back
// as their text: the driver decodes JSON into Go values, numbers into float64, which would
// print 12345678901234567890 as 1.2345678901234567e+19. Anything else (several statements,
// PRAGMA, SHOW, a result with two columns of one name) is run as it is, and JSON values
// are then encoded again from the decoded ones.
func jsonAsText(ctx context.Context, conn *sql.Conn, q string) string {
	body := strings.TrimRight(strings.TrimSpace(q), "; \t\r\n")
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+body)
	if err != nil {
		return q
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return q
	}
	var jsonCols []string
	seen := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil || len(vals) < 2 {
			return q
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		if seen[name] {
			return q
		}
		seen[name] = true
		if typ == "JSON" {
			jsonCols = append(jsonCols, name)
		}
	}
	if rows.Err() != nil || len(jsonCols) == 0 {
		return q
	}
	repl := make([]string, len(jsonCols))
	for i, c := range jsonCols {
		id := `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
		repl[i] = "CAST(" + id + " AS VARCHAR) AS " + id
	}
	// the newline ends a trailing -- comment of the query
	return "SELECT * REPLACE (" + strings.Join(repl, ", ") + ") FROM (" + body + "\n)"
}

// jsonValue makes a value the driver returned for a LIST, STRUCT, MAP or JSON column
// encodable as JSON with its exact text: decimals and huge integers as JSON numbers,
// instants in RFC 3339, blobs and UUIDs as strings.
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case duckdb.OrderedMap:
		ks, vs := x.Keys(), x.Values()
		obj := true
		for _, k := range ks {
			if _, ok := k.(string); !ok {
				obj = false
			}
		}
		if obj {
			out := make(map[string]any, len(ks))
			for i, k := range ks {
				out[k.(string)] = jsonValue(vs[i])
			}
			return out
		}
		pairs := make([]any, len(ks))
		for i := range ks {
			pairs[i] = map[string]any{"key": jsonValue(ks[i]), "value": jsonValue(vs[i])}
		}
		return pairs
	case duckdb.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return fmt.Sprintf("%d months %d days %d microseconds", x.Months, x.Days, x.Micros)
	}
	return v
}

// asJSON encodes a value as compact JSON text.
func asJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonValue(v)); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// formatValue writes a value as text: NULL is empty in CSV and NULL in a table; dates and
// timestamps in ISO form; JSON values, lists, structs and maps as JSON.
func formatValue(v any, dbType string, table bool) string {
	if v != nil && dbType == "JSON" {
		if s, ok := v.(string); ok {
			return s // read as text by jsonAsText
		}
		return asJSON(v)
	}
	switch x := v.(type) {
	case nil:
		if table {
			return "NULL"
		}
		return ""
	case map[string]any, []any, duckdb.OrderedMap:
		return asJSON(x)
	case []byte:
		return string(x)
	case string:
		return x
	case time.Time:
		switch {
		case dbType == "DATE":
			return x.Format(time.DateOnly)
		case dbType == "TIME":
			return x.Format("15:04:05.999999")
		case strings.Contains(dbType, "TZ") || strings.Contains(dbType, "TIME ZONE"):
			return x.UTC().Format(time.RFC3339Nano)
		default:
			return x.Format("2006-01-02 15:04:05.999999")
		}
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

type rowWriter interface {
	row([]string) error
	flush() error
}

type csvWriter struct{ w *csv.Writer }

func (c *csvWriter) row(r []string) error { return c.w.Write(r) }
func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// tableWriter aligns columns; a rule separates the header from the rows.
type tableWriter struct {
	tw     *tabwriter.Writer
	header bool
	n      int
}

func newTableWriter(w io.Writer) *tableWriter {
	return &tableWriter{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (t *tableWriter) row(r []string) error {
	clean := make([]string, len(r))
	for i, s := range r {
		clean[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
	}
	if _, err := fmt.Fprintln(t.tw, strings.Join(clean, "\t")); err != nil {
		return err
	}
	if !t.header {
		t.header = true
		rule := make([]string, len(r))
		for i, s := range clean {
			rule[i] = strings.Repeat("-", max(len([]rune(s)), 1))
		}
		if _, err := fmt.Fprintln(t.tw, strings.Join(rule, "\t")); err != nil {
			return err
		}
		return nil
	}
	t.n++
	return nil
}

func (t *tableWriter) flush() error {
	if err := t.tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(t.tw, "(%d rows)\n", t.n)
	if err != nil {
		return err
	}
	return t.tw.Flush()
}
