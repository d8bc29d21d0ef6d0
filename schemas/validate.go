package schemas

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// maxCredits bounds every credit amount so that fixed-point sums at 4 places fit in int64
// with room for a contract's lifetime of usage.
var maxCredits = decimal.New(1, 12)

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
		for j, th := range t.Notify.Thresholds {
			if !th.IsPositive() {
				add(fmt.Sprintf("%s.notify.thresholds[%d]", p, j), "must be greater than 0")
			}
		}
	}
	return probs
}
