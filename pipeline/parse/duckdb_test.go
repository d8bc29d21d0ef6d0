package parse

import (
	"context"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// linesDDL is a table with the columns of Schema, in its order, as the loader's lines table.
const linesDDL = `CREATE TABLE lines (
    line_id BIGINT NOT NULL, obj_no INTEGER NOT NULL, line_no BIGINT NOT NULL, raw VARCHAR NOT NULL,
    parse_reason VARCHAR, parse_field VARCHAR, parse_detail VARCHAR,
    event_id VARCHAR, occurred_at TIMESTAMPTZ, tenant_id VARCHAR, domain_name VARCHAR, user_id VARCHAR,
    event_type VARCHAR, event_value DECIMAL(18,6), event_unit VARCHAR, preview BOOLEAN, attributes JSON,
    username VARCHAR, first_name VARCHAR, last_name VARCHAR, digest BLOB)`

// TestDuckDBInsert inserts record batches into a real in-memory DuckDB the way the loader does
// (pipeline/warehouse: Arrow batches staged as Parquet) and reads every column back.
func TestDuckDBInsert(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, linesDDL); err != nil {
		t.Fatal(err)
	}

	text := strings.Join([]string{
		event(),
		event("event_id", `"nul\u0000 \"q\" 😀 \\ é"`, "event_value", `999999999999.999999`, "preview", `true`,
			"occurred_at", `"0001-01-01T00:00:00.000001+23:59"`, "domain_name", `""`, "username", drop),
		event("occurred_at", `"9999-12-31T23:59:59.999999-23:59"`, "event_value", `0.000001`,
			"attributes", `{"big":1e400,"deep":{"x":[1.50,"\u2028"]},"input_tokens":"12"}`),
		"{\"event_id\":\"\xff\"}",
		event("event_value", `-5`),
		"",
		"not json",
	}, "\n")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var recs []arrow.RecordBatch
	var want []Row
	_, err = JSONLines(ctx, strings.NewReader(text), Source{ObjNo: 3, LineIDBase: 1 << 40}, Limits{}, mem, 2,
		func(rec arrow.RecordBatch) error {
			want = append(want, rowsOf(t, rec)...)
			recs = append(recs, rec)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	// the loader's hand-off: Arrow batches written as Parquet, read by DuckDB
	path := filepath.Join(t.TempDir(), "batch.parquet")
	if err := warehouse.WriteParquet(path, Schema, recs...); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO lines SELECT * FROM read_parquet(?)", path); err != nil {
		t.Fatalf("insert: %v", err)
	}

	rows, err := conn.QueryContext(ctx, `SELECT line_id, obj_no, line_no, raw, parse_reason, parse_field, parse_detail,
		event_id, epoch_us(occurred_at), tenant_id, domain_name, user_id, event_type, event_value::VARCHAR, event_unit,
		preview, attributes::VARCHAR, username, first_name, last_name, hex(digest),
		typeof(occurred_at), typeof(event_value), typeof(digest)
		FROM lines ORDER BY line_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var g Row
		var occ sql.NullInt64
		var val, dig sql.NullString
		var preview sql.NullBool
		var tOcc, tVal, tDig string
		if err := rows.Scan(&g.LineID, &g.ObjNo, &g.LineNo, &g.Raw, &g.Reason, &g.Field, &g.Detail, &g.EventID, &occ,
			&g.TenantID, &g.DomainName, &g.UserID, &g.EventType, &val, &g.EventUnit, &preview, &g.Attributes,
			&g.Username, &g.FirstName, &g.LastName, &dig, &tOcc, &tVal, &tDig); err != nil {
			t.Fatal(err)
		}
		if tOcc != "TIMESTAMP WITH TIME ZONE" || tVal != "DECIMAL(18,6)" || tDig != "BLOB" {
			t.Errorf("types %s, %s, %s", tOcc, tVal, tDig)
		}
		if occ.Valid {
			g.OccurredAt = &occ.Int64
		}
		if val.Valid {
			d, err := ParseDecimal(val.String)
			if err != nil {
				t.Fatal(err)
			}
			g.EventValue = &d
		}
		if preview.Valid {
			g.Preview = &preview.Bool
		}
		if dig.Valid {
			b, _ := hex.DecodeString(dig.String)
			d := [16]byte(b)
			g.Digest = &d
		}
		if i >= len(want) {
			t.Fatalf("more rows than inserted")
		}
		w := want[i]
		if g.String() != w.String() || g.LineID != w.LineID || g.ObjNo != w.ObjNo || g.Raw != w.Raw {
			t.Errorf("row %d from DuckDB\n %v\nwant\n %v", i, g, w)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) || i != 6 {
		t.Errorf("%d rows read back, %d inserted", i, len(want))
	}
	// the JSON column accepts every canonical text, numbers kept as written included
	var big, x string
	err = conn.QueryRowContext(ctx, `SELECT json_extract(attributes, '$.big')::VARCHAR, attributes->>'$.deep.x[0]'
		FROM lines WHERE line_no = 3`).Scan(&big, &x)
	if err != nil || x != "1.5" {
		t.Errorf("JSON functions on canonical attributes: %q, %q, %v", big, x, err)
	}
	t.Logf("DuckDB reads 1e400 in attributes as %s", big)
}
