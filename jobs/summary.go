package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	sqlfiles "github.com/creditmeter/creditmeter/sql"
)

func sqlText(name string) string { return sqlfiles.MustGet(name) }

// finalPeriods reads which periods earlier runs finalized: tenant -> period_start -> true.
func finalPeriods(ctx context.Context, conn *sql.Conn) (map[string]map[string]bool, error) {
	rows, err := warehouse.Query(ctx, conn, "final_periods_read.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var t, p string
		if err := rows.Scan(&t, &p); err != nil {
			return nil, fmt.Errorf("read final periods: %w", err)
		}
		if out[t] == nil {
			out[t] = map[string]bool{}
		}
		out[t][p] = true
	}
	return out, rows.Err()
}

// summarize fills the manifest's per-reason and per-tenant figures.
func (r *Runner) summarize(ctx context.Context, conn *sql.Conn, m *Manifest) error {
	rows, err := warehouse.Query(ctx, conn, "quarantine_summary.sql")
	if err != nil {
		return err
	}
	m.QuarantineBy = map[string]int64{}
	for rows.Next() {
		var reason string
		var n int64
		if err := rows.Scan(&reason, &n); err != nil {
			rows.Close()
			return fmt.Errorf("read quarantine summary: %w", err)
		}
		m.QuarantineBy[reason] = n
	}
	rows.Close()
	rows, err = warehouse.Query(ctx, conn, "tenant_summary.sql")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t TenantSummary
		if err := rows.Scan(&t.TenantID, &t.LinesRead, &t.Accepted, &t.Quarantined, &t.Duplicates,
			&t.Rated, &t.Plan, &t.Bank, &t.Exceeding, &t.Blocked); err != nil {
			return fmt.Errorf("read tenant summary: %w", err)
		}
		m.Tenants = append(m.Tenants, t)
	}
	return rows.Err()
}

// finalizedNow lists what this run finalized and issued.
func finalizedNow(ctx context.Context, conn *sql.Conn, m *Manifest) error {
	rows, err := warehouse.Query(ctx, conn, "finalized_now.sql", m.RunSeq)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f Finalized
		if err := rows.Scan(&f.Kind, &f.TenantID, &f.PeriodStart, &f.Invoice); err != nil {
			return fmt.Errorf("read finalized: %w", err)
		}
		m.Finalized = append(m.Finalized, f)
	}
	return rows.Err()
}
