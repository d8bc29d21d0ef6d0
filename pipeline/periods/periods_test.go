package periods

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/schemas"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// d parses YYYY-MM-DD.
func d(s string) schemas.Date {
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	y, m, dd := v.Date()
	return schemas.Date{Year: y, Month: m, Day: dd}
}

func ts(s string) time.Time {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return v
}

func tenant(t testing.TB, zone, kind string, anchor int, start, end string) *schemas.Tenant {
	return &schemas.Tenant{
		ID: "t", Timezone: zone, Location: mustLoc(t, zone), Period: kind, AnchorDay: anchor,
		ServiceStart: d(start), ServiceEnd: d(end),
	}
}

// dates renders periods as "start..end" date pairs.
func dates(ps []Period) string {
	var b []string
	for _, p := range ps {
		b = append(b, p.StartDate.String()+".."+p.EndDate.String())
	}
	return strings.Join(b, " ")
}

func TestForDates(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		anchor     int
		start, end string
		want       string
	}{
		{
			// Given a monthly contract on anchor day 1 from 2026-01-01 to 2026-12-31,
			// When its periods are listed,
			// Then there are twelve calendar months, the last ending 2027-01-01.
			name: "monthly anchor 1", kind: "monthly", anchor: 1, start: "2026-01-01", end: "2026-12-31",
			want: "2026-01-01..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-04-01 2026-04-01..2026-05-01 " +
				"2026-05-01..2026-06-01 2026-06-01..2026-07-01 2026-07-01..2026-08-01 2026-08-01..2026-09-01 " +
				"2026-09-01..2026-10-01 2026-10-01..2026-11-01 2026-11-01..2026-12-01 2026-12-01..2027-01-01",
		},
		{
			// Given a monthly contract on anchor 1 starting mid-month, 2026-01-15,
			// When its periods are listed,
			// Then the first is the partial Jan 15 - Feb 1, then whole months.
			name: "first partial period", kind: "monthly", anchor: 1, start: "2026-01-15", end: "2026-03-31",
			want: "2026-01-15..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-04-01",
		},
		{
			// Given a quarterly contract on anchor 15 from 2026-01-01,
			// When its periods are listed,
			// Then Jan 1 - Jan 15, then quarters starting Jan/Apr/Jul/Oct 15.
			name: "quarterly anchor 15", kind: "quarterly", anchor: 15, start: "2026-01-01", end: "2026-12-31",
			want: "2026-01-01..2026-01-15 2026-01-15..2026-04-15 2026-04-15..2026-07-15 2026-07-15..2026-10-15 " +
				"2026-10-15..2027-01-15",
		},
		{
			// Given a quarterly contract on anchor 1 starting 2026-02-10,
			// When its periods are listed,
			// Then the first runs to the next quarter start, Apr 1.
			name: "quarterly partial first", kind: "quarterly", anchor: 1, start: "2026-02-10", end: "2026-06-30",
			want: "2026-02-10..2026-04-01 2026-04-01..2026-07-01",
		},
		{
			// Given a yearly contract on anchor 10 from 2026-01-01 to 2026-12-31,
			// When its periods are listed,
			// Then Jan 1 - Jan 10, then Jan 10 2026 - Jan 10 2027.
			name: "yearly anchor 10", kind: "yearly", anchor: 10, start: "2026-01-01", end: "2026-12-31",
			want: "2026-01-01..2026-01-10 2026-01-10..2027-01-10",
		},
		{
			// Given a yearly contract starting after the anchor in its year,
			// When its periods are listed,
			// Then the first runs to the anchor of the next January.
			name: "yearly start after anchor", kind: "yearly", anchor: 10, start: "2026-03-01", end: "2027-06-30",
			want: "2026-03-01..2027-01-10 2027-01-10..2028-01-10",
		},
		{
			// Given a monthly contract ending 2026-03-15,
			// When its periods are listed,
			// Then they run up to the one containing Mar 15, which is not shortened (ends Apr 1).
			name: "last period not shortened", kind: "monthly", anchor: 1, start: "2026-01-01", end: "2026-03-15",
			want: "2026-01-01..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-04-01",
		},
		{
			// Given a monthly contract ending on a boundary day, 2026-03-01,
			// When its periods are listed,
			// Then the March period (which contains Mar 1) is included.
			name: "service_end on a boundary", kind: "monthly", anchor: 1, start: "2026-01-01", end: "2026-03-01",
			want: "2026-01-01..2026-02-01 2026-02-01..2026-03-01 2026-03-01..2026-04-01",
		},
		{
			// Given a monthly contract ending the day before a boundary,
			// When its periods are listed,
			// Then no period starts at that boundary.
			name: "service_end before a boundary", kind: "monthly", anchor: 1, start: "2026-01-01", end: "2026-02-28",
			want: "2026-01-01..2026-02-01 2026-02-01..2026-03-01",
		},
		{
			// Given a monthly contract on anchor 15 starting exactly on 2026-01-15,
			// When its periods are listed,
			// Then the first period is a whole one (no empty period before it).
			name: "service_start on a boundary", kind: "monthly", anchor: 15, start: "2026-01-15", end: "2026-02-20",
			want: "2026-01-15..2026-02-15 2026-02-15..2026-03-15",
		},
		{
			// Given a quarterly contract starting exactly on a quarter boundary,
			// When its periods are listed,
			// Then the first is the whole quarter.
			name: "quarterly start on a boundary", kind: "quarterly", anchor: 1, start: "2026-04-01", end: "2026-07-01",
			want: "2026-04-01..2026-07-01 2026-07-01..2026-10-01",
		},
		{
			// Given a yearly contract starting on its anchor,
			// When its periods are listed,
			// Then one whole year.
			name: "yearly start on a boundary", kind: "yearly", anchor: 1, start: "2026-01-01", end: "2026-12-31",
			want: "2026-01-01..2027-01-01",
		},
		{
			// Given a one-day contract,
			// When its periods are listed,
			// Then a single period, up to the next boundary.
			name: "one day", kind: "monthly", anchor: 1, start: "2026-05-20", end: "2026-05-20",
			want: "2026-05-20..2026-06-01",
		},
		{
			// Given a monthly contract on anchor 28 starting in late December,
			// When its periods are listed,
			// Then they cross the year: Dec 30 - Jan 28, Jan 28 - Feb 28.
			name: "across the year", kind: "monthly", anchor: 28, start: "2026-12-30", end: "2027-02-01",
			want: "2026-12-30..2027-01-28 2027-01-28..2027-02-28",
		},
		{
			// Given a monthly contract on anchor 28 starting Feb 28 (a short month),
			// When its periods are listed,
			// Then Feb 28 - Mar 28.
			name: "anchor 28 in February", kind: "monthly", anchor: 28, start: "2026-02-28", end: "2026-03-01",
			want: "2026-02-28..2026-03-28",
		},
		{
			// Given a leap year and a monthly contract on anchor 1 from Feb 1 2028,
			// When its periods are listed,
			// Then February has its 29 days (ends Mar 1).
			name: "leap year", kind: "monthly", anchor: 1, start: "2028-02-01", end: "2028-02-29",
			want: "2028-02-01..2028-03-01",
		},
		{
			// Given anchor day 0 (unset),
			// When the periods are listed,
			// Then anchor 1 applies.
			name: "anchor 0 means 1", kind: "monthly", anchor: 0, start: "2026-01-10", end: "2026-02-10",
			want: "2026-01-10..2026-02-01 2026-02-01..2026-03-01",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := tenant(t, "Europe/Rome", tc.kind, tc.anchor, tc.start, tc.end)
			ps, err := For(tn)
			if err != nil {
				t.Fatal(err)
			}
			if got := dates(ps); got != tc.want {
				t.Errorf("periods:\n got %s\nwant %s", got, tc.want)
			}
			for i, p := range ps {
				if p.Index != i {
					t.Errorf("period %d has index %d", i, p.Index)
				}
				if !p.Start.Equal(p.StartDate.In(tn.Location)) || !p.End.Equal(p.EndDate.In(tn.Location)) {
					t.Errorf("period %d: instants %v..%v do not match dates %s..%s", i, p.Start, p.End, p.StartDate, p.EndDate)
				}
			}
		})
	}
}

func TestForErrors(t *testing.T) {
	tests := []struct {
		name string
		tn   *schemas.Tenant
		want string
	}{
		{
			// Given a tenant with period kind "weekly",
			// When its periods are listed,
			// Then an error names the unknown kind.
			name: "unknown kind",
			tn:   tenant(t, "UTC", "weekly", 1, "2026-01-01", "2026-12-31"),
			want: `unknown period kind "weekly"`,
		},
		{
			// Given a tenant whose time zone was never loaded,
			// When its periods are listed,
			// Then an error says so instead of using UTC silently.
			name: "no location",
			tn:   &schemas.Tenant{ID: "x", Period: "monthly", AnchorDay: 1, ServiceStart: d("2026-01-01"), ServiceEnd: d("2026-02-01")},
			want: "time zone not loaded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := For(tc.tn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestForInstants checks that boundaries are tenant-local midnights as instants, across
// daylight-saving changes.
func TestForInstants(t *testing.T) {
	tests := []struct {
		name       string
		zone       string
		kind       string
		anchor     int
		start, end string
		want       []string // Start of every period, then End of the last, as UTC instants
	}{
		{
			// Given Europe/Rome (CET +01, CEST +02 from Mar 29 to Oct 25 2026),
			// When monthly periods from Feb to Nov are listed,
			// Then each starts at local midnight: 23:00Z in winter, 22:00Z in summer.
			name: "Europe/Rome", zone: "Europe/Rome", kind: "monthly", anchor: 1, start: "2026-02-01", end: "2026-11-15",
			want: []string{
				"2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z", "2026-04-30T22:00:00Z",
				"2026-05-31T22:00:00Z", "2026-06-30T22:00:00Z", "2026-07-31T22:00:00Z", "2026-08-31T22:00:00Z",
				"2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z",
			},
		},
		{
			// Given Europe/Rome and a monthly anchor of 25 (DST ends Oct 25 2026 at 03:00),
			// When the periods around the change are listed,
			// Then Oct 25 midnight is still summer time (22:00Z the day before).
			name: "Europe/Rome on the day DST ends", zone: "Europe/Rome", kind: "monthly", anchor: 25, start: "2026-09-25", end: "2026-10-30",
			want: []string{"2026-09-24T22:00:00Z", "2026-10-24T22:00:00Z", "2026-11-24T23:00:00Z"},
		},
		{
			// Given America/Los_Angeles (PST -08, PDT -07 from Mar 8 to Nov 1 2026),
			// When monthly periods on anchor 8 around the spring change are listed,
			// Then Mar 8 midnight is still PST (08:00Z) and Apr 8 is PDT (07:00Z).
			name: "America/Los_Angeles spring", zone: "America/Los_Angeles", kind: "monthly", anchor: 8, start: "2026-02-08", end: "2026-03-20",
			want: []string{"2026-02-08T08:00:00Z", "2026-03-08T08:00:00Z", "2026-04-08T07:00:00Z"},
		},
		{
			// Given America/Los_Angeles and anchor 1 (DST ends Nov 1 2026 at 02:00),
			// When the periods around the autumn change are listed,
			// Then Nov 1 midnight is PDT (07:00Z) and Dec 1 is PST (08:00Z).
			name: "America/Los_Angeles autumn", zone: "America/Los_Angeles", kind: "monthly", anchor: 1, start: "2026-10-01", end: "2026-11-15",
			want: []string{"2026-10-01T07:00:00Z", "2026-11-01T07:00:00Z", "2026-12-01T08:00:00Z"},
		},
		{
			// Given Australia/Sydney (AEDT +11 until Apr 5 2026, AEST +10 until Oct 4 2026),
			// When quarterly periods on anchor 1 are listed,
			// Then Jan 1 and Oct 1... are at the right offset each: Jan +11, Apr +11 (still
			// daylight time on Apr 1), Jul +10, Oct +10 (DST starts Oct 4), Jan 2027 +11.
			name: "Australia/Sydney quarterly", zone: "Australia/Sydney", kind: "quarterly", anchor: 1, start: "2026-01-01", end: "2026-12-31",
			want: []string{
				"2025-12-31T13:00:00Z", "2026-03-31T13:00:00Z", "2026-06-30T14:00:00Z", "2026-09-30T14:00:00Z",
				"2026-12-31T13:00:00Z",
			},
		},
		{
			// Given Australia/Sydney and anchor 5 (DST ends Apr 5 2026 at 03:00, starts Oct 4),
			// When monthly periods from Mar 5 to Nov 5 are listed,
			// Then Apr 5 midnight is still +11 and Oct 5 is +11 again.
			name: "Australia/Sydney on the change days", zone: "Australia/Sydney", kind: "monthly", anchor: 5, start: "2026-03-05", end: "2026-05-01",
			want: []string{"2026-03-04T13:00:00Z", "2026-04-04T13:00:00Z", "2026-05-04T14:00:00Z"},
		},
		{
			// Given America/Santiago, where DST starts at midnight (Sep 6 2026 00:00 -04 is
			// followed by 01:00 -03, so Sep 6 has no midnight),
			// When a monthly period boundary falls on Sep 6,
			// Then the boundary is the first instant of Sep 6 local time (01:00 -03 = 04:00Z),
			// not 23:00 of Sep 5.
			name: "America/Santiago midnight gap", zone: "America/Santiago", kind: "monthly", anchor: 6, start: "2026-08-06", end: "2026-09-10",
			want: []string{"2026-08-06T04:00:00Z", "2026-09-06T04:00:00Z", "2026-10-06T03:00:00Z"},
		},
		{
			// Given America/Havana, where DST starts at midnight on Mar 8 2026,
			// When a monthly period boundary falls on Mar 8,
			// Then the boundary is 01:00 CDT (05:00Z), the first instant of Mar 8.
			name: "America/Havana midnight gap", zone: "America/Havana", kind: "monthly", anchor: 8, start: "2026-02-08", end: "2026-03-10",
			want: []string{"2026-02-08T05:00:00Z", "2026-03-08T05:00:00Z", "2026-04-08T04:00:00Z"},
		},
		{
			// Given UTC,
			// When yearly periods are listed,
			// Then boundaries are plain UTC midnights.
			name: "UTC", zone: "UTC", kind: "yearly", anchor: 1, start: "2026-01-01", end: "2027-01-01",
			want: []string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := For(tenant(t, tc.zone, tc.kind, tc.anchor, tc.start, tc.end))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Start.UTC().Format(time.RFC3339))
			}
			if len(ps) > 0 {
				got = append(got, ps[len(ps)-1].End.UTC().Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("boundaries:\n got %v\nwant %v", got, tc.want)
			}
			for i := 1; i < len(ps); i++ {
				if !ps[i].Start.Equal(ps[i-1].End) {
					t.Errorf("period %d starts at %v, previous ends at %v", i, ps[i].Start, ps[i-1].End)
				}
			}
		})
	}
}

func TestContaining(t *testing.T) {
	rome, err := For(tenant(t, "Europe/Rome", "monthly", 1, "2026-01-01", "2026-12-31"))
	if err != nil {
		t.Fatal(err)
	}
	partial, err := For(tenant(t, "America/Los_Angeles", "monthly", 1, "2026-01-15", "2026-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ps   []Period
		at   string
		want int
	}{
		// Given Rome monthly periods, When 2026-01-31T23:30:00Z (00:30 Feb 1 in Rome), Then February.
		{"late January UTC is February in Rome", rome, "2026-01-31T23:30:00Z", 1},
		// Given Rome monthly periods, When one nanosecond before Feb 1 local midnight, Then January.
		{"just before a boundary", rome, "2026-01-31T22:59:59.999999999Z", 0},
		// Given Rome monthly periods, When exactly Feb 1 local midnight, Then February (start inclusive).
		{"exactly at a boundary", rome, "2026-01-31T23:00:00Z", 1},
		// Given Rome monthly periods, When the same instant written with an offset, Then the same period.
		{"offset does not matter", rome, "2026-02-01T00:00:00+01:00", 1},
		// Given Rome monthly periods, When exactly the service start, Then the first period.
		{"service start", rome, "2025-12-31T23:00:00Z", 0},
		// Given Rome monthly periods, When one nanosecond before the service start, Then -1.
		{"before the first period", rome, "2025-12-31T22:59:59.999999999Z", -1},
		// Given Rome monthly periods, When mid-July (summer time), Then July.
		{"summer", rome, "2026-07-15T12:00:00+02:00", 6},
		// Given Rome monthly periods, When 2026-03-31T22:30:00Z (00:30 Apr 1 CEST), Then April.
		{"after the spring change", rome, "2026-03-31T22:30:00Z", 3},
		// Given Rome monthly periods, When one nanosecond before the last end, Then December.
		{"end of the last period", rome, "2026-12-31T22:59:59.999999999Z", 11},
		// Given Rome monthly periods, When exactly the end of the last period, Then -1 (end exclusive).
		{"at the last end", rome, "2026-12-31T23:00:00Z", -1},
		// Given Rome monthly periods, When years later, Then -1.
		{"far after", rome, "2030-01-01T00:00:00Z", -1},
		// Given no periods, When any instant, Then -1.
		{"no periods", nil, "2026-01-01T00:00:00Z", -1},
		// Given LA periods from Jan 15, When Jan 14 local, Then -1.
		{"before a partial first period", partial, "2026-01-14T23:59:59-08:00", -1},
		// Given LA periods from Jan 15, When Jan 31 23:30 local (already Feb 1 in UTC), Then the partial January one.
		{"partial first period in local time", partial, "2026-02-01T07:30:00Z", 0},
		// Given LA periods, When Feb 1 00:00 PST, Then February.
		{"LA boundary", partial, "2026-02-01T08:00:00Z", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Containing(tc.ps, ts(tc.at)); got != tc.want {
				t.Errorf("Containing(%s) = %d, want %d", tc.at, got, tc.want)
			}
		})
	}
}

// TestPeriodsProperties checks random contracts: periods are contiguous and ordered, every
// boundary after the first is a local midnight on the anchor day of an anchor month, no
// period is longer than its kind, the last contains service_end, and Containing agrees with
// a linear scan.
func TestPeriodsProperties(t *testing.T) {
	zones := []string{"UTC", "Europe/Rome", "America/Los_Angeles", "Australia/Sydney", "Asia/Kolkata",
		"Pacific/Chatham", "America/Santiago", "America/Havana", "Africa/Cairo", "Asia/Tokyo", "America/St_Johns",
		"Atlantic/Azores", "Asia/Beirut", "America/Asuncion", "Asia/Tehran", "Pacific/Apia", "Australia/Lord_Howe"}
	kinds := map[string]int{"monthly": 1, "quarterly": 3, "yearly": 12}
	kindNames := []string{"monthly", "quarterly", "yearly"}
	rnd := rand.New(rand.NewPCG(2026, 1))
	iters := 1500
	if testing.Short() {
		iters = 200
	}
	for i := range iters {
		zone := zones[rnd.IntN(len(zones))]
		kind := kindNames[rnd.IntN(3)]
		anchor := 1 + rnd.IntN(28)
		start := time.Date(2020+rnd.IntN(10), time.January, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rnd.IntN(366))
		end := start.AddDate(0, 0, rnd.IntN(900))
		tn := &schemas.Tenant{ID: "p", Location: mustLoc(t, zone), Period: kind, AnchorDay: anchor,
			ServiceStart: d(start.Format(time.DateOnly)), ServiceEnd: d(end.Format(time.DateOnly))}
		ps, err := For(tn)
		desc := fmt.Sprintf("iteration %d: %s %s anchor %d %s..%s", i, zone, kind, anchor, tn.ServiceStart, tn.ServiceEnd)
		if err != nil {
			t.Fatalf("%s: %v", desc, err)
		}
		if len(ps) == 0 || ps[0].StartDate != tn.ServiceStart {
			t.Fatalf("%s: first period does not start at service_start: %s", desc, dates(ps))
		}
		last := ps[len(ps)-1]
		endUTC, lastStart, lastEnd := tn.ServiceEnd.In(time.UTC), last.StartDate.In(time.UTC), last.EndDate.In(time.UTC)
		if endUTC.Before(lastStart) || !endUTC.Before(lastEnd) {
			t.Fatalf("%s: last period %s..%s does not contain service_end", desc, last.StartDate, last.EndDate)
		}
		for j, p := range ps {
			if !p.Start.Before(p.End) {
				t.Fatalf("%s: period %d empty or reversed: %v..%v", desc, j, p.Start, p.End)
			}
			if j > 0 && (p.StartDate != ps[j-1].EndDate || !p.Start.Equal(ps[j-1].End)) {
				t.Fatalf("%s: period %d not contiguous", desc, j)
			}
			ed := p.EndDate
			if ed.Day != anchor || (int(ed.Month)-1)%kinds[kind] != 0 {
				t.Fatalf("%s: period %d ends %s, not an anchor boundary", desc, j, ed)
			}
			if ed.In(time.UTC).After(p.StartDate.In(time.UTC).AddDate(0, kinds[kind], 0)) {
				t.Fatalf("%s: period %d %s..%s longer than a %s period", desc, j, p.StartDate, ed, kind)
			}
			// the boundary instant is the first instant of its local day
			for _, b := range []struct {
				inst time.Time
				date schemas.Date
			}{{p.Start, p.StartDate}, {p.End, p.EndDate}} {
				y, m, dd := b.inst.In(tn.Location).Date()
				if (schemas.Date{Year: y, Month: m, Day: dd}) != b.date {
					t.Fatalf("%s: boundary %v is not on local day %s", desc, b.inst.In(tn.Location), b.date)
				}
				py, pm, pd := b.inst.Add(-time.Nanosecond).In(tn.Location).Date()
				if (schemas.Date{Year: py, Month: pm, Day: pd}) == b.date {
					t.Fatalf("%s: boundary %v is not the first instant of %s", desc, b.inst.In(tn.Location), b.date)
				}
			}
		}
		for range 20 {
			span := last.End.Sub(ps[0].Start)
			at := ps[0].Start.Add(time.Duration(rnd.Int64N(int64(span)+int64(48*time.Hour))) - 24*time.Hour)
			want := -1
			for j, p := range ps {
				if !at.Before(p.Start) && at.Before(p.End) {
					want = j
				}
			}
			if got := Containing(ps, at); got != want {
				t.Fatalf("%s: Containing(%v) = %d, want %d", desc, at, got, want)
			}
		}
	}
}
