package forecast

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// CSVKey is the output key of a tenant's forecasts.
func CSVKey(tenantID string) string { return "usage/" + tenantID + "/forecast.csv" }

// CSVHeader is the header of usage/{tenant}/forecast.csv: one row per open period reported.
// Dates are tenant-local (period_end exclusive), as_of RFC 3339 UTC, decimals written plainly;
// a run-out day is empty when the credits do not run out within the period, and *_ran_out
// says whether it is the day they did (true) or a projection (false). method states how.
var CSVHeader = []string{"period_start", "period_end", "as_of", "days_in_period", "days_elapsed",
	"credits_plan", "credits_available", "credits_used", "daily_burn", "projected_credits",
	"plan_runs_out", "plan_ran_out", "credits_run_out", "credits_ran_out", "method"}

// input is one row of forecast_inputs.sql.
type input struct {
	tenant, event string
	p             Period
	bank, inside  decimal.Decimal // bank at the period's start, deposits dated inside it
}

// Run forecasts the open periods of the tenants this run recomputed into the temporary
// table forecasts (forecast_table.sql), from period_calc, rated_events and the cfg_* tables
// (forecast_inputs.sql); now tells which periods have ended. It runs inside the run's result
// transaction, after aggregate.sql and before the notifications are recorded.
func Run(ctx context.Context, conn *sql.Conn, cfg *schemas.Config, now time.Time) error {
	if err := warehouse.Exec(ctx, conn, "forecast_table.sql"); err != nil {
		return err
	}
	tenants := map[string]*schemas.Tenant{}
	for i := range cfg.Tenants {
		tenants[cfg.Tenants[i].ID] = &cfg.Tenants[i]
	}
	in, err := readInputs(ctx, conn, now)
	if err != nil {
		return err
	}
	return warehouse.Append(ctx, conn, "forecasts", func(add func(...driver.Value) error) error {
		for _, r := range in {
			t := tenants[r.tenant]
			if t != nil {
				r.p.Loc = t.Location
			}
			res := Project(r.p)
			alert := false
			if t != nil && !r.p.AsOf.IsZero() {
				alert = Within(res.Credits, r.p.AsOf, r.p.Loc, t.Notify.RunoutWithin.Duration)
			}
			var asOf, util, event driver.Value
			if !r.p.AsOf.IsZero() {
				asOf, event = r.p.AsOf, r.event
			}
			if r.p.Available.IsPositive() {
				util = dec4(r.p.Used.DivRound(r.p.Available, 4))
			}
			if err := add(r.tenant, r.p.Start, r.p.End, asOf, event, int32(res.Days), int32(res.Elapsed),
				dec4(r.p.Plan), dec4(r.bank), dec4(r.inside), dec4(r.p.Available), dec4(r.p.Used), util,
				dec4(res.Burn), dec4(res.Projected), runoutDay(res.Plan), res.Plan.Actual,
				runoutDay(res.Credits), res.Credits.Actual, alert); err != nil {
				return err
			}
		}
		return nil
	})
}

// readInputs reads forecast_inputs.sql.
func readInputs(ctx context.Context, conn *sql.Conn, now time.Time) ([]input, error) {
	rows, err := warehouse.Query(ctx, conn, "forecast_inputs.sql", now.UTC())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []input
	for rows.Next() {
		var r input
		var start, end string
		var plan, bank, inside, used, own string
		var asOf, event, planAt, availAt sql.NullString
		if err := rows.Scan(&r.tenant, &start, &end, &r.p.Ended, &plan, &bank, &inside, &used, &own,
			&asOf, &event, &planAt, &availAt); err != nil {
			return nil, fmt.Errorf("read forecast inputs: %w", err)
		}
		var err error
		fail := func(err error) error { return fmt.Errorf("read forecast inputs of %s %s: %w", r.tenant, start, err) }
		if r.p.Start, err = time.Parse(time.DateOnly, start); err != nil {
			return nil, fail(err)
		}
		if r.p.End, err = time.Parse(time.DateOnly, end); err != nil {
			return nil, fail(err)
		}
		for _, f := range []struct {
			s string
			d *decimal.Decimal
		}{{plan, &r.p.Plan}, {bank, &r.bank}, {inside, &r.inside}, {used, &r.p.Used}, {own, &r.p.OwnUsed}} {
			if *f.d, err = decimal.NewFromString(f.s); err != nil {
				return nil, fail(err)
			}
		}
		r.p.Available = r.p.Plan.Add(r.bank).Add(r.inside)
		for _, f := range []struct {
			s sql.NullString
			t *time.Time
		}{{asOf, &r.p.AsOf}, {planAt, &r.p.PlanReachedAt}, {availAt, &r.p.AvailableReachedAt}} {
			if !f.s.Valid {
				continue
			}
			if *f.t, err = time.Parse(time.RFC3339Nano, f.s.String); err != nil {
				return nil, fail(err)
			}
		}
		r.event = event.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read forecast inputs: %w", err)
	}
	return out, nil
}

// WriteCSVs writes usage/{tenant}/forecast.csv under dir for every tenant this run
// recomputed (forecast_rows.sql, from the table Run filled); a tenant without an open period
// gets the header alone.
func WriteCSVs(ctx context.Context, conn *sql.Conn, dir string) error {
	rows, err := warehouse.Query(ctx, conn, "forecast_rows.sql")
	if err != nil {
		return err
	}
	defer rows.Close()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cur := ""
	flush := func() error {
		if cur == "" {
			return nil
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("write %s: %w", CSVKey(cur), err)
		}
		p := filepath.Join(dir, filepath.FromSlash(CSVKey(cur)))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("write %s: %w", CSVKey(cur), err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", CSVKey(cur), err)
		}
		buf.Reset()
		return nil
	}
	for rows.Next() {
		var tenant string
		var cols [14]sql.NullString
		dest := []any{&tenant}
		for i := range cols {
			dest = append(dest, &cols[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read forecast rows: %w", err)
		}
		if tenant != cur {
			if err := flush(); err != nil {
				return err
			}
			cur = tenant
			_ = w.Write(CSVHeader)
		}
		if !cols[0].Valid {
			continue // no open period: the header alone
		}
		rec := make([]string, 0, len(CSVHeader))
		for _, c := range cols {
			rec = append(rec, c.String)
		}
		_ = w.Write(append(rec, Method))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read forecast rows: %w", err)
	}
	return flush()
}

// dec4 is a decimal for a DECIMAL(38,4) column (the appender takes the unscaled integer).
func dec4(d decimal.Decimal) driver.Value {
	return duckdb.Decimal{Width: 38, Scale: 4, Value: d.Shift(4).Round(0).BigInt()}
}

// runoutDay is a run-out day for a DATE column: NULL when there is none.
func runoutDay(r Runout) driver.Value {
	if r.Day.IsZero() {
		return nil
	}
	return r.Day
}
