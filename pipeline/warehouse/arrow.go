package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Rows move between Go and DuckDB as Arrow columns, never value by value: Go builds Arrow
// record batches (arrow-go), writes them as an uncompressed Parquet file in a staging
// directory, and DuckDB reads that with its own parallel reader; the other way, DuckDB
// writes a query's result as Parquet and Go reads it back as record batches.
//
// The driver's own Arrow interface would skip the file, but it only exists behind the
// build tag duckdb_arrow, and a creditmeter that a plain `go build` cannot build (as the
// shared benchmark scripts do) is worse than a page-cache round trip.

// stageSeq names staged files uniquely within the process.
var stageSeq atomic.Int64

// stagePath is a new file name in the staging directory dir.
func stagePath(dir, what string) string {
	return filepath.Join(dir, what+"-"+strconv.FormatInt(stageSeq.Add(1), 10)+".parquet")
}

// ParquetWriter streams record batches (all of one schema) into a Parquet file,
// uncompressed and without dictionaries: the file is read once, right away, by DuckDB.
type ParquetWriter struct {
	path string
	w    *pqarrow.FileWriter
}

// NewParquetWriter creates the file at path.
func NewParquetWriter(path string, schema *arrow.Schema) (*ParquetWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", path, err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed),
		parquet.WithDictionaryDefault(false), parquet.WithStats(false),
		parquet.WithMaxRowGroupLength(1<<17))
	// the writer owns the file from here: its Close closes it
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stage %s: %w", path, err)
	}
	return &ParquetWriter{path: path, w: w}, nil
}

// Write appends a record batch.
func (p *ParquetWriter) Write(rec arrow.RecordBatch) error {
	if err := p.w.WriteBuffered(rec); err != nil {
		return fmt.Errorf("stage %s: %w", p.path, err)
	}
	return nil
}

// Close finishes the file.
func (p *ParquetWriter) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("stage %s: %w", p.path, err)
	}
	return nil
}

// WriteParquet writes record batches to a Parquet file (ParquetWriter).
func WriteParquet(path string, schema *arrow.Schema, records ...arrow.RecordBatch) error {
	w, err := NewParquetWriter(path, schema)
	if err != nil {
		return err
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			_ = w.Close()
			return err
		}
	}
	return w.Close()
}

// ExecArrow makes records the view named view for the statements of the embedded SQL file
// name (e.g. an INSERT ... SELECT FROM view), runs them, and drops the view. stageDir holds
// the file in between.
func ExecArrow(ctx context.Context, conn *sql.Conn, stageDir, name, view string, schema *arrow.Schema, records ...arrow.RecordBatch) error {
	path := stagePath(stageDir, view)
	defer os.Remove(path)
	if err := WriteParquet(path, schema, records...); err != nil {
		return err
	}
	return ExecParquetView(ctx, conn, name, view, path)
}

// ExecParquetView runs the statements of the embedded SQL file name with the Parquet files
// at paths as the temporary view named view (an identifier of ours, never data).
func ExecParquetView(ctx context.Context, conn *sql.Conn, name, view string, paths ...string) error {
	if err := ParquetView(ctx, conn, view, paths...); err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+view) }()
	return Exec(ctx, conn, name)
}

// ParquetView makes view (an identifier of ours, never data) a temporary view over the
// Parquet files at paths, read where they lie.
func ParquetView(ctx context.Context, conn *sql.Conn, view string, paths ...string) error {
	// The one piece of SQL written in Go: a view over staged files, whose names DuckDB
	// cannot take as parameters.
	create := "CREATE OR REPLACE TEMP VIEW " + view + " AS SELECT * FROM read_parquet(" + parquetList(paths) + ")"
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("stage %s: %w", view, err)
	}
	return nil
}

// parquetList is a DuckDB list literal of file names.
func parquetList(paths []string) string {
	s := ""
	for i, p := range paths {
		if i > 0 {
			s += ", "
		}
		s += Literal(filepath.ToSlash(p))
	}
	return "[" + s + "]"
}

// QueryArrow runs the embedded single-query SQL file name, has DuckDB write its result to a
// Parquet file in stageDir, and hands it to fn as Arrow record batches (valid only during
// the call), in the query's order.
func QueryArrow(ctx context.Context, conn *sql.Conn, stageDir, name string, fn func(arrow.RecordBatch) error) error {
	path := stagePath(stageDir, "result")
	defer os.Remove(path)
	text, err := sqlFile(name)
	if err != nil {
		return err
	}
	text = strings.TrimRight(strings.TrimSpace(text), ";")
	copyTo := "COPY (" + text + "\n) TO " + Literal(filepath.ToSlash(path)) + " (FORMAT parquet, COMPRESSION uncompressed)"
	if _, err := conn.ExecContext(ctx, copyTo); err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	defer f.Close()
	pr, err := file.NewParquetReader(f)
	if err != nil {
		return fmt.Errorf("run %s: read result: %w", name, err)
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("run %s: read result: %w", name, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("run %s: read result: %w", name, err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil {
		return fmt.Errorf("run %s: read result: %w", name, err)
	}
	return nil
}
