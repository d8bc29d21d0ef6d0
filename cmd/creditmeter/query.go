package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// cmdQuery runs one SQL statement on a warehouse (or the analysts' snapshot) opened
// read-only, and prints the result as an aligned table on a terminal, CSV otherwise.
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
	if err := warehouse.Exec(ctx, conn, "snapshot_query_guard.sql"); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	rows, err := conn.QueryContext(ctx, q)
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

// formatValue writes a value as text: NULL is empty in CSV and NULL in a table; dates and
// timestamps in ISO form.
func formatValue(v any, dbType string, table bool) string {
	switch x := v.(type) {
	case nil:
		if table {
			return "NULL"
		}
		return ""
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
