// Package periods computes a tenant's billing periods: windows between local midnights in
// the tenant's own time zone (BILLING.md sections 4 and 9).
package periods

import (
	"fmt"
	"time"

	"github.com/creditmeter/creditmeter/schemas"
)

// Period is one billing window [Start, End) of a tenant.
type Period struct {
	Index     int          // 0 for the first period of the contract
	StartDate schemas.Date // tenant-local date of Start
	EndDate   schemas.Date // tenant-local date of End (exclusive)
	Start     time.Time    // local midnight, as an instant
	End       time.Time    // local midnight, as an instant
}

// stepMonths is the length of a period kind in months, and also the spacing of its anchor
// months counted from January.
func stepMonths(kind string) (int, error) {
	switch kind {
	case "monthly":
		return 1, nil
	case "quarterly":
		return 3, nil
	case "yearly":
		return 12, nil
	}
	return 0, fmt.Errorf("unknown period kind %q", kind)
}

// For lists the tenant's periods from service_start up to and including the one that
// contains service_end. The first starts at service_start and ends at the next anchor
// boundary; the last is not shortened.
func For(t *schemas.Tenant) ([]Period, error) {
	step, err := stepMonths(t.Period)
	if err != nil {
		return nil, err
	}
	if t.Location == nil {
		return nil, fmt.Errorf("tenant %s: time zone not loaded", t.ID)
	}
	anchor := t.AnchorDay
	if anchor == 0 {
		anchor = 1
	}
	// boundaries run from January of the year before service_start, every step months.
	bound := func(k int) schemas.Date {
		y := t.ServiceStart.Year - 1 + k*step/12
		m := time.Month(k*step%12 + 1)
		return schemas.Date{Year: y, Month: m, Day: anchor}
	}
	k := 0
	for !after(bound(k), t.ServiceStart) {
		k++
	}
	var out []Period
	start := t.ServiceStart
	for {
		end := bound(k)
		out = append(out, Period{
			Index: len(out), StartDate: start, EndDate: end,
			Start: start.In(t.Location), End: end.In(t.Location),
		})
		if after(end, t.ServiceEnd) {
			return out, nil
		}
		start = end
		k++
	}
}

// after reports whether date a is strictly after date b.
func after(a, b schemas.Date) bool {
	if a.Year != b.Year {
		return a.Year > b.Year
	}
	if a.Month != b.Month {
		return a.Month > b.Month
	}
	return a.Day > b.Day
}

// Containing returns the index of the period containing instant at, or -1 when at lies
// outside every period.
func Containing(ps []Period, at time.Time) int {
	lo, hi := 0, len(ps)
	for lo < hi {
		mid := (lo + hi) / 2
		if !ps[mid].End.After(at) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(ps) && !at.Before(ps[lo].Start) {
		return lo
	}
	return -1
}
