package parse

import (
	"errors"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	us := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return tm.UnixMicro()
	}
	tests := []struct {
		name, in string
		want     int64 // when ok
		ok       bool
	}{
		// Given the forms RFC 3339 allows, When read, Then the instant is exact, in UTC.
		{"Z", "2026-01-12T09:00:00Z", us("2026-01-12T09:00:00Z"), true},
		{"offset", "2026-01-12T09:00:00+01:00", us("2026-01-12T08:00:00Z"), true},
		{"negative offset", "2026-01-12T09:00:00-05:30", us("2026-01-12T14:30:00Z"), true},
		{"minus zero offset is UTC", "2026-01-12T09:00:00-00:00", us("2026-01-12T09:00:00Z"), true},
		{"lower-case t and z", "2026-01-12t09:00:00z", us("2026-01-12T09:00:00Z"), true},
		{"space separator", "2026-01-12 09:00:00+00:00", us("2026-01-12T09:00:00Z"), true},
		{"offset +23:59", "2026-01-12T09:00:00+23:59", us("2026-01-11T09:01:00Z"), true},
		{"fraction", "2026-01-12T09:00:00.5Z", us("2026-01-12T09:00:00.5Z"), true},
		{"microseconds", "2026-01-12T09:00:00.123456Z", us("2026-01-12T09:00:00.123456Z"), true},
		{"nanoseconds truncated", "2026-01-12T09:00:00.123456999Z", us("2026-01-12T09:00:00.123456Z"), true},
		{"many fraction digits", "2026-01-12T09:00:00.99999999999999999999Z", us("2026-01-12T09:00:00.999999Z"), true},
		{"leap day", "2024-02-29T00:00:00Z", us("2024-02-29T00:00:00Z"), true},
		{"leap day of 2000", "2000-02-29T00:00:00Z", us("2000-02-29T00:00:00Z"), true},
		{"year 1", "0001-01-01T00:00:00Z", us("0001-01-01T00:00:00Z"), true},
		{"year 9999", "9999-12-31T23:59:59.999999Z", us("9999-12-31T23:59:59.999999Z"), true},
		{"before 1970", "1969-12-31T23:59:59Z", -1_000_000, true},
		// Given a leap second, When read, Then it is the first instant of the next minute
		// (its fraction added), as PostgreSQL reads it.
		{"leap second", "2026-12-31T23:59:60Z", us("2027-01-01T00:00:00Z"), true},
		{"leap second with offset", "2026-06-30T23:59:60+02:00", us("2026-06-30T22:00:00Z"), true},
		{"leap second fraction", "2026-12-31T23:59:60.5Z", us("2027-01-01T00:00:00.5Z"), true},
		// Given text that is not RFC 3339 with an offset, When read, Then it is refused.
		{"offset hour 99", "2026-01-12T09:00:00+99:00", 0, false},
		{"offset hour 24", "2026-01-12T09:00:00+24:00", 0, false},
		{"offset minute 60", "2026-01-12T09:00:00+01:60", 0, false},
		{"offset without colon", "2026-01-12T09:00:00+0100", 0, false},
		{"offset hours only", "2026-01-12T09:00:00+01", 0, false},
		{"hour 24", "2026-01-12T24:00:00Z", 0, false},
		{"minute 60", "2026-01-12T09:60:00Z", 0, false},
		{"second 61", "2026-01-12T09:00:61Z", 0, false},
		{"empty fraction", "2026-01-12T12:00:00.Z", 0, false},
		{"comma fraction", "2026-01-12T12:00:00,5Z", 0, false},
		{"February 30", "2026-02-30T00:00:00Z", 0, false},
		{"February 29 of a common year", "2025-02-29T00:00:00Z", 0, false},
		{"February 29 of 1900", "1900-02-29T00:00:00Z", 0, false},
		{"April 31", "2026-04-31T00:00:00Z", 0, false},
		{"month 13", "2026-13-01T00:00:00Z", 0, false},
		{"month 0", "2026-00-01T00:00:00Z", 0, false},
		{"day 0", "2026-01-00T00:00:00Z", 0, false},
		{"year 0", "0000-01-01T00:00:00Z", 0, false},
		{"five-digit year", "12026-01-01T00:00:00Z", 0, false},
		{"no offset", "2026-01-12T09:00:00", 0, false},
		{"date only", "2026-01-12", 0, false},
		{"no seconds", "2026-01-12T09:00Z", 0, false},
		{"two spaces", "2026-01-12  09:00:00Z", 0, false},
		{"other separator", "2026-01-12_09:00:00Z", 0, false},
		{"trailing space", "2026-01-12T09:00:00Z ", 0, false},
		{"leading space", " 2026-01-12T09:00:00Z", 0, false},
		{"one-digit hour", "2026-01-12T9:00:00Z", 0, false},
		{"signed digits", "2026-01-12T09:00:+1Z", 0, false},
		{"other format", "12/01/2026 15:00", 0, false},
		{"empty", "", 0, false},
		{"trailing Z twice", "2026-01-12T09:00:00ZZ", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseTimestamp(tt.in)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("ParseTimestamp(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want Decimal
		err  error
	}{
		// Given decimal text, When read, Then the value is exact (never through a float64).
		{"1", 1_000_000, nil},
		{"1e3", 1_000_000_000, nil},
		{"1E+3", 1_000_000_000, nil},
		{"-0", 0, nil},
		{"0.5000000", 500_000, nil},
		{"0.000001", 1, nil},
		{"0.00000100", 1, nil},
		{"10e-7", 1, nil},
		{"1000000e-12", 1, nil},
		{"0.1", 100_000, nil},
		{"0.3", 300_000, nil}, // 0.1 + 0.2 != 0.3 in binary; here it is just 0.3
		{"999999999999.999999", 999_999_999_999_999_999, nil},
		{"-999999999999.999999", -999_999_999_999_999_999, nil},
		{"0e999999999999999999999", 0, nil},
		{"000000000000000000000000000000001", 1_000_000, nil},
		{"1.000000000000000000000000000000", 1_000_000, nil},
		{" 7 ", 7_000_000, nil},
		{"+7", 7_000_000, nil},
		{".5", 500_000, nil},
		{"5.", 5_000_000, nil},
		{"-12.25", -12_250_000, nil},
		// Given a value that needs more than 6 places or is 10^12 or more, Then it is refused.
		{"0.0000001", 0, ErrTooPrecise},
		{"1e-7", 0, ErrTooPrecise},
		{"1.0000005", 0, ErrTooPrecise},
		{"1000000000000", 0, ErrOutOfBounds},
		{"1e12", 0, ErrOutOfBounds},
		{"-1e12", 0, ErrOutOfBounds},
		{"999999999999.9999999", 0, ErrTooPrecise}, // below 10^12, but 7 places
		{"1000000000000.5", 0, ErrOutOfBounds},
		{"1e999999999999999999999", 0, ErrOutOfBounds},
		{"1e-999999999999999999999", 0, ErrTooPrecise},
		// Given text that is not a decimal number, Then it is refused.
		{"", 0, ErrNotDecimal},
		{"abc", 0, ErrNotDecimal},
		{"1,5", 0, ErrNotDecimal},
		{"1_000", 0, ErrNotDecimal},
		{"0x10", 0, ErrNotDecimal},
		{"NaN", 0, ErrNotDecimal},
		{"Infinity", 0, ErrNotDecimal},
		{".", 0, ErrNotDecimal},
		{"1e", 0, ErrNotDecimal},
		{"--1", 0, ErrNotDecimal},
		{"1 2", 0, ErrNotDecimal},
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if !errors.Is(err, tt.err) || (err == nil && got != tt.want) {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestDecimalJSONGrammar(t *testing.T) {
	// Given JSON number tokens, When read strictly, Then RFC 8259's grammar applies: no '+',
	// no leading zeros, digits on both sides of a point.
	for _, s := range []string{"+1", "01", ".5", "5.", "1.e3", "-", "1e+", " 1"} {
		if _, e := parseDecimal([]byte(s), false); e != decSyntax {
			t.Errorf("JSON token %q: %v, want a syntax error", s, e)
		}
	}
	for _, s := range []string{"0", "-0", "0.5", "1e3", "1E-3", "-12.5e+1"} {
		if _, e := parseDecimal([]byte(s), false); e != decOK {
			t.Errorf("JSON token %q: %v, want ok", s, e)
		}
	}
}

func TestDecimalString(t *testing.T) {
	// Given a Decimal, When written, Then it is canonical: no exponent, no trailing zeros.
	for d, want := range map[Decimal]string{0: "0", 1_000_000: "1", 1_500_000: "1.5", 1: "0.000001",
		-1: "-0.000001", -12_250_000: "-12.25", 999_999_999_999_999_999: "999999999999.999999", 100_000_000: "100"} {
		if got := d.String(); got != want {
			t.Errorf("Decimal(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

func TestCanonicalNumber(t *testing.T) {
	// Given a JSON number token, When written canonically, Then it is its exact value in
	// plain form when the written exponent is at most 100 in magnitude, else as written.
	hundredZeros := "1"
	for range 100 {
		hundredZeros += "0"
	}
	tests := map[string]string{
		"0": "0", "-0": "0", "0.0": "0", "-0.0e5": "0", "0e-200": "0e-200",
		"1": "1", "1e3": "1000", "1E3": "1000", "1e+3": "1000", "1.50": "1.5", "150e-2": "1.5",
		"-1.50": "-1.5", "1e-3": "0.001", "123e-2": "1.23", "0.00100": "0.001", "12.3400e1": "123.4",
		"123456789012345678901234567890": "123456789012345678901234567890",
		"0.1234567890123456789":          "0.1234567890123456789",
		"1e100":                          hundredZeros, "1E+100": hundredZeros,
		"1e101": "1e101", "1e-101": "1e-101", "1e0100": hundredZeros, "1e-100": "0." + hundredZeros[2:] + "1",
	}
	for in, want := range tests {
		if got := string(appendCanonNumber(nil, []byte(in))); got != want {
			t.Errorf("canonical %s = %s, want %s", in, got, want)
		}
	}
}
