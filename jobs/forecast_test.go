package jobs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runoutNotices reads the published outbox's run-out notifications (kind runout).
func (w *world) runoutNotices() []map[string]any {
	w.t.Helper()
	var out []map[string]any
	for _, e := range readJSONL(w.t, filepath.Join(w.out, "notifications", "outbox.jsonl")) {
		if e["kind"] == "runout" {
			out = append(out, e)
		}
	}
	return out
}

// TestForecastPublished (issue 11): Given 10 credits a day on 1, 2 and 3 January (plan 100,
// no bank) and notify.runout_within 7d, when a run reads them, then usage/acme/forecast.csv
// projects January (burn 10 a day, 310 at the end, plan and credits gone on 10 January)
// and one run-out notification is recorded; a later day's usage does not record another,
// and a run at a later instant with nothing new rewrites nothing (the forecast is as of the
// latest usage, not the clock).
func TestForecastPublished(t *testing.T) {
	w := newWorld(t, config("", tenantYAML("acme", "notify", "{runout_within: 7d, email: [ops@acme.example]}")))
	w.put("a.jsonl", lines(
		ev("d1", "occurred_at", "2026-01-01T09:00:00Z"),
		ev("d2", "occurred_at", "2026-01-02T09:00:00Z"),
		ev("d3", "occurred_at", "2026-01-03T10:00:00Z")))
	w.run("2026-01-03T12:00:00Z")
	rows := w.csvRows("usage/acme/forecast.csv")
	if len(rows) != 1 {
		t.Fatalf("forecast rows %v", rows)
	}
	checkRow(t, "January's forecast", rows[0], map[string]string{
		"period_start": "2026-01-01", "period_end": "2026-02-01", "as_of": "2026-01-03T10:00:00Z",
		"days_in_period": "31", "days_elapsed": "3", "credits_plan": "100", "credits_available": "100",
		"credits_used": "30", "daily_burn": "10", "projected_credits": "310",
		"plan_runs_out": "2026-01-10", "plan_ran_out": "false",
		"credits_run_out": "2026-01-10", "credits_ran_out": "false"})
	if !strings.HasPrefix(rows[0]["method"], "daily burn") {
		t.Errorf("method %q", rows[0]["method"])
	}
	n := w.runoutNotices()
	if len(n) != 1 {
		t.Fatalf("run-out notifications %v", n)
	}
	check(t, "runs out on", n[0]["runs_out_on"], "2026-01-10")
	check(t, "window", n[0]["runout_within"], "7d")
	check(t, "threshold", n[0]["threshold"], float64(0))

	// a later run at another instant, nothing new: nothing rewritten
	info := func() os.FileInfo {
		fi, err := os.Stat(filepath.Join(w.out, "usage", "acme", "forecast.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	before := info()
	m := w.run("2026-01-05T18:00:00Z")
	check(t, "outputs written by a no-op run", len(m.Outputs), 0)
	if !info().ModTime().Equal(before.ModTime()) {
		t.Error("forecast.csv rewritten by a run with nothing new")
	}

	// another day of usage: the forecast moves, the notification stays one
	w.put("b.jsonl", lines(ev("d6", "occurred_at", "2026-01-06T10:00:00Z", "event_type", "chat")))
	w.run("2026-01-06T12:00:00Z")
	rows = w.csvRows("usage/acme/forecast.csv")
	checkRow(t, "January's forecast after the 6th", rows[0], map[string]string{
		"as_of": "2026-01-06T10:00:00Z", "days_elapsed": "6", "credits_used": "40",
		"daily_burn": "6.6667", "projected_credits": "206.6667", "plan_runs_out": "2026-01-15"})
	if n := w.runoutNotices(); len(n) != 1 {
		t.Errorf("run-out notifications after a second forecast: %v", n)
	}

	// February: January has ended and is final; the open period has no usage yet
	w.run("2026-02-10T00:00:00Z")
	rows = w.csvRows("usage/acme/forecast.csv")
	if len(rows) != 1 {
		t.Fatalf("forecast rows in February %v", rows)
	}
	checkRow(t, "February's forecast", rows[0], map[string]string{
		"period_start": "2026-02-01", "as_of": "", "days_elapsed": "0", "credits_used": "0",
		"daily_burn": "0", "projected_credits": "0", "plan_runs_out": "", "credits_run_out": ""})
}
