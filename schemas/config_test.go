package schemas

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// scalar is a YAML scalar node as the decoder hands it to UnmarshalYAML.
func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v, Line: 3, Column: 7}
}

func TestTimestampUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 UTC, "" for an error
	}{
		// Given Z, When read, Then that instant.
		{"2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z"},
		// Given an offset, When read, Then the instant in UTC.
		{"2026-01-01T00:00:00+01:00", "2025-12-31T23:00:00Z"},
		// Given fractional seconds, When read, Then kept.
		{"2026-01-01T00:00:00.5-02:30", "2026-01-01T02:30:00.5Z"},
		// Given lower-case t and z (allowed by RFC 3339), When read, Then accepted.
		{"2026-01-05t10:00:00z", "2026-01-05T10:00:00Z"},
		// Given a space instead of T (allowed by RFC 3339 5.6 and the schema), When read, Then accepted.
		{"2026-01-05 10:00:00+01:00", "2026-01-05T09:00:00Z"},
		// Given no offset, When read, Then refused.
		{"2026-01-05T00:00:00", ""},
		// Given a bare date, When read as a timestamp, Then refused.
		{"2026-01-05", ""},
		// Given an impossible time, When read, Then refused.
		{"2026-01-05T25:00:00Z", ""},
		// Given nothing, When read, Then refused.
		{"", ""},
	}
	for _, tc := range tests {
		var ts Timestamp
		err := ts.UnmarshalYAML(scalar(tc.in))
		if tc.want == "" {
			var te *yaml.TypeError
			if err == nil {
				t.Errorf("%q: accepted as %v", tc.in, ts.Time)
			} else if !errorsAs(err, &te) || !strings.HasPrefix(err.Error(), "yaml: unmarshal errors:\n  line 3, column 7: ") {
				t.Errorf("%q: error %q (%T), want a yaml.TypeError at line 3, column 7", tc.in, err, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := ts.UTC().Format(time.RFC3339Nano); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}

func errorsAs(err error, te **yaml.TypeError) bool {
	v, ok := err.(*yaml.TypeError)
	*te = v
	return ok
}

func TestDateOrTimeUnmarshal(t *testing.T) {
	rome := loc(t, "Europe/Rome")
	tests := []struct {
		in     string
		isDate bool
		want   string // instant in Rome, RFC 3339 UTC; "" for an error
	}{
		// Given a bare date, When read, Then a date meaning local midnight.
		{"2026-01-01", true, "2025-12-31T23:00:00Z"},
		// Given a bare date in summer time, When resolved in Rome, Then 22:00Z the day before.
		{"2026-07-01", true, "2026-06-30T22:00:00Z"},
		// Given a timestamp, When read, Then an instant whatever the zone.
		{"2026-01-01T00:00:00Z", false, "2026-01-01T00:00:00Z"},
		// Given a timestamp with a space, When read, Then an instant.
		{"2026-01-01 00:00:00+01:00", false, "2025-12-31T23:00:00Z"},
		// Given a timestamp without offset, When read, Then refused.
		{"2026-01-01T00:00:00", false, ""},
		// Given an impossible date, When read, Then refused.
		{"2026-02-30", true, ""},
		// Given a date in another layout, When read, Then refused.
		{"01/02/2026", true, ""},
	}
	for _, tc := range tests {
		var d DateOrTime
		err := d.UnmarshalYAML(scalar(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, d)
			} else if _, ok := err.(*yaml.TypeError); !ok {
				t.Errorf("%q: error %T, want *yaml.TypeError so decoding goes on", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if d.IsDate != tc.isDate {
			t.Errorf("%q: IsDate %v", tc.in, d.IsDate)
		}
		if got := d.In(rome).UTC().Format(time.RFC3339); got != tc.want {
			t.Errorf("%q: in Rome %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDurationUnmarshal(t *testing.T) {
	// Given "72h", "1h30m" and "0s", When read, Then those durations; Given "3 days", Then a TypeError.
	for in, want := range map[string]time.Duration{"72h": 72 * time.Hour, "1h30m": 90 * time.Minute, "0s": 0} {
		var d Duration
		if err := d.UnmarshalYAML(scalar(in)); err != nil || d.Duration != want {
			t.Errorf("%q: %v %v", in, d.Duration, err)
		}
	}
	var d Duration
	if err := d.UnmarshalYAML(scalar("3 days")); err == nil {
		t.Error("3 days accepted")
	} else if _, ok := err.(*yaml.TypeError); !ok {
		t.Errorf("error %T, want *yaml.TypeError", err)
	}
}

func TestDateString(t *testing.T) {
	// Given dates, When formatted, Then YYYY-MM-DD with zero padding; the zero date IsZero.
	if s := (Date{2026, time.March, 5}).String(); s != "2026-03-05" {
		t.Errorf("got %s", s)
	}
	if s := (Date{33, time.December, 31}).String(); s != "0033-12-31" {
		t.Errorf("got %s", s)
	}
	if !(Date{}).IsZero() || (Date{2026, 1, 1}).IsZero() {
		t.Error("IsZero")
	}
}

// tzif builds a version-1 TZif zone: before the first transition the first type applies.
func tzif(transitions []int64, types []uint8, offsets []int32) []byte {
	var b []byte
	b = append(b, "TZif"...)
	b = append(b, make([]byte, 16)...) // version 0 (v1) and reserved
	be := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	abbrevs := "AAA\x00"
	// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
	for _, n := range []int{0, 0, 0, len(transitions), len(offsets), len(abbrevs)} {
		be(uint32(n))
	}
	for _, tr := range transitions {
		be(uint32(int32(tr)))
	}
	b = append(b, types...)
	for i, off := range offsets {
		be(uint32(off))
		isdst := byte(0)
		if i > 0 {
			isdst = 1
		}
		b = append(b, isdst, 0)
	}
	b = append(b, abbrevs...)
	return b
}

func TestDateIn(t *testing.T) {
	// a zone whose clocks go from +03 back to +02 at 01:00 local on 2026-10-25, so that
	// local 00:00-01:00 happens twice that day
	repeat, err := time.LoadLocationFromTZData("Test/Repeat", tzif(
		[]int64{mustTime("2026-01-01T00:00:00Z").Unix(), mustTime("2026-10-24T22:00:00Z").Unix()},
		[]uint8{1, 0},
		[]int32{2 * 3600, 3 * 3600},
	))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		loc  *time.Location
		date Date
		want string
	}{
		// Given UTC, When a date is resolved, Then its midnight.
		{"UTC", time.UTC, Date{2026, 1, 1}, "2026-01-01T00:00:00Z"},
		// Given Rome in winter, When resolved, Then 23:00Z the day before.
		{"Rome winter", loc(t, "Europe/Rome"), Date{2026, 1, 1}, "2025-12-31T23:00:00Z"},
		// Given Rome on the spring change day (change at 02:00), When resolved, Then midnight CET.
		{"Rome change day", loc(t, "Europe/Rome"), Date{2026, 3, 29}, "2026-03-28T23:00:00Z"},
		// Given Los Angeles on the autumn change day, When resolved, Then midnight PDT.
		{"LA change day", loc(t, "America/Los_Angeles"), Date{2026, 11, 1}, "2026-11-01T07:00:00Z"},
		// Given Sydney on the autumn change day (change at 03:00), When resolved, Then midnight AEDT.
		{"Sydney change day", loc(t, "Australia/Sydney"), Date{2026, 4, 5}, "2026-04-04T13:00:00Z"},
		// Given Santiago, where Sep 6 2026 starts at 01:00 -03 (no midnight),
		// When resolved, Then the first instant of Sep 6, not 23:00 on Sep 5.
		{"Santiago gap", loc(t, "America/Santiago"), Date{2026, 9, 6}, "2026-09-06T04:00:00Z"},
		// Given Havana, where Mar 8 2026 starts at 01:00 CDT, When resolved, Then 05:00Z.
		{"Havana gap", loc(t, "America/Havana"), Date{2026, 3, 8}, "2026-03-08T05:00:00Z"},
		// Given the Azores, where Mar 28 2027 starts at 01:00 +00, When resolved, Then 01:00Z.
		{"Azores gap", loc(t, "Atlantic/Azores"), Date{2027, 3, 28}, "2027-03-28T01:00:00Z"},
		// Given the Azores, where 00:00-01:00 repeats on Oct 25 2026, When resolved, Then the first midnight.
		{"Azores repeat", loc(t, "Atlantic/Azores"), Date{2026, 10, 25}, "2026-10-25T00:00:00Z"},
		// Given Santiago on the autumn change (24:00 -03 goes back to 23:00 -04), When
		// resolved, Then Apr 5 starts at 00:00 -04.
		{"Santiago fall back", loc(t, "America/Santiago"), Date{2026, 4, 5}, "2026-04-05T04:00:00Z"},
		// Given Cairo, where Apr 24 2026 starts at 01:00 EEST, When resolved, Then 22:00Z the day before.
		{"Cairo gap", loc(t, "Africa/Cairo"), Date{2026, 4, 24}, "2026-04-23T22:00:00Z"},
		// Given a zone east of UTC where midnight repeats, When resolved, Then the first midnight (+03).
		{"synthetic repeat", repeat, Date{2026, 10, 25}, "2026-10-24T21:00:00Z"},
		// Given the same zone the day after, When resolved, Then plain midnight +02.
		{"synthetic next day", repeat, Date{2026, 10, 26}, "2026-10-25T22:00:00Z"},
		// Given the same zone the day before, When resolved, Then plain midnight +03.
		{"synthetic day before", repeat, Date{2026, 10, 24}, "2026-10-23T21:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.date.In(tc.loc)
			if s := got.UTC().Format(time.RFC3339); s != tc.want {
				t.Errorf("%s in %s = %s (%v), want %s", tc.date, tc.loc, s, got, tc.want)
			}
			// it is the first instant of the local day
			y, m, d := got.Date()
			if (Date{y, m, d}) != tc.date {
				t.Errorf("%v is not on %s", got, tc.date)
			}
			if y, m, d := got.Add(-time.Nanosecond).Date(); (Date{y, m, d}) == tc.date {
				t.Errorf("%v is not the first instant of %s", got, tc.date)
			}
		})
	}
}
