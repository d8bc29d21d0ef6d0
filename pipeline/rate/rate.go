// Package rate validates and rates the open working set for a run (BILLING.md sections 1, 2
// and 4): it puts the configuration into relational form, decides which tenants the run
// recomputes (compute_scope.sql, compute_dirty.sql) and rates their pending lines
// (rate.sql) into the temporary table checked, which pipeline/fund streams through.
package rate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/history"
	"github.com/creditmeter/creditmeter/pipeline/periods"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Calendar is every tenant's periods and their state at the start of a run.
type Calendar struct {
	Periods  [][]periods.Period // by tenant number (configuration order)
	WasFinal []map[int]bool     // period indexes final when the run began
}

// NewCalendar computes the periods of every tenant and marks the ones earlier runs
// finalized.
func NewCalendar(cfg *schemas.Config, st *history.State) (*Calendar, error) {
	c := &Calendar{}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		ps, err := periods.For(t)
		if err != nil {
			return nil, fmt.Errorf("periods of tenant %s: %w", t.ID, err)
		}
		wf := map[int]bool{}
		for _, p := range ps {
			if st.IsFinal(t.ID, p.StartDate.String()) {
				wf[p.Index] = true
			}
		}
		c.Periods = append(c.Periods, ps)
		c.WasFinal = append(c.WasFinal, wf)
	}
	return c, nil
}

// E4 converts a validated decimal (at most 4 places) to fixed point.
func E4(d decimal.Decimal) int64 { return d.Shift(4).Round(0).IntPart() }

// Prepare creates the per-run configuration tables and fills them.
func Prepare(ctx context.Context, conn *sql.Conn, cfg *schemas.Config, cal *Calendar, now time.Time) error {
	if err := warehouse.Exec(ctx, conn, "config_tables.sql"); err != nil {
		return err
	}
	grace := cfg.GracePeriod.Duration
	steps := []struct {
		table string
		fill  func(add func(...driver.Value) error) error
	}{
		{"cfg_tenants", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				t := &cfg.Tenants[i]
				next := time.Date(t.ServiceEnd.Year, t.ServiceEnd.Month, t.ServiceEnd.Day+1, 0, 0, 0, 0, time.UTC)
				until := schemas.Date{Year: next.Year(), Month: next.Month(), Day: next.Day()}.In(t.Location)
				inv := invoiceTerms(cfg, t)
				if err := add(append([]driver.Value{int32(i), t.ID, t.Name, t.RateCard, t.Timezone, t.Currency, t.Overage.Policy,
					dec(t.Overage.PricePerCredit, 6), dec(t.CreditsPlan, 4),
					t.ServiceStart.In(t.Location), until, history.Digest(cfg, t),
					int32(history.Horizon(cal.Periods[i], now))}, inv...)...); err != nil {
					return err
				}
			}
			return nil
		}},
		{"cfg_calendar", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				t := &cfg.Tenants[i]
				c := history.CalendarOf(t)
				if err := add(t.ID, c.Timezone, c.Period, int32(c.AnchorDay), t.ServiceStart.In(time.UTC), t.ServiceEnd.In(time.UTC)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"cfg_rate_versions", func(add func(...driver.Value) error) error {
			for _, rc := range cfg.RateCards {
				until := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
				for _, other := range cfg.RateCards {
					if other.ID == rc.ID && other.EffectiveFrom.After(rc.EffectiveFrom.Time) && other.EffectiveFrom.Before(until) {
						until = other.EffectiveFrom.Time
					}
				}
				if err := add(rc.ID, rc.EffectiveFrom.Time, until, Version(rc)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"cfg_rules", func(add func(...driver.Value) error) error {
			for _, rc := range cfg.RateCards {
				for _, r := range rc.Rules {
					rounding := r.Rounding
					if rounding == "" {
						rounding = "ceil"
					}
					if err := add(rc.ID, rc.EffectiveFrom.Time, r.EventType, r.Kind, dec(r.Credits, 4),
						str(r.RatioAttribute), dec(r.MinRatio, 6), dec(r.Per, 6), rounding,
						str(r.Allowance), dec(r.InputPer1k, 10), dec(r.OutputPer1k, 10)); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"cfg_periods", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				t := &cfg.Tenants[i]
				cur := history.Horizon(cal.Periods[i], now)
				for _, p := range cal.Periods[i] {
					was := cal.WasFinal[i][p.Index]
					if err := add(int32(i), t.ID, int32(p.Index), p.StartDate.In(time.UTC), p.EndDate.In(time.UTC), p.Start, p.End,
						was, !now.Before(p.End.Add(grace)), !p.Start.After(now), p.Index == cur); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"cfg_pools", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				for n, pool := range PoolNames(&cfg.Tenants[i]) {
					if err := add(cfg.Tenants[i].ID, pool, int32(n)); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"cfg_members", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				for n, m := range cfg.Tenants[i].Members {
					if err := add(cfg.Tenants[i].ID, m.UserID, int32(n)); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{"cfg_deposits", func(add func(...driver.Value) error) error {
			for i := range cfg.Tenants {
				t := &cfg.Tenants[i]
				for _, d := range t.Bank {
					if err := add(t.ID, d.ID, dec(d.Credits, 4), d.At.In(t.Location)); err != nil {
						return err
					}
				}
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := warehouse.Append(ctx, conn, s.table, s.fill); err != nil {
			return err
		}
	}
	return nil
}

// invoiceTerms are the last columns of a cfg_tenants row (config_tables.sql): what an
// invoice of the tenant captures when it is issued, and its member caps as JSON.
func invoiceTerms(cfg *schemas.Config, t *schemas.Tenant) []driver.Value {
	taxLabel, taxNote := driver.Value(nil), driver.Value(nil)
	taxRate := decimal.Zero
	if tx := t.Tax; tx != nil {
		if tx.ReverseCharge != "" {
			taxNote = tx.ReverseCharge
		} else {
			taxLabel, taxRate = tx.Label, tx.Rate
		}
	}
	type capRow struct {
		UserID string `json:"user_id"`
		Cap    string `json:"cap"`
	}
	caps := make([]capRow, 0, len(t.Members))
	for _, m := range t.Members {
		caps = append(caps, capRow{m.UserID, m.Cap.String()})
	}
	capsJSON, _ := json.Marshal(caps) // strings only: cannot fail
	return []driver.Value{int32(t.PaymentTerms.DaysOrDefault()), t.InvoiceName(), str(t.Customer.Address),
		str(t.Customer.TaxID), str(t.Customer.POReference), taxLabel, dec(taxRate, 6), taxNote,
		str(cfg.Issuer.Name), str(cfg.Issuer.Address), str(cfg.Issuer.TaxID),
		str(strings.Join(cfg.Issuer.Bank.Lines(), "\n")), string(capsJSON)}
}

// Run decides which tenants the run recomputes and rates their pending lines, with every
// quarantined or never-validated pending line (BILLING.md section 2: quarantined lines are
// reconsidered every run). It leaves the temporary tables c0, dirty and checked.
func Run(ctx context.Context, conn *sql.Conn) error {
	for _, f := range []string{"compute_scope.sql", "rate.sql", "compute_dirty.sql", "rate.sql"} {
		if err := warehouse.Exec(ctx, conn, f); err != nil {
			return err
		}
	}
	return nil
}

// Version names a rate-card version as reports show it.
func Version(rc schemas.RateCard) string {
	return rc.ID + "@" + rc.EffectiveFrom.UTC().Format(time.RFC3339)
}

// PoolNames lists a tenant's allowance pools in contract order, each once; the index is
// the pool number used by rate.sql and the waterfall.
func PoolNames(t *schemas.Tenant) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range t.Allowances {
		if !seen[a.Pool] {
			seen[a.Pool] = true
			out = append(out, a.Pool)
		}
	}
	return out
}

// dec renders a decimal for a DECIMAL column of the given scale; the appender takes the
// unscaled integer, so places must equal the column's scale.
func dec(d decimal.Decimal, places int32) driver.Value {
	return duckdb.Decimal{Width: 38, Scale: uint8(places), Value: d.Shift(places).Round(0).BigInt()}
}

func str(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}
