package fund

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// ReadOpening fills each tenant's Opening from the closing balances of its final periods
// (fund_opening.sql), for the tenants the run recomputes; tenants are indexed by tenant number.
func ReadOpening(ctx context.Context, conn *sql.Conn, tenants []Tenant) error {
	rows, err := warehouse.Query(ctx, conn, "fund_opening.sql")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var tenant, no, e4 int64
		if err := rows.Scan(&kind, &tenant, &no, &e4); err != nil {
			return fmt.Errorf("read opening balances: %w", err)
		}
		if tenant < 0 || int(tenant) >= len(tenants) {
			return fmt.Errorf("read opening balances: tenant %d out of range", tenant)
		}
		t := &tenants[tenant]
		switch {
		case kind == "bank":
			t.Opening.BankUsedE4 = e4
		case kind == "pool" && no >= 0 && int(no) < len(t.PoolsE4):
			if t.Opening.PoolsUsedE4 == nil {
				t.Opening.PoolsUsedE4 = make([]int64, len(t.PoolsE4))
			}
			t.Opening.PoolsUsedE4[no] = e4
		case kind == "member" && no >= 0 && int(no) < len(t.CapsE4):
			if t.Opening.CapsUsedE4 == nil {
				t.Opening.CapsUsedE4 = make([]int64, len(t.CapsE4))
			}
			t.Opening.CapsUsedE4[no] = e4
		default:
			return fmt.Errorf("read opening balances: %s %d of tenant %d out of range", kind, no, tenant)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read opening balances: %w", err)
	}
	return nil
}

// fundedSchema is the Arrow form of the funded table (fund_sort.sql).
var fundedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "line_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "rated_e4", Type: arrow.PrimitiveTypes.Int64},
	{Name: "allowance_e4", Type: arrow.PrimitiveTypes.Int64},
	{Name: "plan_e4", Type: arrow.PrimitiveTypes.Int64},
	{Name: "bank_e4", Type: arrow.PrimitiveTypes.Int64},
	{Name: "exceeding_e4", Type: arrow.PrimitiveTypes.Int64},
	{Name: "blocked_e4", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// Stream reads the events to fund in funding order (fund_read.sql), funds every row and
// writes the splits to the table funded. It returns the number of rows funded. stageDir
// holds the Arrow hand-offs (pipeline/warehouse).
//
// Rows come from DuckDB and go back as Arrow columns: this is the one per-event loop of the
// pipeline. The results are held until the read is done because the next statement and an
// open result cannot share the connection.
func Stream(ctx context.Context, conn *sql.Conn, stageDir string, w *Waterfall) (int64, error) {
	b := array.NewRecordBuilder(memory.DefaultAllocator, fundedSchema)
	defer b.Release()
	cols := make([]*array.Int64Builder, 7)
	for i := range cols {
		cols[i] = b.Field(i).(*array.Int64Builder)
	}
	// the splits go to a staged file batch by batch: memory holds one batch, whatever the
	// number of events
	path := filepath.Join(stageDir, "funded.parquet")
	pw, err := warehouse.NewParquetWriter(path, fundedSchema)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	closed := false
	defer func() {
		if !closed {
			_ = pw.Close()
		}
	}()
	flush := func() error {
		rec := b.NewRecordBatch()
		defer rec.Release()
		return pw.Write(rec)
	}
	var n int64
	err = warehouse.QueryArrow(ctx, conn, stageDir, "fund_read.sql", func(rec arrow.RecordBatch) error {
		if rec.NumCols() != 10 {
			return fmt.Errorf("read funding rows: %d columns, want 10", rec.NumCols())
		}
		var v [10][]int64
		for i := range v {
			a, ok := rec.Column(i).(*array.Int64)
			if !ok {
				return fmt.Errorf("read funding rows: column %d is %s, not BIGINT", i+1, rec.Column(i).DataType())
			}
			if a.NullN() > 0 {
				return fmt.Errorf("read funding rows: column %d has NULLs", i+1)
			}
			v[i] = a.Int64Values()
		}
		for j := range int(rec.NumRows()) {
			// a late event is billed from its billing period's start: its bank instant differs
			r := Row{Seq: v[0][j], Tenant: int(v[1][j]), Billed: int(v[2][j]), OccurredUS: v[3][j],
				BankAtUS: v[4][j], Late: v[4][j] != v[3][j], Member: int(v[5][j]), Pool: int(v[6][j]),
				CreditsE4: v[7][j], BlocksE4: v[8][j], PerBlockE4: v[9][j]}
			s, err := w.Fund(r)
			if err != nil {
				return err
			}
			n++
			for i, x := range []int64{r.Seq, s.RatedE4, s.AllowanceE4, s.PlanE4, s.BankE4, s.ExceedingE4, s.BlockedE4} {
				cols[i].Append(x)
			}
			if cols[0].Len() >= 1<<16 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if cols[0].Len() > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	closed = true
	if err := pw.Close(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	if err := warehouse.ExecParquetView(ctx, conn, "fund_write.sql", "arrow_funded", path); err != nil {
		return 0, err
	}
	return n, nil
}
