package publish

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
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
// A partition's files are built in memory and written by a pool (Files) as it completes.
func WriteCSVs(ctx context.Context, conn *sql.Conn, stageDir, dir string, p Partitioned) (err error) {
	pool := NewFiles()
	defer func() {
		if werr := pool.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("write %s outputs: %w", p.Query, werr)
		}
	}()
	type open struct {
		key string
		b   *bytes.Buffer
		w   *csv.Writer
	}
	files := make([]open, len(p.Files))
	var cur []string
	flush := func() error {
		for i := range files {
			if files[i].w == nil {
				continue
			}
			files[i].w.Flush()
			if err := files[i].w.Error(); err != nil {
				return err
			}
			pool.Write(filepath.Join(dir, filepath.FromSlash(files[i].key)), files[i].b.Bytes())
			files[i] = open{}
		}
		return nil
	}
	start := func(keys []string) error {
		if err := flush(); err != nil {
			return err
		}
		for i, pf := range p.Files {
			b := &bytes.Buffer{}
			w := csv.NewWriter(b)
			files[i] = open{pf.Key(keys), b, w}
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
			changed := cur == nil
			for k := range p.Keys {
				changed = changed || cols[k].Value(r) != cur[k]
			}
			if changed {
				keys := make([]string, p.Keys)
				for k := range keys {
					keys[k] = cols[k].Value(r)
				}
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
	if err != nil {
		return err
	}
	return flush()
}
