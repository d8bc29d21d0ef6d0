package forecast

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func zone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// TestProject: Given hand-made periods, when they are projected, then the days, the burn,
// the projected credits and the run-out days follow the method of the package comment.
func TestProject(t *testing.T) {
	rome, la := zone("Europe/Rome"), zone("America/Los_Angeles")
	march := func(p Period) Period { // March 2026 in Rome: its 29th lasts 23 hours
		p.Start, p.End, p.Loc = date("2026-03-01"), date("2026-04-01"), rome
		if p.Plan.IsZero() {
			p.Plan = d("100")
		}
		if p.Available.IsZero() {
			p.Available = d("250")
		}
		return p
	}
	none := Runout{}
	on := func(s string) Runout { return Runout{Day: date(s)} }
	ran := func(s string) Runout { return Runout{Day: date(s), Actual: true} }
	cases := []struct {
		name string
		p    Period
		want Result
	}{
		{
			// Given a period without events, then nothing is burnt and nothing runs out.
			name: "no events",
			p:    march(Period{Used: d("0"), OwnUsed: d("0")}),
			want: Result{Days: 31, Elapsed: 0, Burn: d("0"), Projected: d("0"), Plan: none, Credits: none},
		},
		{
			// Given 10 credits on the first day, then 10 a day: 310 by the end, the plan
			// (100) gone by the end of the 10th, plan and bank (250) by the end of the 25th.
			name: "one day",
			p:    march(Period{Used: d("10"), OwnUsed: d("10"), AsOf: at("2026-03-01T10:00:00+01:00")}),
			want: Result{Days: 31, Elapsed: 1, Burn: d("10"), Projected: d("310"), Plan: on("2026-03-10"), Credits: on("2026-03-25")},
		},
		{
			// Given the latest usage 30 minutes into 30 March in Rome (22:30 UTC on the 29th,
			// after the 23-hour day), then 30 days have elapsed, counted in Rome's calendar,
			// and one is left: the plan of 305 runs out on the 31st.
			name: "DST spring day",
			p:    march(Period{Plan: d("305"), Available: d("400"), Used: d("300"), OwnUsed: d("300"), AsOf: at("2026-03-30T00:30:00+02:00")}),
			want: Result{Days: 31, Elapsed: 30, Burn: d("10"), Projected: d("310"), Plan: on("2026-03-31"), Credits: none},
		},
		{
			// The same with the instants the plan and the credits were reached (the 23-hour
			// day holds the second): the days are Rome's.
			name: "DST spring day, reached",
			p: march(Period{Used: d("300"), OwnUsed: d("300"), AsOf: at("2026-03-30T00:30:00+02:00"),
				PlanReachedAt: at("2026-03-09T23:30:00Z"), AvailableReachedAt: at("2026-03-29T23:59:00+02:00")}),
			want: Result{Days: 31, Elapsed: 30, Burn: d("10"), Projected: d("310"),
				Plan: ran("2026-03-10"), Credits: ran("2026-03-29")},
		},
		{
			// Given October in Rome (its 25th lasts 25 hours) and the latest usage at 00:30 on
			// the 26th (23:30 UTC on the 25th), then 26 days, not the UTC date's 25.
			name: "DST autumn day",
			p: Period{Start: date("2026-10-01"), End: date("2026-11-01"), Loc: rome, Plan: d("1000"), Available: d("1000"),
				Used: d("260"), OwnUsed: d("260"), AsOf: at("2026-10-25T23:30:00Z")},
			want: Result{Days: 31, Elapsed: 26, Burn: d("10"), Projected: d("310"), Plan: none, Credits: none},
		},
		{
			// Given a Los Angeles period and the latest usage at 20:00 on 8 March (the day
			// that lasts 23 hours there; 03:00 UTC on the 9th), then 8 days.
			name: "DST day west of UTC",
			p: Period{Start: date("2026-03-01"), End: date("2026-04-01"), Loc: la, Plan: d("100"), Available: d("100"),
				Used: d("80"), OwnUsed: d("80"), AsOf: at("2026-03-09T03:00:00Z")},
			want: Result{Days: 31, Elapsed: 8, Burn: d("10"), Projected: d("310"), Plan: on("2026-03-10"), Credits: on("2026-03-10")},
		},
		{
			// Given the latest usage on the period's last day, then no day is left: the
			// projection is what was used, and what has not run out does not.
			name: "last day",
			p:    march(Period{Used: d("95"), OwnUsed: d("95"), AsOf: at("2026-03-31T18:00:00+02:00")}),
			want: Result{Days: 31, Elapsed: 31, Burn: d("3.0645"), Projected: d("95"), Plan: none, Credits: none},
		},
		{
			// Given a period that has ended (in its grace period) whose last usage was on the
			// 20th, then every day counts and nothing more is projected.
			name: "ended",
			p:    march(Period{Ended: true, Used: d("62"), OwnUsed: d("62"), AsOf: at("2026-03-20T12:00:00+01:00")}),
			want: Result{Days: 31, Elapsed: 31, Burn: d("2"), Projected: d("62"), Plan: none, Credits: none},
		},
		{
			// Given only late usage (billed here, of an earlier period), then no burn.
			name: "late usage only",
			p:    march(Period{Used: d("50"), OwnUsed: d("0")}),
			want: Result{Days: 31, Elapsed: 0, Burn: d("0"), Projected: d("50"), Plan: none, Credits: none},
		},
		{
			// Given late usage that used the whole plan, billed first, then the plan ran out
			// on the period's first day.
			name: "late usage ran the plan out",
			p: march(Period{Used: d("120"), OwnUsed: d("20"), AsOf: at("2026-03-02T09:00:00+01:00"),
				PlanReachedAt: at("2026-02-27T09:00:00+01:00")}),
			want: Result{Days: 31, Elapsed: 2, Burn: d("10"), Projected: d("410"), Plan: ran("2026-03-01"), Credits: on("2026-03-15")},
		},
		{
			// Given no plan and no bank (a hard stop with nothing bought), then nothing to
			// run out of.
			name: "nothing available",
			p: Period{Start: date("2026-03-01"), End: date("2026-04-01"), Loc: rome, Plan: d("0"), Available: d("0.0000"),
				Used: d("0"), OwnUsed: d("0"), AsOf: at("2026-03-05T09:00:00+01:00")},
			want: Result{Days: 31, Elapsed: 5, Burn: d("0"), Projected: d("0"), Plan: Runout{None: true}, Credits: Runout{None: true}},
		},
		{
			// Given 40 credits in 4 days, the plan is reached exactly at the end of the 10th:
			// a whole quotient is not rounded up.
			name: "exact day",
			p:    march(Period{Used: d("40"), OwnUsed: d("40"), AsOf: at("2026-03-04T09:00:00+01:00"), Available: d("100.0001")}),
			want: Result{Days: 31, Elapsed: 4, Burn: d("10"), Projected: d("310"), Plan: on("2026-03-10"), Credits: on("2026-03-11")},
		},
		{
			// Given 10 credits in 3 days, then a burn of 3.3333 and 10 + 10 x 28 / 3 =
			// 103.3333 (half-up at 4 places); the credits do not run out within March.
			name: "rounding",
			p:    march(Period{Used: d("10"), OwnUsed: d("10"), AsOf: at("2026-03-03T09:00:00+01:00"), Available: d("1000")}),
			want: Result{Days: 31, Elapsed: 3, Burn: d("3.3333"), Projected: d("103.3333"), Plan: on("2026-03-30"), Credits: none},
		},
		{
			// Half-up: 0.0001 in 2 days burns 0.00005, shown 0.0001.
			name: "half-up",
			p:    march(Period{Used: d("0.0001"), OwnUsed: d("0.0001"), AsOf: at("2026-03-02T09:00:00+01:00")}),
			want: Result{Days: 31, Elapsed: 2, Burn: d("0.0001"), Projected: d("0.0016"), Plan: none, Credits: none},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Project(c.p)
			if got.Days != c.want.Days || got.Elapsed != c.want.Elapsed {
				t.Errorf("days %d, elapsed %d; want %d, %d", got.Days, got.Elapsed, c.want.Days, c.want.Elapsed)
			}
			if !got.Burn.Equal(c.want.Burn) || !got.Projected.Equal(c.want.Projected) {
				t.Errorf("burn %s, projected %s; want %s, %s", got.Burn, got.Projected, c.want.Burn, c.want.Projected)
			}
			for _, r := range []struct {
				name      string
				got, want Runout
			}{{"plan", got.Plan, c.want.Plan}, {"credits", got.Credits, c.want.Credits}} {
				if !r.got.Day.Equal(r.want.Day) || r.got.Actual != r.want.Actual || r.got.None != r.want.None {
					t.Errorf("%s runs out %+v, want %+v", r.name, r.got, r.want)
				}
			}
		})
	}
}

// TestWithin: notify.runout_within asks whether credits run out within a window of the
// forecast's instant; a day starts at the tenant's local midnight.
func TestWithin(t *testing.T) {
	rome := zone("Europe/Rome")
	week := 7 * 24 * time.Hour
	asOf := at("2026-03-22T15:00:00+01:00")
	cases := []struct {
		name   string
		ro     Runout
		window time.Duration
		want   bool
	}{
		{"has run out", Runout{Day: date("2026-03-02"), Actual: true}, week, true},
		{"within the week", Runout{Day: date("2026-03-29")}, week, true},
		// 29 March starts at 00:00 CET = 23:00 UTC on the 28th; a window ending just after
		// it holds it, one ending at it does not
		{"at the window's end", Runout{Day: date("2026-03-29")}, at("2026-03-28T23:00:00Z").Sub(asOf), false},
		{"just inside", Runout{Day: date("2026-03-29")}, at("2026-03-28T23:00:01Z").Sub(asOf), true},
		{"after the week", Runout{Day: date("2026-03-30")}, week, false},
		{"not within the period", Runout{}, week, false},
		{"nothing to run out of", Runout{None: true}, week, false},
		{"no window", Runout{Day: date("2026-03-23")}, 0, false},
	}
	for _, c := range cases {
		if got := Within(c.ro, asOf, rome, c.window); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
