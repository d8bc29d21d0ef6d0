package schemas

import (
	"strings"
	"testing"
	"time"
)

// TestDayDuration: notify.runout_within reads days, hours and minutes and writes them back
// as the configuration does; anything else is refused.
func TestDayDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour,
		"1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "2d3h4m": 51*time.Hour + 4*time.Minute} {
		var d DayDuration
		if err := d.UnmarshalYAML(scalar(in)); err != nil || d.Duration != want {
			t.Errorf("%q: %v %v", in, d.Duration, err)
		}
	}
	for in, want := range map[string]string{"7d": "7d", "36h": "1d12h", "90m": "1h30m", "0d": "0d"} {
		var d DayDuration
		if err := d.UnmarshalYAML(scalar(in)); err != nil || d.String() != want {
			t.Errorf("%q written %q (%v), want %q", in, d.String(), err, want)
		}
	}
	for _, in := range []string{"", "7", "7 days", "1.5d", "-1d", "7s", "d", "12h7d"} {
		var d DayDuration
		if err := d.UnmarshalYAML(scalar(in)); err == nil {
			t.Errorf("%q accepted as %v", in, d.Duration)
		}
	}
}

// TestRunoutWithinValidated: a configured window of 0 or longer than a year is a problem
// named by its path; a valid one is kept.
func TestRunoutWithinValidated(t *testing.T) {
	edit := func(v string) string {
		return strings.Replace(validBase, "email: [billing@acme.example]}", "email: [billing@acme.example], runout_within: "+v+"}", 1)
	}
	if !strings.Contains(edit("7d"), "runout_within") {
		t.Fatal("the base configuration has no notify block to edit")
	}
	cfg, err := ParseConfig([]byte(edit("7d")), "c.yaml", "/cfg")
	if err != nil {
		t.Fatalf("7d: %v", err)
	}
	if got := cfg.Tenants[0].Notify.RunoutWithin; got.Duration != 7*24*time.Hour || got.String() != "7d" {
		t.Errorf("runout_within %v", got)
	}
	for _, v := range []string{"0d", "367d", "7x"} {
		_, err := ParseConfig([]byte(edit(v)), "c.yaml", "/cfg")
		if err == nil || !strings.Contains(err.Error(), "runout_within") {
			t.Errorf("%s: %v", v, err)
		}
	}
}
