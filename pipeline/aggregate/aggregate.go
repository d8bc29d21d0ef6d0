// Package aggregate sums the funded events per billing period, checks the reconciliation
// identities, and finalizes the periods whose grace period has passed (BILLING.md sections
// 2, 4 and 7).
package aggregate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Run builds rated_events and period_calc (aggregate.sql).
func Run(ctx context.Context, conn *sql.Conn) error {
	return warehouse.Exec(ctx, conn, "aggregate.sql")
}

// Reconciliation is the outcome of the identities of BILLING.md section 2.
type Reconciliation struct {
	LinesRead      int64 `json:"lines_read"`
	Accepted       int64 `json:"accepted"`
	Quarantined    int64 `json:"quarantined"`
	Duplicates     int64 `json:"duplicates"`
	Unbillable     int64 `json:"unbillable"`
	Billed         int64 `json:"billed"`
	BadPeriods     int64 `json:"periods_not_balanced"`
	NegativeSplits int64 `json:"negative_splits"`
	OK             bool  `json:"ok"`
	// Problems says in words which identity failed.
	Problems []string `json:"problems,omitempty"`
}

// Reconcile checks the run's numbers (reconcile.sql).
func Reconcile(ctx context.Context, conn *sql.Conn) (Reconciliation, error) {
	rows, err := warehouse.Query(ctx, conn, "reconcile.sql")
	if err != nil {
		return Reconciliation{}, err
	}
	defer rows.Close()
	var r Reconciliation
	var doubleStatus, fundedNew, acceptedFrozen int64
	if !rows.Next() {
		return r, fmt.Errorf("reconcile: no result")
	}
	if err := rows.Scan(&r.LinesRead, &doubleStatus, &r.Accepted, &r.Quarantined, &r.Duplicates,
		&r.Unbillable, &fundedNew, &acceptedFrozen, &r.Billed, &r.BadPeriods, &r.NegativeSplits); err != nil {
		return r, fmt.Errorf("reconcile: %w", err)
	}
	if r.LinesRead != r.Accepted+r.Quarantined+r.Duplicates {
		r.Problems = append(r.Problems, fmt.Sprintf("lines read %d != accepted %d + quarantined %d + duplicates %d",
			r.LinesRead, r.Accepted, r.Quarantined, r.Duplicates))
	}
	if doubleStatus != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d line(s) with more than one status", doubleStatus))
	}
	// every accepted event is funded in this run or was frozen in a final period
	if r.Accepted != fundedNew+acceptedFrozen {
		r.Problems = append(r.Problems, fmt.Sprintf("accepted %d != funded %d + frozen %d",
			r.Accepted, fundedNew, acceptedFrozen))
	}
	if r.BadPeriods > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d period(s) where rated != plan + bank + exceeding + blocked", r.BadPeriods))
	}
	if r.NegativeSplits > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d event(s) with a negative amount", r.NegativeSplits))
	}
	r.OK = len(r.Problems) == 0
	return r, rows.Err()
}

// Error describes a failed reconciliation.
func (r Reconciliation) Error() string {
	return "reconciliation failed: " + strings.Join(r.Problems, "; ")
}

// Finalize freezes the periods due and issues their invoices (finalize.sql); it must run
// inside the run's publishing transaction.
func Finalize(ctx context.Context, conn *sql.Conn, runSeq int, now time.Time) error {
	return warehouse.Exec(ctx, conn, "finalize.sql", runSeq, now.UTC().Format(time.DateOnly))
}
