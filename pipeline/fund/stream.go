package fund

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// funded is one result row; id is the event's line id (lid).
type funded struct {
	id int64
	Split
}

// Stream reads the accepted events in funding order (fund_read.sql), funds every row and
// appends the splits of the events not frozen to funded. It returns the number of rows
// funded. The results are held until
// the read is done because the appender and an open result cannot share the connection.
func Stream(ctx context.Context, conn *sql.Conn, w *Waterfall) (int64, error) {
	rows, err := warehouse.Query(ctx, conn, "fund_read.sql")
	if err != nil {
		return 0, err
	}
	var out []funded
	var n int64
	for rows.Next() {
		n++
		var r Row
		var g Split
		if err := rows.Scan(&r.Seq, &r.Tenant, &r.Billed, &r.OccurredUS, &r.Member, &r.Pool,
			&r.CreditsE4, &r.BlocksE4, &r.PerBlockE4, &r.Frozen,
			&g.AllowanceE4, &g.PlanE4, &g.BankE4, &g.ExceedingE4, &g.BlockedE4); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("read funding row: %w", err)
		}
		if r.Frozen {
			g.RatedE4 = r.CreditsE4
			r.Given = g
		}
		s, err := w.Fund(r)
		if err != nil {
			_ = rows.Close()
			return 0, err
		}
		if !r.Frozen {
			out = append(out, funded{r.Seq, s})
		}
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return 0, fmt.Errorf("read funding rows: %w", err)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("close funding rows: %w", err)
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
