package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// parquet reads a staged Parquet object with DuckDB and parses its rows like CSV rows: each
// value as the text a CSV cell would hold (a timestamp in RFC 3339, a number in its exact
// decimal text, JSON for nested values). A file DuckDB cannot read, or one without an
// event_id column, is unreadable.
func (l *Loader) parquet(ctx context.Context, o *object) (parse.Stats, error) {
	var st parse.Stats
	rows, err := warehouse.Query(ctx, l.cfg.Conn, "load_parquet.sql", o.staged)
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("%w: Parquet object %s: %v", errUnreadable, o.Display, err)
	}
	cols, err := rows.Columns()
	if err != nil {
		_ = rows.Close()
		return st, fmt.Errorf("%w: Parquet object %s: %v", errUnreadable, o.Display, err)
	}
	hasID := false
	for _, c := range cols {
		hasID = hasID || c == "event_id"
	}
	if !hasID {
		_ = rows.Close()
		return st, fmt.Errorf("%w: Parquet object %s has no event_id column", errUnreadable, o.Display)
	}
	src := parse.Source{ObjNo: o.no, LineIDBase: int64(o.no) << 32}
	rb := parse.NewRecordBuilder(src, l.cfg.Limits, l.mem)
	defer rb.Release()
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			_ = rows.Close()
			return st, fmt.Errorf("%w: Parquet object %s: %v", errUnreadable, o.Display, err)
		}
		st.Lines++
		fields := make(map[string]*string, len(cols))
		for i, c := range cols {
			if s, ok := cellText(vals[i]); ok {
				fields[c] = &s
			}
		}
		raw, _ := json.Marshal(fields) // the row as a JSON object, for the quarantine
		rb.Append(st.Lines, string(raw), fields)
		if rb.Len() >= batchLines {
			recs = append(recs, rb.Flush())
		}
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return st, fmt.Errorf("%w: Parquet object %s: %v", errUnreadable, o.Display, err)
	}
	if rb.Len() > 0 {
		recs = append(recs, rb.Flush())
	}
	if len(recs) > 0 {
		if err := warehouse.ExecArrow(ctx, l.cfg.Conn, l.cfg.StageDir, "load_stage_insert.sql", "arrow_batch", parse.Schema, recs...); err != nil {
			return st, err
		}
	}
	return st, nil
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
