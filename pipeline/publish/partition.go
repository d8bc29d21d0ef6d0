package publish

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Partitioned describes CSV files written from one sorted query: the first Keys columns
// name the file a row goes to; each File takes some of the other columns.
type Partitioned struct {
	Query string // an embedded SQL file whose columns are all text, sorted by the keys
	Keys  int
	Files []PartFile
}

// PartFile is one family of files of a Partitioned query.
type PartFile struct {
	Key     func(keys []string) string // the output key of a partition's file
	Header  []string
	Columns []int // the query's columns written, in order
}

// WriteCSVs runs p.Query and writes its rows into dir, one file per partition and family,
// in the query's order (DuckDB's own partitioned COPY interleaves the rows of a partition).
func WriteCSVs(ctx context.Context, conn *sql.Conn, stageDir, dir string, p Partitioned) (err error) {
	type open struct {
		f *os.File
		b *bufio.Writer
		w *csv.Writer
	}
	files := make([]open, len(p.Files))
	var cur []string
	closeAll := func() error {
		var first error
		for i := range files {
			if files[i].f == nil {
				continue
			}
			files[i].w.Flush()
			if err := files[i].w.Error(); err != nil && first == nil {
				first = err
			}
			if err := files[i].b.Flush(); err != nil && first == nil {
				first = err
			}
			if err := files[i].f.Close(); err != nil && first == nil {
				first = err
			}
			files[i] = open{}
		}
		return first
	}
	defer func() {
		if cerr := closeAll(); cerr != nil && err == nil {
			err = fmt.Errorf("write %s outputs: %w", p.Query, cerr)
		}
	}()
	start := func(keys []string) error {
		if err := closeAll(); err != nil {
			return err
		}
		for i, pf := range p.Files {
			path := filepath.Join(dir, filepath.FromSlash(pf.Key(keys)))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			b := bufio.NewWriterSize(f, 64<<10)
			w := csv.NewWriter(b)
			files[i] = open{f, b, w}
			if err := w.Write(pf.Header); err != nil {
				return err
			}
		}
		return nil
	}
	var rec []string
	err = warehouse.QueryArrow(ctx, conn, stageDir, p.Query, func(batch arrow.RecordBatch) error {
		cols := make([]*array.String, batch.NumCols())
		for i := range cols {
			c, ok := batch.Column(i).(*array.String)
			if !ok {
				return fmt.Errorf("write %s outputs: column %d is %s, not text", p.Query, i+1, batch.Column(i).DataType())
			}
			cols[i] = c
		}
		for r := range int(batch.NumRows()) {
			keys := make([]string, p.Keys)
			changed := cur == nil
			for k := range keys {
				keys[k] = cols[k].Value(r)
				changed = changed || keys[k] != cur[k]
			}
			if changed {
				if err := start(keys); err != nil {
					return fmt.Errorf("write %s outputs: %w", p.Query, err)
				}
				cur = keys
			}
			for i, pf := range p.Files {
				rec = rec[:0]
				for _, c := range pf.Columns {
					v := ""
					if cols[c].IsValid(r) {
						v = cols[c].Value(r)
					}
					rec = append(rec, v)
				}
				if err := files[i].w.Write(rec); err != nil {
					return fmt.Errorf("write %s outputs: %w", p.Query, err)
				}
			}
		}
		return nil
	})
	return err
}
