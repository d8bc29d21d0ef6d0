package schemas

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// scheduleParser reads standard five-field cron specs (no seconds) and descriptors.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses one cron spec of the configuration's `schedule:`: five fields
// (minute hour day-of-month month day-of-week) or a descriptor (@daily, @every 6h), each
// optionally prefixed by CRON_TZ=Zone (or TZ=Zone) naming a zone that loads; a spec without
// a zone is read in loc (nil: UTC). A spec that never fires (30 February) is refused.
// Specs that fire at a fixed minute and hour keep classic cron's behaviour across clock
// changes (see wallClock).
func ParseSchedule(spec string, loc *time.Location) (cron.Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		// robfig/cron slices up to the first space and panics when there is none
		zone, rest, ok := strings.Cut(s, " ")
		if !ok || strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("%s is followed by no schedule", zone)
		}
	} else {
		s = "CRON_TZ=" + loc.String() + " " + s
	}
	sc, err := scheduleParser.Parse(s)
	if err != nil {
		return nil, err
	}
	switch v := sc.(type) {
	case cron.ConstantDelaySchedule:
		// robfig/cron turns "@every -1h" and "@every 0s" into every second
		_, every, _ := strings.Cut(s, "@every ")
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err != nil || d <= 0 {
			return nil, errors.New("the interval of @every must be positive")
		}
	case *cron.SpecSchedule:
		sc = wallClock{v}
	}
	// robfig/cron gives up after five years: a schedule that has no instant by then has none
	if sc.Next(time.Now()).IsZero() {
		return nil, errors.New("the schedule never fires")
	}
	return sc, nil
}

// ParseSchedules parses every spec (see ParseSchedule); the error names each bad one as
// schedule[i]. No specs at all is an error too.
func ParseSchedules(specs []string, loc *time.Location) ([]cron.Schedule, error) {
	var out []cron.Schedule
	var errs []error
	for i, s := range specs {
		sc, err := ParseSchedule(s, loc)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule[%d] %q: %w", i, s, err))
			continue
		}
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("schedule: no cron schedule configured")
	}
	return out, nil
}

// wallClock gives a cron schedule the usual cron semantics across clock changes: a time
// that a spring-forward change skips fires at the change (robfig/cron skips it), and a
// time that a fall-back change repeats fires once, at its first occurrence (robfig/cron
// fires it twice). As in Vixie cron, schedules with * in the minute or hour field (hourly
// and finer) are left alone: they simply run on the clock as it is.
type wallClock struct{ spec *cron.SpecSchedule }

const cronStar = 1 << 63 // robfig/cron's bit for a * field

// Next is the schedule's next instant after t on the wall clock.
func (w wallClock) Next(t time.Time) time.Time {
	if w.spec.Minute&cronStar != 0 || w.spec.Hour&cronStar != 0 {
		return w.spec.Next(t)
	}
	loc := w.spec.Location
	for range 1000 {
		n := w.spec.Next(t)
		if n.IsZero() {
			return n
		}
		// A wall time skipped by a forward change between t and n fires at the change.
		for cur := t.In(loc); ; {
			_, end := cur.ZoneBounds()
			if end.IsZero() || !end.Before(n) {
				break
			}
			_, before := end.Add(-time.Nanosecond).Zone()
			_, after := end.Zone()
			if gap := time.Duration(after-before) * time.Second; gap > 0 && end.After(t) {
				fixed := *w.spec
				fixed.Location = time.FixedZone("before", before)
				if f := fixed.Next(end.Add(-time.Nanosecond)); !f.IsZero() && f.Before(end.Add(gap)) {
					return end.In(t.Location())
				}
			}
			cur = end
		}
		// A wall time repeated by a backward change fired at its first occurrence.
		nl := n.In(loc)
		start, _ := nl.ZoneBounds()
		if !start.IsZero() {
			_, now := nl.Zone()
			_, before := start.Add(-time.Nanosecond).Zone()
			if back := time.Duration(before-now) * time.Second; back > 0 && nl.Sub(start) < back {
				t = n
				continue
			}
		}
		return n
	}
	return time.Time{}
}
