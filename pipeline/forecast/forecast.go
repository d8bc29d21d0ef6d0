// Package forecast projects an open billing period to its end: the credits it will have
// used and the days its credits plan, and its credits altogether (plan and bank), run out
// (issue 11). Project is pure: a period's figures in, its forecast out, in exact decimals;
// stage.go feeds it from the run's temporary tables and writes its results back for the
// workbook, usage/{tenant}/forecast.csv and the run-out notifications.
//
// The method (Method says it in words, and every forecast shows it):
//
//   - A day is a calendar day in the tenant's zone: a period of March in Europe/Rome has 31
//     days although one of them lasts 23 hours.
//   - The forecast is as of the latest usage counted in the period (the latest occurred_at
//     of its own events, not the run's clock), as the workbook's "data as of" stamp is: a
//     forecast depends only on what was ingested and on which period --now is in, so that it
//     is rendered again only when the tenant's numbers change (BILLING.md section 5).
//   - Days elapsed: from the period's first day through the day of the latest usage
//     counted, that day counted whole; every day of a period that has ended.
//   - Daily burn: the credits used (plan + bank + exceeding) by the period's own events,
//     divided by the days elapsed. Late events billed in the period (BILLING.md section 4)
//     count in the credits used but not in the burn: they are usage of an earlier period.
//   - Projected credits at the period's end: the credits used so far plus the daily burn for
//     each day after the day of the latest usage, rounded half-up to 4 places.
//   - Run-out days: the day the running use of the period (in funding order) reached the
//     credits plan, or the credits available (BILLING.md section 6: plan, bank at the
//     period's start and deposits dated inside it, the denominator of utilization), when it
//     has; else the first day by whose end the used credits plus the daily burn for each day
//     after the day of the latest usage reach it (a whole number of days, rounded up), when
//     that day is inside the period; else none.
package forecast

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/schemas"
)

// Method is how every forecast is made, in words, as the workbook and forecast.csv state it.
const Method = "daily burn: credits used by the period's own events divided by the days elapsed " +
	"(tenant-local calendar days, from the period's first day through the day of the latest usage " +
	"counted, that day counted whole), projected over the days left; credits rounded half-up to 4 places; " +
	"a run-out day is when the use reached (or at that burn would reach) the credits plan, or the " +
	"plan, bank and deposits available in the period"

// Period is what a forecast reads of one open billing period.
type Period struct {
	// Start and End are the period's first day and its exclusive end, as dates (midnight UTC).
	Start, End time.Time
	// Loc is the tenant's zone: days are its calendar days.
	Loc *time.Location
	// Ended is true when the run's --now is at or past the period's end: no day is left.
	Ended bool
	// Plan is the credits plan; Available the credits available in the period (BILLING.md
	// section 6: plan + bank balance at the period's start + deposits dated inside it).
	Plan, Available decimal.Decimal
	// Used is plan + bank + exceeding credits used to date by every event billed in the
	// period; OwnUsed the part of it used by the period's own events (not late ones).
	Used, OwnUsed decimal.Decimal
	// AsOf is the latest occurred_at of the period's own events; zero when it has none.
	AsOf time.Time
	// PlanReachedAt and AvailableReachedAt are the occurred_at of the events whose running
	// use (in funding order) first reached Plan and Available; zero when it has not.
	PlanReachedAt, AvailableReachedAt time.Time
}

// Runout is the day some credits run out.
type Runout struct {
	// Day is the tenant-local day (midnight UTC); zero when they do not run out within the
	// period, or when there is nothing to run out of (None).
	Day time.Time
	// Actual is true when they have run out (Day is the day of the event that reached the
	// amount); false when Day is projected.
	Actual bool
	// None is true when the amount is 0: nothing to run out of.
	None bool
}

// Result is one period's forecast.
type Result struct {
	// Days is the number of days of the period; Elapsed those counted in the burn.
	Days, Elapsed int
	// Burn is the daily burn, rounded half-up to 4 places (0 without own usage).
	Burn decimal.Decimal
	// Projected is the credits used at the period's end, rounded half-up to 4 places.
	Projected decimal.Decimal
	// Plan is when the credits plan runs out; Credits when plan and bank together do (the
	// credits available).
	Plan, Credits Runout
}

const day = 24 * time.Hour

// Day is the calendar day of t in loc, as a date (midnight UTC).
func Day(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// days counts the days from a to b, both dates (midnight UTC).
func days(a, b time.Time) int { return int(b.Sub(a) / day) }

// Project forecasts one period (see the package comment for the method).
func Project(p Period) Result {
	r := Result{Days: max(days(p.Start, p.End), 1), Burn: decimal.Zero, Projected: p.Used}
	switch {
	case p.Ended:
		r.Elapsed = r.Days
	case !p.AsOf.IsZero():
		r.Elapsed = min(max(days(p.Start, Day(p.AsOf, p.Loc))+1, 1), r.Days)
	}
	left := r.Days - r.Elapsed
	burning := r.Elapsed > 0 && p.OwnUsed.IsPositive()
	if burning {
		n := decimal.NewFromInt(int64(r.Elapsed))
		r.Burn = p.OwnUsed.DivRound(n, 4)
		r.Projected = p.Used.Add(p.OwnUsed.Mul(decimal.NewFromInt(int64(left))).DivRound(n, 4))
	}
	runout := func(amount decimal.Decimal, reachedAt time.Time) Runout {
		switch {
		case !amount.IsPositive():
			return Runout{None: true}
		case !reachedAt.IsZero() || p.Used.GreaterThanOrEqual(amount):
			d := p.Start
			if !reachedAt.IsZero() {
				d = Day(reachedAt, p.Loc)
			} else if !p.AsOf.IsZero() {
				d = Day(p.AsOf, p.Loc)
			}
			if d.Before(p.Start) { // a late event, billed first in the period: its first day
				d = p.Start
			}
			return Runout{Day: d, Actual: true}
		case !burning || left == 0:
			return Runout{}
		}
		// the first k >= 1 with used + burn * k >= amount, burn = own / elapsed exactly:
		// k = ceil((amount - used) * elapsed / own), in integers of the decimals' quotient
		q, rem := amount.Sub(p.Used).Mul(decimal.NewFromInt(int64(r.Elapsed))).QuoRem(p.OwnUsed, 0)
		k := q.IntPart()
		if rem.IsPositive() {
			k++
		}
		if k > int64(left) {
			return Runout{}
		}
		return Runout{Day: p.Start.AddDate(0, 0, r.Elapsed-1+int(k))}
	}
	r.Plan = runout(p.Plan, p.PlanReachedAt)
	r.Credits = runout(p.Available, p.AvailableReachedAt)
	return r
}

// Within reports whether credits that run out as ro do so within window of the instant
// asOf: they have run out, or the run-out day starts (tenant-local midnight) before asOf +
// window. It is what notify.runout_within asks.
func Within(ro Runout, asOf time.Time, loc *time.Location, window time.Duration) bool {
	if ro.None || ro.Day.IsZero() || window <= 0 {
		return false
	}
	if ro.Actual {
		return true
	}
	if loc == nil {
		loc = time.UTC
	}
	start := schemas.Date{Year: ro.Day.Year(), Month: ro.Day.Month(), Day: ro.Day.Day()}.In(loc)
	return start.Before(asOf.Add(window))
}
