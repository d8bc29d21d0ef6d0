package schemas

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// maxCredits bounds every credit amount so that fixed-point sums at 4 places fit in int64
// with room for a contract's lifetime of usage.
var maxCredits = decimal.New(1, 12)

// maxThreshold bounds a notification threshold (a ratio: 1 is 100%).
var maxThreshold = decimal.New(1, 6)

// storeLocationProblem says what is wrong with a source or output location, "" when
// nothing is: a local directory, or s3://bucket/prefix with a bucket.
func storeLocationProblem(loc string) string {
	switch {
	case strings.ContainsRune(loc, 0):
		return "contains a NUL byte"
	case strings.HasPrefix(loc, "s3://"):
		bucket, _, _ := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
		if bucket == "" {
			return fmt.Sprintf("%q names no bucket (s3://bucket/prefix)", loc)
		}
	case strings.Contains(loc, "://"):
		return fmt.Sprintf("%q: unsupported scheme (a directory or s3://bucket/prefix)", loc)
	}
	return ""
}

// validate checks what the JSON Schema cannot: references, time zones, orderings and
// uniqueness. Every problem is returned, not just the first.
func (c *Config) validate() []Problem {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	credits := func(path string, d decimal.Decimal) {
		if d.IsNegative() {
			add(path, "must not be negative")
		}
		if d.Exponent() < -4 && !d.Equal(d.Round(4)) {
			add(path, "has more than 4 decimal places")
		}
		if d.GreaterThan(maxCredits) {
			add(path, "is larger than %s", maxCredits)
		}
	}
	if c.GracePeriod.Duration < 0 {
		add("grace_period", "must not be negative")
	}
	places := func(path string, d decimal.Decimal, n int32) {
		if d.Exponent() < -n && !d.Equal(d.Round(n)) {
			add(path, "has more than %d decimal places", n)
		}
	}

	// Locations: every command opens them, so a scheme no store serves is a configuration
	// problem (exit 2), not a failed run.
	for _, f := range []struct{ path, value string }{{"source", c.Source}, {"output", c.Output}} {
		if reason := storeLocationProblem(f.value); reason != "" {
			add(f.path, "%s", reason)
		}
	}
	for _, f := range []struct{ path, value string }{{"warehouse", c.Warehouse}, {"analytics.local_copy", c.Analytics.LocalCopy}} {
		if strings.Contains(f.value, "://") {
			add(f.path, "must be a local file, not %q", f.value)
		} else if strings.ContainsRune(f.value, 0) {
			add(f.path, "contains a NUL byte")
		}
	}

	// The analysts' copy replaces its file after every run: on the warehouse itself it would
	// replace the billing state (final periods, issued invoices) with a snapshot.
	if lc, wh := c.Analytics.LocalCopy, c.Warehouse; lc != "" && wh != "" &&
		filepath.Clean(c.Resolve(lc)) == filepath.Clean(c.Resolve(wh)) {
		add("analytics.local_copy", "is the warehouse file itself")
	}

	// Schedules are `serve`'s, but every command refuses a configuration whose schedule
	// `serve` would refuse. Specs without CRON_TZ= are read in the daemon's zone; whether
	// they parse does not depend on it.
	for i, spec := range c.Schedule {
		if _, err := ParseSchedule(spec, time.UTC); err != nil {
			add(fmt.Sprintf("schedule[%d]", i), "%q: %v", spec, err)
		}
	}

	if d := c.LockTTL.Duration; d < MinLockTTL || d > MaxLockTTL {
		add("lock_ttl", "must be between %v and %v", MinLockTTL, MaxLockTTL)
	}
	for _, f := range []struct {
		path     string
		v, limit ByteSize
	}{{"limits.max_object_bytes", c.Limits.MaxObjectBytes, MaxObjectBytesLimit}, {"limits.max_line_bytes", c.Limits.MaxLineBytes, MaxLineBytesLimit}} {
		if f.v <= 0 {
			add(f.path, "must be greater than 0")
		} else if f.v > f.limit {
			add(f.path, "must be at most %d bytes", f.limit)
		}
	}
	if c.Limits.MaxAttributes <= 0 {
		add("limits.max_attributes", "must be greater than 0")
	}
	if c.Limits.MaxObjectsPerRun <= 0 {
		add("limits.max_objects_per_run", "must be greater than 0")
	}

	cards := map[string]bool{}
	versions := map[string]bool{}
	for i, rc := range c.RateCards {
		p := fmt.Sprintf("rate_cards[%d]", i)
		cards[rc.ID] = true
		key := rc.ID + "@" + rc.EffectiveFrom.UTC().Format(time.RFC3339Nano)
		if versions[key] {
			add(p+".effective_from", "rate card %q already has a version effective %s", rc.ID, rc.EffectiveFrom.Format(time.RFC3339))
		}
		versions[key] = true
		types := map[string]bool{}
		for j, r := range rc.Rules {
			rp := fmt.Sprintf("%s.rules[%d]", p, j)
			if types[r.EventType] {
				add(rp+".event_type", "event type %q appears twice in this version", r.EventType)
			}
			types[r.EventType] = true
			credits(rp+".credits", r.Credits)
			// the warehouse keeps these at 6 and 10 places (DECIMAL(18,6), DECIMAL(18,10)):
			// finer values were rounded without a word, changing what a rule charges
			places(rp+".min_ratio", r.MinRatio, 6)
			places(rp+".per", r.Per, 6)
			places(rp+".input_per_1k", r.InputPer1k, 10)
			places(rp+".output_per_1k", r.OutputPer1k, 10)
			if r.Kind == KindPerUnit && !r.Per.IsPositive() {
				add(rp+".per", "must be greater than 0")
			}
			if r.Kind != KindPerUnit && r.Allowance != "" {
				add(rp+".allowance", "only per_unit rules draw on an allowance")
			}
		}
	}

	ids := map[string]bool{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		if ids[t.ID] {
			add(p+".id", "tenant %q is listed twice", t.ID)
		}
		ids[t.ID] = true
		if !cards[t.RateCard] {
			add(p+".rate_card", "no rate card with id %q", t.RateCard)
		}
		loc, err := time.LoadLocation(t.Timezone)
		if err != nil || t.Timezone == "" || t.Timezone == "Local" {
			add(p+".timezone", "unknown IANA time zone %q", t.Timezone)
		} else {
			t.Location = loc
		}
		if t.AnchorDay == 0 {
			t.AnchorDay = 1
		}
		if t.ServiceEnd.In(time.UTC).Before(t.ServiceStart.In(time.UTC)) {
			add(p+".service_end", "is before service_start %s", t.ServiceStart)
		}
		credits(p+".credits_plan", t.CreditsPlan)
		if t.Overage.Policy == PolicyBill {
			credits(p+".overage.price_per_credit", t.Overage.PricePerCredit)
		}
		deposits := map[string]bool{}
		for j, d := range t.Bank {
			dp := fmt.Sprintf("%s.bank[%d]", p, j)
			if deposits[d.ID] {
				add(dp+".id", "deposit %q is listed twice", d.ID)
			}
			deposits[d.ID] = true
			credits(dp+".credits", d.Credits)
		}
		for j, a := range t.Allowances {
			credits(fmt.Sprintf("%s.allowances[%d].units", p, j), a.Units)
		}
		members := map[string]bool{}
		for j, m := range t.Members {
			mp := fmt.Sprintf("%s.members[%d]", p, j)
			if members[m.UserID] {
				add(mp+".user_id", "member %q is listed twice", m.UserID)
			}
			members[m.UserID] = true
			credits(mp+".cap", m.Cap)
		}
		if tx := t.Tax; tx != nil && tx.ReverseCharge != "" && (tx.Label != "" || !tx.Rate.IsZero()) {
			add(p+".tax", "either label and rate, or reverse_charge (no tax charged), not both")
		} else if tx != nil {
			// invoices keep the rate at 6 places (DECIMAL(9,6)): a finer one would be rounded
			places(p+".tax.rate", tx.Rate, 6)
			if tx.Rate.IsNegative() || tx.Rate.GreaterThan(decimal.NewFromInt(1)) {
				add(p+".tax.rate", "must be between 0 and 1 (0.10 is 10%%)")
			}
		}
		for j, th := range t.Notify.Thresholds {
			tp := fmt.Sprintf("%s.notify.thresholds[%d]", p, j)
			switch {
			case !th.IsPositive():
				add(tp, "must be greater than 0")
			case th.GreaterThan(maxThreshold):
				add(tp, "must be at most %s", maxThreshold)
			default:
				// notifications are keyed by the threshold at 6 places: a finer one was
				// rounded, to 0 for 0.0000001, and then silently never notified
				places(tp, th, 6)
			}
		}
		if w := t.Notify.RunoutWithin.Duration; w < 0 || (w == 0 && t.Notify.RunoutWithin.set) {
			add(p+".notify.runout_within", "must be greater than 0")
		} else if w > MaxRunoutWithin {
			add(p+".notify.runout_within", "must be at most 366d (no period is longer than a year)")
		}
	}
	return probs
}
