// Package aggregate sums the funded events of the recomputed tenants per billing period,
// keeps the results, finalizes the periods whose grace period has passed with their closing
// balances and invoices (BILLING.md sections 4, 5 and 7), and checks the reconciliation
// identities of section 2.
package aggregate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Run builds rated_events, period_calc and usage_rows (aggregate.sql).
func Run(ctx context.Context, conn *sql.Conn) error {
	return warehouse.Exec(ctx, conn, "aggregate.sql")
}

// Finalize keeps the results of the recomputed tenants, freezes the periods due with their
// closing balances and issues their invoices (finalize.sql); it must run inside the run's
// result transaction.
func Finalize(ctx context.Context, conn *sql.Conn, runSeq int, now time.Time) error {
	return warehouse.Exec(ctx, conn, "finalize.sql", runSeq, now.UTC().Format(time.DateOnly))
}

// Tenant is one tenant's reconciliation: lines read = accepted + quarantined + duplicates.
type Tenant struct {
	TenantID    string `json:"tenant_id"`
	LinesRead   int64  `json:"lines_read"`
	Accepted    int64  `json:"accepted"`
	Quarantined int64  `json:"quarantined"`
	Duplicates  int64  `json:"duplicates"`
}

// Reconciliation is the outcome of the identities of BILLING.md section 2 over everything
// stored.
type Reconciliation struct {
	LinesRead   int64 `json:"lines_read"`
	Accepted    int64 `json:"accepted"`
	Quarantined int64 `json:"quarantined"`
	Duplicates  int64 `json:"duplicates"`
	OK          bool  `json:"ok"`
	// Problems says in words which identity failed, and for which tenant.
	Problems []string `json:"problems,omitempty"`
	Tenants  []Tenant `json:"-"`
}

// Reconcile checks the identities per tenant (reconcile.sql): lines read = accepted +
// quarantined + duplicates; every first line of an identity is in the open working set or
// final, exactly once; nothing is left unvalidated; and for every period, rated credits =
// plan + bank + exceeding + blocked, with no negative amount.
func Reconcile(ctx context.Context, conn *sql.Conn) (Reconciliation, error) {
	rows, err := warehouse.Query(ctx, conn, "reconcile.sql")
	if err != nil {
		return Reconciliation{}, err
	}
	defer rows.Close()
	var r Reconciliation
	for rows.Next() {
		var t Tenant
		var firsts, quarantinedLines, acceptedOpen, quarantinedOpen, unvalidated, acceptedFinal, badPeriods, badEvents int64
		if err := rows.Scan(&t.TenantID, &t.LinesRead, &firsts, &t.Duplicates, &quarantinedLines,
			&acceptedOpen, &quarantinedOpen, &unvalidated, &acceptedFinal, &badPeriods, &badEvents); err != nil {
			return r, fmt.Errorf("reconcile: %w", err)
		}
		t.Accepted = acceptedOpen + acceptedFinal
		t.Quarantined = quarantinedLines + quarantinedOpen
		name := t.TenantID
		if name == "" {
			name = "(no tenant)"
		}
		if firsts != acceptedOpen+quarantinedOpen+unvalidated+acceptedFinal {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d first lines, but %d open + %d final events",
				name, firsts, acceptedOpen+quarantinedOpen+unvalidated, acceptedFinal))
		}
		if unvalidated > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d event(s) never validated", name, unvalidated))
		}
		if t.LinesRead != t.Accepted+t.Quarantined+t.Duplicates {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: lines read %d != accepted %d + quarantined %d + duplicates %d",
				name, t.LinesRead, t.Accepted, t.Quarantined, t.Duplicates))
		}
		if badPeriods > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d period(s) where rated != plan + bank + exceeding + blocked", name, badPeriods))
		}
		if badEvents > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %d event(s) with a negative or unbalanced split", name, badEvents))
		}
		r.LinesRead += t.LinesRead
		r.Accepted += t.Accepted
		r.Quarantined += t.Quarantined
		r.Duplicates += t.Duplicates
		r.Tenants = append(r.Tenants, t)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}

// Error describes a failed reconciliation.
func (r Reconciliation) Error() string {
	return "reconciliation failed: " + strings.Join(r.Problems, "; ")
}
