package jobs_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditmeter/creditmeter/schemas"
)

// The rules of BILLING.md version 2, section 4 "Final is final", section 2 "a billed event
// stands" and section 9 (identity per tenant), each as a test that fails on version 1.

// janFinal sets up acme (plan 0, bill at 0.05) with two January chats in b.jsonl and runs on
// 2026-02-05: January final, invoiced (20 credits, 1.00), INV-2026-000001.
func janFinal(t *testing.T, extra ...string) *world {
	t.Helper()
	w := newWorld(t, "issuer: {name: First Issuer Ltd, address: 1 Old St, tax_id: T-1}\n"+
		config("", tenantYAML("acme", append([]string{"name", "Acme Learning", "credits_plan", "0"}, extra...)...)))
	w.put("b.jsonl", lines(ev("e1"), ev("e2", "occurred_at", "2026-01-11T10:00:00Z")))
	w.run("2026-02-05T00:00:00Z")
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{"status": "final", "exceeding_credits": "20"})
	if got := len(w.invoices()); got != 1 {
		t.Fatalf("invoices after January = %d, want 1", got)
	}
	return w
}

// finalFiles reads the outputs that are final once January is: the invoice documents and
// January's usage reports.
func finalFiles(t *testing.T, w *world) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range []string{"invoices/INV-2026-000001.xlsx", "invoices/INV-2026-000001.csv",
		"usage/acme/2026-01-01_ai_credits_usage.csv", "restricted/usage/acme/2026-01-01_ai_credits_usage.csv"} {
		out[k] = string(mustRead(t, filepath.Join(w.out, filepath.FromSlash(k))))
	}
	return out
}

func TestFinalIsFinal(t *testing.T) {
	cases := []struct {
		name   string
		change func(cfg string) string
		// then checks the February invoice, issued after the change.
		then func(t *testing.T, w *world)
	}{
		{
			// Given January invoiced for Acme Learning, When the tenant is renamed,
			// Then January's invoice is unchanged and February's names the new name.
			name:   "tenant renamed",
			change: func(c string) string { return strings.Replace(c, "name: Acme Learning", "name: Acme Renamed", 1) },
			then: func(t *testing.T, w *world) {
				csv := string(mustRead(t, filepath.Join(w.out, "invoices", "INV-2026-000002.csv")))
				if !strings.Contains(csv, "Acme Renamed") {
					t.Errorf("February invoice does not name the new name:\n%s", csv)
				}
			},
		},
		{
			// When the price changes from 0.05 to 0.07, Then January keeps 1.00 and February
			// is billed at 0.07.
			name: "price changed",
			change: func(c string) string {
				return strings.Replace(c, "price_per_credit: 0.05", "price_per_credit: 0.07", 1)
			},
			then: func(t *testing.T, w *world) {
				reg := w.invoices()
				check(t, "January amount", reg[0]["amount"], "1.00") // money with its two places (issue 12)
				check(t, "February price", reg[1]["price_per_credit"], "0.07")
				check(t, "February amount", reg[1]["amount"], "0.70")
			},
		},
		{
			// When the issuer changes, Then January's documents keep the first issuer and
			// February's show the new one.
			name: "issuer changed",
			change: func(c string) string {
				return strings.Replace(c, "issuer: {name: First Issuer Ltd, address: 1 Old St, tax_id: T-1}",
					"issuer: {name: Second Issuer Ltd, address: 2 New St, tax_id: T-2}", 1)
			},
			then: func(t *testing.T, w *world) {
				csv := string(mustRead(t, filepath.Join(w.out, "invoices", "INV-2026-000002.csv")))
				if !strings.Contains(csv, "Second Issuer Ltd") {
					t.Errorf("February invoice does not show the new issuer:\n%s", csv)
				}
			},
		},
		{
			// When the credits plan changes from 0 to 5, Then January keeps plan 0 and
			// February has plan 5 (changes apply from the first open period).
			name:   "plan changed",
			change: func(c string) string { return strings.Replace(c, "credits_plan: 0", "credits_plan: 5", 1) },
			then: func(t *testing.T, w *world) {
				check(t, "January plan", w.period("acme", "2026-01-01")["credits_plan"], "0")
				checkRow(t, "February", w.period("acme", "2026-02-01"), map[string]string{"credits_plan": "5", "plan_used": "5", "exceeding_credits": "5"})
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := janFinal(t)
			before := finalFiles(t, w)
			jan := w.period("acme", "2026-01-01")
			w.cfg = c.change(w.cfg)
			w.put("c.jsonl", lines(ev("e3", "occurred_at", "2026-02-10T10:00:00Z")))
			w.run("2026-03-05T00:00:00Z")
			if after := finalFiles(t, w); !maps.Equal(before, after) {
				for k := range before {
					if before[k] != after[k] {
						t.Errorf("%s changed after the configuration changed", k)
					}
				}
			}
			if got := w.period("acme", "2026-01-01"); !maps.Equal(got, jan) {
				t.Errorf("January row changed:\n got  %v\n want %v", got, jan)
			}
			check(t, "invoices", len(w.invoices()), 2)
			c.then(t, w)
		})
	}
}

func TestCalendarChangeRefused(t *testing.T) {
	cases := []struct {
		name, from, to, path, period string
	}{
		{"timezone", "timezone: UTC", "timezone: Europe/Rome", "tenants[0].timezone", "2026-02-01"},
		{"period", "period: monthly", "period: quarterly", "tenants[0].period", "2026-02-01"},
		{"anchor_day", "anchor_day: 1", "anchor_day: 15", "tenants[0].anchor_day", "2026-02-01"},
		{"service_start", "service_start: 2026-01-01", "service_start: 2025-12-01", "tenants[0].service_start", "2026-02-01"},
		{"service_end before the last final period", "service_end: 2026-12-31", "service_end: 2026-01-15", "tenants[0].service_end", "2026-02-01"},
		{"tenant removed", "  - id: acme", "  - id: other", "tenants", "2026-02-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Given January and February final, January invoiced,
			w := janFinal(t)
			w.run("2026-03-05T00:00:00Z")
			before := w.snapshot()
			// When the configuration would move or remove January,
			w.cfg = strings.Replace(w.cfg, c.from, c.to, 1)
			w.put("c.jsonl", lines(ev("e3", "occurred_at", "2026-03-10T10:00:00Z")))
			_, err := w.tryRun("2026-03-15T00:00:00Z")
			// Then the run is refused as a configuration error naming the tenant, the last
			// final period and the field, and nothing is read or written.
			var ce *schemas.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("run error = %v, want a configuration error", err)
			}
			msg := ce.Error()
			for _, want := range []string{"acme", c.period, c.path} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not name %q:\n%s", want, msg)
				}
			}
			if after := w.snapshot(); !maps.Equal(before, after) {
				t.Errorf("outputs changed although the configuration was refused")
			}
			// And with the configuration put back, the next run reads the new object.
			w.cfg = strings.Replace(w.cfg, c.to, c.from, 1)
			w.run("2026-03-15T00:00:00Z")
			check(t, "e3 billed in March", w.event("e3").Period, "2026-03-01")
		})
	}
	t.Run("service_end later is allowed", func(t *testing.T) {
		w := janFinal(t)
		w.cfg = strings.Replace(w.cfg, "service_end: 2026-12-31", "service_end: 2027-06-30", 1)
		w.run("2026-03-05T00:00:00Z")
		check(t, "January still final", w.period("acme", "2026-01-01")["status"], "final")
	})
}

func TestBilledEventStands(t *testing.T) {
	// Given January final with e1 and e2 billed from b.jsonl,
	w := janFinal(t)
	before := finalFiles(t, w)
	rated := w.rated()
	// When a.jsonl (a key that sorts first) brings e1 again with other content, and e2
	// exactly as billed,
	w.put("a.jsonl", lines(ev("e1", "user_id", "u-9"), ev("e2", "occurred_at", "2026-01-11T10:00:00Z")))
	m := w.run("2026-02-10T00:00:00Z")
	// Then the billed events stand: a.jsonl's e1 is a conflicting duplicate and its e2 an
	// exact duplicate; January's ledger, reports and invoice do not change.
	check(t, "a.jsonl:1", w.reason("a.jsonl", 1), "conflicting_duplicate")
	check(t, "a.jsonl:2", w.reason("a.jsonl", 2), "")
	check(t, "duplicates", m.Counts.Duplicates, int64(1))
	check(t, "e1 user", w.event("e1").Rated, rated["e1"].Rated)
	if after := finalFiles(t, w); !maps.Equal(before, after) {
		t.Errorf("final documents changed")
	}
	check(t, "January events", w.period("acme", "2026-01-01")["events"], "2")
}

func TestChangedETagKeepsBilledEvents(t *testing.T) {
	// Given January final with e1 and e2 billed from b.jsonl,
	w := janFinal(t)
	before := finalFiles(t, w)
	jan := w.period("acme", "2026-01-01")
	// When b.jsonl is rewritten without e1, with e2 changed and a new February event e4,
	w.put("b.jsonl", lines(ev("e2", "occurred_at", "2026-01-11T10:00:00Z", "user_id", "u-7"),
		ev("e4", "occurred_at", "2026-02-03T10:00:00Z")))
	m := w.run("2026-02-10T00:00:00Z")
	// Then e1 and e2 stay billed in January as they were (a billed event stands), the new
	// version's e2 is a conflicting duplicate, e4 is billed in February, and nothing final
	// changes.
	check(t, "objects ingested", m.Objects.Ingested, 1)
	for _, id := range []string{"e1", "e2"} {
		check(t, id+" period", w.event(id).Period, "2026-01-01")
	}
	check(t, "e4 period", w.event("e4").Period, "2026-02-01")
	check(t, "b.jsonl:1 (new e2)", w.reason("b.jsonl", 1), "conflicting_duplicate")
	if got := w.period("acme", "2026-01-01"); !maps.Equal(got, jan) {
		t.Errorf("January row changed:\n got  %v\n want %v", got, jan)
	}
	if after := finalFiles(t, w); !maps.Equal(before, after) {
		t.Errorf("final documents changed")
	}
	// And the reconciliation holds: 2 billed + 1 new line read of this version, 2 kept.
	if !m.Reconciliation.OK {
		t.Errorf("reconciliation: %v", m.Reconciliation.Problems)
	}
}

func TestIdentityIsPerTenant(t *testing.T) {
	// Given tenants acme and beta, and one object where both use event id "same",
	w := newWorld(t, config("", tenantYAML("acme"), tenantYAML("beta")))
	w.put("a.jsonl", lines(ev("same", "domain_name", "acme.example"),
		ev("same", "tenant_id", "beta", "domain_name", "beta.example", "event_type", "video", "event_value", 60, "user_id", "b-1")))
	m := w.run("2026-02-10T00:00:00Z")
	// Then both are billed, neither is a duplicate of the other, and each tenant's report
	// shows only its own event.
	check(t, "accepted", m.Counts.Accepted, int64(2))
	check(t, "quarantined", m.Counts.Quarantined, int64(0))
	acme := string(mustRead(t, filepath.Join(w.out, "usage", "acme", "2026-01-01_ai_credits_usage.csv")))
	beta := string(mustRead(t, filepath.Join(w.out, "usage", "beta", "2026-01-01_ai_credits_usage.csv")))
	if strings.Contains(acme, "beta") || !strings.Contains(acme, "acme.example") {
		t.Errorf("acme's report:\n%s", acme)
	}
	if strings.Contains(beta, "acme") || !strings.Contains(beta, "beta.example") {
		t.Errorf("beta's report:\n%s", beta)
	}
	// When a later object under an earlier key brings beta's "same" with other content,
	w.put("0.jsonl", lines(ev("same", "tenant_id", "beta", "domain_name", "evil.example")))
	w.run("2026-02-11T00:00:00Z")
	// Then acme's final report does not change and shows nothing of beta's.
	if got := string(mustRead(t, filepath.Join(w.out, "usage", "acme", "2026-01-01_ai_credits_usage.csv"))); got != acme {
		t.Errorf("acme's final report changed:\n%s", got)
	}
}

func TestLateEventSeesDepositsUpToItsBillingPeriod(t *testing.T) {
	// Given acme with plan 0, and a deposit of 50 dated 2026-02-01 (after the January event
	// below, before February, the period that bills it late),
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "0",
		"bank", "[{id: d1, credits: 50, at: 2026-02-01T00:00:00Z}, {id: d2, credits: 10, at: 2026-02-15T00:00:00Z}]")))
	w.run("2026-02-05T00:00:00Z") // January final, empty
	// When a January chat (10 credits) arrives late,
	w.put("late.jsonl", lines(ev("l1", "occurred_at", "2026-01-20T10:00:00Z"),
		ev("l2", "occurred_at", "2026-01-21T10:00:00Z", "event_type", "video_exact", "event_value", 12)))
	w.run("2026-02-10T00:00:00Z")
	// Then the deposit dated at February's start funds it (BILLING.md v2, section 3), and
	// the deposit dated inside February does not fund the late video (42 credits: 40 from the
	// bank, 2 exceeding).
	l1 := w.event("l1")
	check(t, "l1 late", l1.Late, true)
	checkSplit(t, l1, "10/0/0/10/0/0")
	checkSplit(t, w.event("l2"), "42/0/0/40/2/0")
}

func TestNoOpenPeriodIsQuarantined(t *testing.T) {
	// Given acme whose service ends in January, and a run that finalizes January,
	w := newWorld(t, config("", tenantYAML("acme", "service_end", "2026-01-31")))
	w.run("2026-02-10T00:00:00Z")
	// When a January event arrives late,
	w.put("late.jsonl", lines(ev("n1", "occurred_at", "2026-01-20T10:00:00Z")))
	m := w.run("2026-02-11T00:00:00Z")
	// Then it is quarantined as no_open_period, counted, and listed in the run's quarantine
	// file; when service_end moves later, it is billed in the new open period.
	check(t, "reason", w.reason("late.jsonl", 1), "no_open_period")
	check(t, "quarantined", m.Counts.Quarantined, int64(1))
	w.cfg = strings.Replace(w.cfg, "service_end: 2026-01-31", "service_end: 2026-03-31", 1)
	w.run("2026-02-12T00:00:00Z")
	check(t, "n1 billed in February", w.event("n1").Period, "2026-02-01")
}

func TestNoOpRunWritesNothing(t *testing.T) {
	// Given a run that reads, finalizes and invoices,
	w := janFinal(t)
	before := map[string]os.FileInfo{}
	_ = filepath.Walk(w.out, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.Contains(p, string(filepath.Separator)+"runs"+string(filepath.Separator)) {
			before[p] = fi
		}
		return nil
	})
	// When a later run finds nothing new and no period to finalize,
	m := w.run("2026-02-05T06:00:00Z")
	// Then it recomputes no tenant and writes no output but its manifest.
	check(t, "tenants recomputed", m.Recomputed, 0)
	check(t, "outputs written", len(m.Outputs), 0)
	for p, fi := range before {
		now, err := os.Stat(p)
		if err != nil || !now.ModTime().Equal(fi.ModTime()) {
			t.Errorf("%s was rewritten", p)
		}
	}
}
