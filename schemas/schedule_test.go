package schemas

import (
	"testing"
	"time"
)

// FuzzParseSchedule: no spec makes the parser panic (robfig/cron slices "CRON_TZ=UTC" out of
// range), and a spec that parses fires after any instant within five years.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"CRON_TZ=UTC 0 2,8,14,20 * * *", "TZ=Europe/Rome 30 2 * * *", "@daily", "@every 6h",
		"CRON_TZ=UTC", "TZ=", "CRON_TZ=UTC\t0 2 * * *", "0-59/0 * * * *", "*/5 1-3 L * *", "@every -1s", "0 0 29 2 *"} {
		f.Add(s)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		sc, err := ParseSchedule(spec, time.UTC)
		if err != nil {
			return
		}
		if n := sc.Next(from); !n.After(from) {
			t.Errorf("%q parses but next after %v is %v", spec, from, n)
		}
	})
}
