package fund

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	sqlfiles "github.com/creditmeter/creditmeter/sql"
)

// funded is one result row; id is the event's line id (lid).
type funded struct {
	id int64
	Split
}

// Stream reads the accepted events in funding order (fund_read.sql), funds every row and
// appends the splits of the events not frozen to funded. It returns the number of rows
// funded.
//
// The rows are read from the driver directly: database/sql's Scan costs about twice as much
// per value, and this is the one per-event loop of the pipeline. The results are held until
// the read is done because the appender and an open result cannot share the connection.
func Stream(ctx context.Context, conn *sql.Conn, w *Waterfall) (int64, error) {
	query, err := sqlfiles.Get("fund_read.sql")
	if err != nil {
		return 0, err
	}
	var out []funded
	var n int64
	err = conn.Raw(func(dc any) error {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("read funding rows: driver cannot query")
		}
		rows, err := q.QueryContext(ctx, query, nil)
		if err != nil {
			return fmt.Errorf("run fund_read.sql: %w", err)
		}
		defer rows.Close()
		dest := make([]driver.Value, 15)
		var v [15]int64
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("read funding rows: %w", err)
			}
			for i, d := range dest {
				x, ok := d.(int64)
				if !ok {
					return fmt.Errorf("read funding row %d: column %d is %T, not BIGINT", n, i+1, d)
				}
				v[i] = x
			}
			n++
			r := Row{Seq: v[0], Tenant: int(v[1]), Billed: int(v[2]), OccurredUS: v[3],
				Member: int(v[4]), Pool: int(v[5]), CreditsE4: v[6], BlocksE4: v[7], PerBlockE4: v[8],
				Frozen: v[9] != 0}
			if r.Frozen {
				r.Given = Split{RatedE4: v[6], AllowanceE4: v[10], PlanE4: v[11], BankE4: v[12],
					ExceedingE4: v[13], BlockedE4: v[14]}
			}
			s, err := w.Fund(r)
			if err != nil {
				return err
			}
			if !r.Frozen {
				out = append(out, funded{r.Seq, s})
			}
		}
	})
	if err != nil {
		return 0, err
	}
	err = warehouse.Append(ctx, conn, "funded", func(add func(...driver.Value) error) error {
		for _, f := range out {
			if err := add(f.id, f.RatedE4, f.AllowanceE4, f.PlanE4, f.BankE4, f.ExceedingE4, f.BlockedE4); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
