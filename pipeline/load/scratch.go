package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// scratch is an in-memory DuckDB of the loader's own, for reading Parquet and user-directory
// objects: a file DuckDB cannot read fails a statement there, not the transaction of the
// batch on the warehouse (which a failed statement would abort).
type scratch struct {
	once sync.Once
	db   *sql.DB
	err  error
}

func (s *scratch) open() (*sql.DB, error) {
	s.once.Do(func() {
		s.db, s.err = sql.Open("duckdb", "?autoinstall_known_extensions=false&autoload_known_extensions=true&memory_limit=512MB&threads=1")
	})
	return s.db, s.err
}

func (s *scratch) close() error {
	if s.db == nil {
		return nil
	}
	return s.db.Close()
}

// query runs an embedded query on a connection of its own.
func (s *scratch) query(ctx context.Context, name string, fn func(*sql.Rows) error, args ...any) error {
	db, err := s.open()
	if err != nil {
		return fmt.Errorf("open scratch database: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open scratch database: %w", err)
	}
	defer conn.Close()
	rows, err := warehouse.Query(ctx, conn, name, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		return err
	}
	return rows.Err()
}

// parquet reads a staged Parquet object and parses its rows like CSV rows: each value as the
// text a CSV cell would hold (a timestamp in RFC 3339, a number in its exact decimal text,
// JSON for nested values). A file DuckDB cannot read, or one without an event_id column, is
// unreadable.
func (s *scratch) parquet(ctx context.Context, path string, src parse.Source, lim parse.Limits, mem memory.Allocator, display string, flush func(arrow.RecordBatch) error) (parse.Stats, error) {
	var st parse.Stats
	rb := parse.NewRecordBuilder(src, lim, mem)
	defer rb.Release()
	err := s.query(ctx, "load_parquet.sql", func(rows *sql.Rows) error {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		hasID := false
		for _, c := range cols {
			hasID = hasID || c == "event_id"
		}
		if !hasID {
			return fmt.Errorf("%w: Parquet object %s has no event_id column", errUnreadable, display)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			st.Lines++
			fields := make(map[string]*string, len(cols))
			for i, c := range cols {
				if t, ok := cellText(vals[i]); ok {
					fields[c] = &t
				}
			}
			raw, _ := json.Marshal(fields) // the row as a JSON object, for the quarantine
			rb.Append(st.Lines, string(raw), fields)
			if rb.Len() >= batchLines {
				if err := flush(rb.Flush()); err != nil {
					return errFlush{err}
				}
			}
		}
		return nil
	}, path)
	if err == nil {
		if r := rb.Flush(); r != nil {
			if ferr := flush(r); ferr != nil {
				err = errFlush{ferr}
			}
		}
	}
	var fe errFlush
	switch {
	case err == nil:
		return st, nil
	case errors.As(err, &fe):
		return st, fe.err // staging failed: not the object's fault
	case ctx.Err() != nil:
		return st, ctx.Err()
	default:
		return st, fmt.Errorf("%w: Parquet object %s: %v", errUnreadable, display, err)
	}
}

// errFlush carries a failure to stage parsed rows through the scratch query.
type errFlush struct{ err error }

func (e errFlush) Error() string { return e.err.Error() }

// users reads a staged user directory (users/*.csv: user_id, username, first_name,
// last_name); rows without a user_id are left out.
func (s *scratch) users(ctx context.Context, path, display string) ([][4]string, error) {
	var out [][4]string
	err := s.query(ctx, "load_users_read.sql", func(rows *sql.Rows) error {
		for rows.Next() {
			var v [4]sql.NullString
			if err := rows.Scan(&v[0], &v[1], &v[2], &v[3]); err != nil {
				return err
			}
			out = append(out, [4]string{v[0].String, v[1].String, v[2].String, v[3].String})
		}
		return nil
	}, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: user directory %s: %v", errUnreadable, display, err)
	}
	return out, nil
}

// cellText writes a Parquet value as CSV text; false for NULL.
func cellText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case float64:
		// the shortest text that reads back as the same double: what the writer meant
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case *big.Int:
		return x.String(), true
	case duckdb.Decimal:
		return decimalText(x), true
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x), true
		}
		return string(b), true
	}
}

// decimalText writes a DuckDB decimal exactly.
func decimalText(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	s := new(big.Int).Abs(d.Value).String()
	neg := d.Value.Sign() < 0
	if sc := int(d.Scale); sc > 0 {
		for len(s) <= sc {
			s = "0" + s
		}
		s = s[:len(s)-sc] + "." + s[len(s)-sc:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
