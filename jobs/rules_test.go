package jobs_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Rules tests: one test per rule or "precise reading" of BILLING.md, each run end to end
// through jobs.Runner in a temporary directory and checked on the published outputs
// (ledger/period_usage.csv, ledger/rated_events.parquet, invoices/register.csv and
// quarantine/{run_id}.jsonl). Helpers are in helpers_test.go.

func attrs(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// TestRatingRules: BILLING.md section 1 and section 9 (preview, exact and per_token rounding).
func TestRatingRules(t *testing.T) {
	// Given tenant acme on rate card "full" with a plan large enough to fund everything and
	// no allowance pool, and one raw object holding every event of the table below,
	// When a run happens,
	// Then each event's rated credits and reason in rated_events.parquet are as listed.
	cases := []struct {
		name   string
		line   string
		rated  string
		reason string
	}{
		// Given chat (per_event 10), then 10.
		{"per_event", ev("r01"), "10", ""},
		// Given voice 181 s of 600 s (30.17% > 30%), then 55.
		{"ratio above min", ev("r02", "event_type", "voice", "event_value", 181, "attributes", attrs("configured_seconds", 600)), "55", ""},
		// Given voice 180 s of 600 s (exactly 30%), then 0, below_threshold: strictly greater.
		{"ratio exactly at min", ev("r03", "event_type", "voice", "event_value", 180, "attributes", attrs("configured_seconds", 600)), "0", "below_threshold"},
		// Given voice 180.0001 s of 600 s, then 55: just above the threshold counts.
		{"ratio a hair above min", ev("r04", "event_type", "voice", "event_value", raw("180.0001"), "attributes", attrs("configured_seconds", 600)), "55", ""},
		// Given voice 179 s of 600 s, then 0, below_threshold.
		{"ratio below min", ev("r05", "event_type", "voice", "event_value", 179, "attributes", attrs("configured_seconds", 600)), "0", "below_threshold"},
		// Given voice 180.15 s of 600.5 s (exactly 0.30 in decimals), then 0: no float error.
		{"ratio exactly at min in decimals", ev("r06", "event_type", "voice", "event_value", raw("180.15"), "attributes", attrs("configured_seconds", raw("600.5"))), "0", "below_threshold"},
		// Given video 60 s (per 60, 210, ceil), then 1 block = 210.
		{"per_unit ceil whole block", ev("r07", "event_type", "video", "event_value", 60, "event_unit", "second"), "210", ""},
		// Given video 61 s, then ceil(61/60) = 2 blocks = 420.
		{"per_unit ceil one second over", ev("r08", "event_type", "video", "event_value", 61, "event_unit", "second"), "420", ""},
		// Given video 0.5 s, then 1 block = 210.
		{"per_unit ceil fraction", ev("r09", "event_type", "video", "event_value", raw("0.5"), "event_unit", "second"), "210", ""},
		// Given video 0 s, then 0 blocks = 0, no reason.
		{"per_unit zero", ev("r10", "event_type", "video", "event_value", 0, "event_unit", "second"), "0", ""},
		// Given video_exact 90 s (per 60, 210, exact), then 1.5 blocks = 315.
		{"per_unit exact", ev("r11", "event_type", "video_exact", "event_value", 90), "315", ""},
		// Given video_exact 100 s, then 100/60 = 1.6667 (4 places) blocks = 350.007.
		{"per_unit exact 4 places", ev("r12", "event_type", "video_exact", "event_value", 100), "350.007", ""},
		// Given tick 0.0001 (per 2, 1 credit, exact): 0.00005 blocks, then half-up 0.0001.
		{"per_unit exact half-up", ev("r13", "event_type", "tick", "event_value", raw("0.0001")), "0.0001", ""},
		// Given tick 0.00009: 0.000045 blocks, then 0.
		{"per_unit exact rounds down below half", ev("r14", "event_type", "tick", "event_value", raw("0.00009")), "0", ""},
		// Given assistant 1000 in, 1000 out (0.01 and 0.03 per 1k), then 0.04.
		{"per_token", ev("r15", "event_type", "assistant", "attributes", attrs("input_tokens", 1000, "output_tokens", 1000)), "0.04", ""},
		// Given assistant 25 in, 0 out: 0.00025, then half-up 0.0003 (banker's would give 0.0002).
		{"per_token half-up", ev("r16", "event_type", "assistant", "attributes", attrs("input_tokens", 25, "output_tokens", 0)), "0.0003", ""},
		// Given assistant 24 in: 0.00024, then 0.0002.
		{"per_token below half", ev("r17", "event_type", "assistant", "attributes", attrs("input_tokens", 24, "output_tokens", 0)), "0.0002", ""},
		// Given 5 in, 5 out: 0.00005 + 0.00015 = 0.0002 exactly, then 0.0002 (the sum is
		// rounded once, not each part).
		{"per_token rounds the sum", ev("r18", "event_type", "assistant", "attributes", attrs("input_tokens", 5, "output_tokens", 5)), "0.0002", ""},
		// Given 1234567 in, 7654321 out, then 12.34567 + 229.62963 = 241.9753.
		{"per_token large counts", ev("r19", "event_type", "assistant", "attributes", attrs("input_tokens", 1234567, "output_tokens", 7654321)), "241.9753", ""},
		// Given search (free), then 0, free_feature.
		{"free", ev("r20", "event_type", "search"), "0", "free_feature"},
		// Given a chat preview, then 0, preview.
		{"preview per_event", ev("r21", "preview", true), "0", "preview"},
		// Given a voice preview without attributes, then accepted at 0, preview.
		{"preview needs no ratio attribute", ev("r22", "event_type", "voice", "event_value", 500, "preview", true), "0", "preview"},
		// Given an assistant preview without token counts, then accepted at 0, preview.
		{"preview needs no tokens", ev("r23", "event_type", "assistant", "preview", true), "0", "preview"},
		// Given a video preview of 600 s, then 0, preview.
		{"preview per_unit", ev("r24", "event_type", "video", "event_value", 600, "preview", true), "0", "preview"},
		// Given a preview of a free feature, then 0 with reason preview (whatever the rule).
		{"preview of a free feature", ev("r25", "event_type", "search", "preview", true), "0", "preview"},
		// Given preview: false written out, then rated normally.
		{"preview false", ev("r26", "preview", false), "10", ""},
	}
	var ls []string
	for _, c := range cases {
		ls = append(ls, c.line)
	}
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "1000000")))
	w.put("events.jsonl", lines(ls...))
	m := w.run(defaultNow)
	check(t, "quarantined", m.Counts.Quarantined, int64(0))
	got := w.rated()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var id struct {
				EventID string `json:"event_id"`
			}
			_ = json.Unmarshal([]byte(c.line), &id)
			r, ok := got[id.EventID]
			if !ok {
				t.Fatalf("event %s not rated; quarantine: %v", id.EventID, w.quarantine())
			}
			check(t, "rated_credits", r.Rated, c.rated)
			check(t, "reason", r.Reason, c.reason)
			check(t, "allowance_units", r.Allowance, "0")
		})
	}
}

// TestValidationReasons: every quarantine reason of BILLING.md section 2, with the field named.
func TestValidationReasons(t *testing.T) {
	// Given tenants acme (UTC, service 2026-01-01..2026-06-30), rome (Europe/Rome, service
	// to 2026-03-31) and beta (rate card "later", in force from 2026-01-10), and one object
	// with a line per case below,
	// When a run happens,
	// Then each line is quarantined with the reason and field listed, or accepted ("").
	cfg := config("",
		tenantYAML("acme", "service_end", "2026-06-30"),
		tenantYAML("rome", "timezone", "Europe/Rome", "service_end", "2026-03-31"),
		tenantYAML("beta", "rate_card", "later"))
	cases := []struct {
		name, line, reason, field string
	}{
		{"not json", `this is not json`, "malformed", "(line)"},
		{"json array", `[1, 2, 3]`, "malformed", "(line)"},
		{"truncated json", `{"event_id": "v03", "occurred_at"`, "malformed", "(line)"},
		{"missing user_id", ev("v04", "user_id", nil), "malformed", "user_id"},
		{"event_value as a JSON string", ev("v05", "event_value", "1"), "malformed", "event_value"},
		{"event_id as a number", ev("", "event_id", 42), "malformed", "event_id"},
		{"empty tenant_id", ev("v07", "tenant_id", ""), "malformed", "tenant_id"},
		{"preview not a bool", ev("v08", "preview", "yes"), "malformed", "preview"},
		{"attributes a JSON array", ev("v09", "attributes", []int{1}), "malformed", "attributes"},
		{"missing event_unit", ev("v10", "event_unit", nil), "malformed", "event_unit"},
		{"missing occurred_at", ev("v11", "occurred_at", nil), "malformed", "occurred_at"},
		{"timestamp without offset", ev("v12", "occurred_at", "2026-01-12T14:00:00"), "bad_timestamp", "occurred_at"},
		{"timestamp in another format", ev("v13", "occurred_at", "12/01/2026 15:00"), "bad_timestamp", "occurred_at"},
		{"impossible date", ev("v14", "occurred_at", "2026-02-30T10:00:00Z"), "bad_timestamp", "occurred_at"},
		{"bare date", ev("v15", "occurred_at", "2026-01-12"), "bad_timestamp", "occurred_at"},
		{"negative event_value", ev("v16", "event_value", -5), "negative_value", "event_value"},
		{"negative input_tokens", ev("v17", "event_type", "assistant", "attributes", attrs("input_tokens", -10, "output_tokens", 20)), "negative_value", "attributes.input_tokens"},
		{"negative output_tokens on any rule", ev("v18", "attributes", attrs("output_tokens", -1)), "negative_value", "attributes.output_tokens"},
		{"unknown tenant", ev("v19", "tenant_id", "nobody"), "unknown_tenant", "tenant_id"},
		{"before service_start", ev("v20", "occurred_at", "2025-12-31T23:59:59Z"), "outside_service_period", "occurred_at"},
		{"at service_start", ev("v21", "occurred_at", "2026-01-01T00:00:00Z"), "", ""},
		{"last second of service_end, local", ev("v22", "tenant_id", "rome", "occurred_at", "2026-03-31T23:59:59+02:00"), "", ""},
		{"day after service_end, local midnight", ev("v23", "tenant_id", "rome", "occurred_at", "2026-04-01T00:00:00+02:00"), "outside_service_period", "occurred_at"},
		{"day after service_end, given in UTC", ev("v24", "tenant_id", "rome", "occurred_at", "2026-03-31T22:30:00Z"), "outside_service_period", "occurred_at"},
		{"before the first rate-card version", ev("v25", "tenant_id", "beta", "occurred_at", "2026-01-09T23:59:59Z"), "no_rate_in_force", "occurred_at"},
		{"at the first version's effective_from", ev("v26", "tenant_id", "beta", "occurred_at", "2026-01-10T00:00:00Z"), "", ""},
		{"unknown event type", ev("v27", "event_type", "hologram"), "unknown_event_type", "event_type"},
		{"ratio attribute missing", ev("v28", "event_type", "voice", "event_value", 200), "missing_attribute", "attributes.configured_seconds"},
		{"ratio attribute 0", ev("v29", "event_type", "voice", "event_value", 200, "attributes", attrs("configured_seconds", 0)), "missing_attribute", "attributes.configured_seconds"},
		{"ratio attribute negative", ev("v30", "event_type", "voice", "event_value", 200, "attributes", attrs("configured_seconds", -600)), "missing_attribute", "attributes.configured_seconds"},
		{"ratio attribute absent among others", ev("v31", "event_type", "voice", "event_value", 200, "attributes", attrs("foo", 1)), "missing_attribute", "attributes.configured_seconds"},
		{"output_tokens missing", ev("v32", "event_type", "assistant", "attributes", attrs("input_tokens", 100)), "missing_attribute", "attributes.output_tokens"},
		{"conflicting duplicate", ev("v21", "occurred_at", "2026-01-01T00:00:00Z", "user_id", "u-2"), "conflicting_duplicate", "event_id"},
	}
	var ls []string
	var accepted, quarantined int64
	for _, c := range cases {
		ls = append(ls, c.line)
		if c.reason == "" {
			accepted++
		} else {
			quarantined++
		}
	}
	w := newWorld(t, cfg)
	w.put("v.jsonl", lines(ls...))
	m := w.run(defaultNow)
	q := w.quarantine()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := q["v.jsonl:"+itoa(int64(i+1))]
			check(t, "reason", got.Reason, c.reason)
			field := ""
			if got.Field != nil {
				field = *got.Field
			}
			check(t, "field", field, c.field)
			if c.reason != "" && got.Raw != c.line {
				t.Errorf("raw = %q, want the line as read %q", got.Raw, c.line)
			}
			if c.reason != "" && c.reason != "malformed" {
				var id struct {
					EventID string `json:"event_id"`
				}
				_ = json.Unmarshal([]byte(c.line), &id)
				if got.EventID == nil || *got.EventID != id.EventID {
					t.Errorf("event_id = %v, want %q", got.EventID, id.EventID)
				}
			}
		})
	}
	// Then the run reconciles: lines read = accepted + quarantined + duplicates.
	check(t, "lines_read", m.Counts.LinesRead, int64(len(cases)))
	check(t, "accepted", m.Counts.Accepted, accepted)
	check(t, "quarantined", m.Counts.Quarantined, quarantined)
	check(t, "duplicates", m.Counts.Duplicates, int64(0))
	check(t, "quarantined_by_reason[malformed]", m.QuarantineBy["malformed"], int64(11))
}

// TestAttributesNotAnObject: attributes that are not a JSON object make the line malformed
// (section 2); the run goes on and quarantines it.
func TestAttributesNotAnObject(t *testing.T) {
	for _, c := range []struct{ name, key, text string }{
		{"jsonl string", "a.jsonl", lines(ev("x1"), ev("x2", "attributes", "x"))},
		{"csv text", "a.csv", "event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit,attributes\n" +
			"x1,2026-01-10T10:00:00Z,acme,u-1,chat,1,attempt,\nx2,2026-01-10T10:00:00Z,acme,u-1,chat,1,attempt,x\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Given one good line and one whose attributes are the text "x",
			w := newWorld(t, config("", tenantYAML("acme")))
			w.put(c.key, c.text)
			// When a run happens,
			_, err := w.tryRun(defaultNow)
			if err != nil {
				t.Fatalf("BUG: one line with attributes that are not JSON fails the whole run (parse_lines.sql: json_type(s[10]) is evaluated although json_valid(s[10]) is false; DuckDB's AND does not short-circuit): %v", err)
			}
			// Then the bad line is malformed on attributes and the good one is billed.
			line := int64(2)
			if c.key == "a.csv" {
				line = 3
			}
			check(t, "reason", w.reason(c.key, line), "malformed")
			check(t, "field", *w.quarantine()[c.key+":"+itoa(line)].Field, "attributes")
			check(t, "x1 rated", w.event("x1").Rated, "10")
		})
	}
}

// TestHugeNumbersDoNotStopTheRun: an event that cannot be billed goes to quarantine and is
// counted (section 2); it never stops the run for every other event and tenant.
func TestHugeNumbersDoNotStopTheRun(t *testing.T) {
	for _, c := range []struct{ name, line string }{
		// 1e15 s of video: 1.67e13 blocks x 210 credits, beyond the 4-place fixed point.
		{"per_unit credits beyond int64", ev("h1", "event_type", "video", "event_value", raw("1000000000000000"))},
		// 1e21 input tokens.
		{"per_token count beyond the decimal range", ev("h1", "event_type", "assistant", "attributes", attrs("input_tokens", raw("1000000000000000000000"), "output_tokens", 1))},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Given one ordinary event and one absurdly large one,
			w := newWorld(t, config("", tenantYAML("acme")))
			w.put("a.jsonl", lines(ev("ok"), c.line))
			// When a run happens,
			_, err := w.tryRun(defaultNow)
			if err != nil {
				t.Fatalf("BUG: one event whose credits overflow fails every run (rate.sql casts credits_e4 to BIGINT / multiplies DECIMAL(38,10) without a bound; the line stays in the warehouse, so later runs fail too): %v", err)
			}
			// Then the run completes and the ordinary event is billed.
			check(t, "ok rated", w.event("ok").Rated, "10")
		})
	}
}

// TestObjectKeysAreNotPatterns: objects under the source prefix are read by key (FORMATS.md,
// "Raw events", any name); a key with characters that globs treat specially is one object.
func TestObjectKeysAreNotPatterns(t *testing.T) {
	for _, key := range []string{"a[1].jsonl", "a?.jsonl", "a*.jsonl"} {
		t.Run(key, func(t *testing.T) {
			// Given objects key (event g1) and a1.jsonl (event g2) in a local source,
			w := newWorld(t, config("", tenantYAML("acme")))
			w.put(key, lines(ev("g1")))
			w.put("a1.jsonl", lines(ev("g2")))
			// When a run happens,
			m, err := w.tryRun(defaultNow)
			// Then each object's one line is read once and both events are billed.
			var problem string
			if err != nil {
				problem = "the run fails: " + err.Error()
			} else if _, ok := w.rated()["g1"]; !ok || m.Counts.LinesRead != 2 {
				problem = fmt.Sprintf("lines_read = %d (want 2), g1 billed = %v", m.Counts.LinesRead, ok)
			}
			if problem != "" {
				t.Fatalf("BUG: a local object key is handed to DuckDB's read_text as a glob pattern (load_json.sql reads local files in place), so %q reads another file or none: %s", key, problem)
			}
			check(t, "g1", w.event("g1").Rated, "10")
			check(t, "g2", w.event("g2").Rated, "10")
		})
	}
}

// TestCheckOrder: BILLING.md section 9, "Checks run in this order: parse, then duplicates,
// then the rest of section 2".
func TestCheckOrder(t *testing.T) {
	cfg := config("", tenantYAML("acme"), tenantYAML("beta", "rate_card", "later"))
	one := func(name string, reason string, ls ...string) rcase {
		return rcase{name: name, cfg: cfg, objs: []obj{{"o.jsonl", lines(ls...)}}, then: func(t *testing.T, w *world) {
			check(t, "reason of the last line", w.reason("o.jsonl", int64(len(ls))), reason)
		}}
	}
	runCases(t, []rcase{
		// Given a line with an unknown tenant and an unknown event type, then unknown_tenant.
		one("unknown tenant before unknown event type", "unknown_tenant", ev("c1", "tenant_id", "nobody", "event_type", "hologram")),
		// Given an unknown tenant and no user_id, then malformed (parse first).
		one("malformed before unknown tenant", "malformed", ev("c1", "tenant_id", "nobody", "user_id", nil)),
		// Given a timestamp without offset and a negative value, then bad_timestamp.
		one("bad timestamp before negative value", "bad_timestamp", ev("c1", "occurred_at", "2026-01-12T10:00:00", "event_value", -1)),
		// Given no event_unit and a negative value, then malformed.
		one("malformed before negative value", "malformed", ev("c1", "event_unit", nil, "event_value", -1)),
		// Given a beta event before service_start and before beta's rate card, then
		// outside_service_period.
		one("outside service before no rate", "outside_service_period", ev("c1", "tenant_id", "beta", "occurred_at", "2025-12-20T10:00:00Z")),
		// Given a beta event of an unknown type before beta's rate card, then no_rate_in_force.
		one("no rate before unknown event type", "no_rate_in_force", ev("c1", "tenant_id", "beta", "event_type", "hologram", "occurred_at", "2026-01-05T10:00:00Z")),
		// Given an accepted event then the same identity with an unknown event type, then the
		// second is conflicting_duplicate (duplicates before the rest of section 2).
		one("duplicate before unknown event type", "conflicting_duplicate", ev("c1"), ev("c1", "event_type", "hologram")),
		// Given two lines of an unknown tenant with one identity, then the second is
		// conflicting_duplicate and the first unknown_tenant.
		one("duplicate before unknown tenant", "conflicting_duplicate", ev("c1", "tenant_id", "nobody"), ev("c1", "tenant_id", "nobody", "user_id", "u-2")),
		// Given an accepted event then the same event_id with no user_id, then the second is
		// malformed, never a duplicate.
		one("malformed is never a duplicate", "malformed", ev("c1"), ev("c1", "user_id", nil)),
		// Given an accepted event then the same event_id with a bad timestamp, then
		// bad_timestamp.
		one("bad timestamp is never a duplicate", "bad_timestamp", ev("c1"), ev("c1", "occurred_at", "yesterday")),
		// Given an accepted event then the same event_id with a negative value, then
		// negative_value.
		one("negative value is never a duplicate", "negative_value", ev("c1"), ev("c1", "event_value", -3)),
		{
			// Given a malformed line in a.jsonl and a valid line with the same event_id in
			// b.jsonl, then the valid one is accepted: a malformed line is not "first".
			name: "malformed first does not shadow a later valid line", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(ev("c1", "user_id", nil))}, {"b.jsonl", lines(ev("c1"))}},
			then: func(t *testing.T, w *world) {
				check(t, "a.jsonl:1", w.reason("a.jsonl", 1), "malformed")
				check(t, "b.jsonl:1", w.reason("b.jsonl", 1), "")
				check(t, "c1 rated", w.event("c1").Rated, "10")
				check(t, "duplicates", w.last.Counts.Duplicates, int64(0))
			},
		},
		{
			// Given the same unknown-tenant event twice, then the first is unknown_tenant and
			// the second an exact duplicate (counted, not quarantined again).
			name: "exact duplicate of a quarantined event", cfg: cfg,
			objs: []obj{{"o.jsonl", lines(ev("c1", "tenant_id", "nobody"), ev("c1", "tenant_id", "nobody"))}},
			then: func(t *testing.T, w *world) {
				check(t, "o.jsonl:1", w.reason("o.jsonl", 1), "unknown_tenant")
				check(t, "o.jsonl:2", w.reason("o.jsonl", 2), "")
				check(t, "duplicates", w.last.Counts.Duplicates, int64(1))
				check(t, "quarantined", w.last.Counts.Quarantined, int64(1))
			},
		},
	})
}

// TestDuplicates: exact and conflicting duplicates (BILLING.md sections 2 and 9). "First"
// is the first object by key in byte order, then line order; parsed content is compared.
func TestDuplicates(t *testing.T) {
	cfg := config("", tenantYAML("acme"), tenantYAML("beta"))
	vid := func(id string, secs any, kv ...any) string {
		return ev(id, append([]any{"event_type", "video_exact", "event_value", secs, "event_unit", "second"}, kv...)...)
	}
	// exact: the lines are one event; the run counts dups duplicates, no quarantine, one
	// event billed.
	exact := func(name string, dups int64, objs ...obj) rcase {
		return rcase{name: name, cfg: cfg, objs: objs, then: func(t *testing.T, w *world) {
			check(t, "duplicates", w.last.Counts.Duplicates, dups)
			check(t, "quarantined", w.last.Counts.Quarantined, int64(0))
			check(t, "events in January", w.period("acme", "2026-01-01")["events"], "1")
		}}
	}
	// conflict: loser is quarantined as conflicting_duplicate and the winner's content
	// (rated credits) stands.
	conflict := func(name, loser string, rated string, objs ...obj) rcase {
		return rcase{name: name, cfg: cfg, objs: objs, then: func(t *testing.T, w *world) {
			k, l, _ := strings.Cut(loser, ":")
			var n int64
			_ = json.Unmarshal([]byte(l), &n)
			check(t, loser, w.reason(k, n), "conflicting_duplicate")
			check(t, "quarantined", w.last.Counts.Quarantined, int64(1))
			check(t, "duplicates", w.last.Counts.Duplicates, int64(0))
			check(t, "rated credits of the first", w.event("d1").Rated, rated)
		}}
	}
	runCases(t, []rcase{
		// Given the same line twice in one object, then one event and one duplicate.
		exact("same line twice", 1, obj{"a.jsonl", lines(vid("d1", 60), vid("d1", 60))}),
		// Given the same line re-delivered in a second object (gzip), then a duplicate.
		exact("re-delivered object", 1, obj{"a.jsonl", lines(vid("d1", 60))}, obj{"b.jsonl.gz", gz(lines(vid("d1", 60)))}),
		// Given the same instant written with another offset, then a duplicate.
		exact("same instant other offset", 1, obj{"a.jsonl", lines(vid("d1", 60), vid("d1", 60, "occurred_at", "2026-01-10T11:00:00+01:00"))}),
		// Given 60, 60.0 and 6e1, then the same number: two duplicates.
		exact("numbers by value", 2, obj{"a.jsonl", lines(vid("d1", 60), vid("d1", raw("60.0")), vid("d1", raw("6e1")))}),
		// Given preview and domain_name absent, then false and null written out are the same.
		exact("absent optional fields equal their defaults", 2, obj{"a.jsonl", lines(vid("d1", 60), vid("d1", 60, "preview", false), vid("d1", 60, "domain_name", raw("null")))}),
		// Given the same event as a CSV row and a JSON line, then a duplicate.
		exact("csv row and json line", 1,
			obj{"a.csv", "event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit,attributes\n" +
				`d1,2026-01-10T10:00:00Z,acme,u-1,voice,200,second,"{""configured_seconds"": 600}"` + "\n"},
			obj{"b.jsonl", lines(ev("d1", "event_type", "voice", "event_value", 200, "event_unit", "second", "attributes", attrs("configured_seconds", 600)))}),
		// Given b-2.jsonl (90 s) and b.jsonl (60 s) with the same event_id, then b-2.jsonl
		// is first ('-' < '.') and b.jsonl's line conflicts.
		conflict("first object by key in byte order", "b.jsonl:1", "315",
			obj{"b.jsonl", lines(vid("d1", 60))}, obj{"b-2.jsonl", lines(vid("d1", 90))}),
		// Given x/y.jsonl and x-y.jsonl, then x-y.jsonl is first ('-' < '/'), whatever the
		// directory walk order.
		conflict("directory keys compare as text", "x/y.jsonl:1", "315",
			obj{"x/y.jsonl", lines(vid("d1", 60))}, obj{"x-y.jsonl", lines(vid("d1", 90))}),
		// Given B.jsonl and a.jsonl, then B.jsonl is first (byte order, not a locale).
		conflict("upper case sorts before lower case", "a.jsonl:1", "315",
			obj{"a.jsonl", lines(vid("d1", 60))}, obj{"B.jsonl", lines(vid("d1", 90))}),
		// Given two versions in one object, then the earlier line stands.
		conflict("line order within an object", "a.jsonl:3", "210",
			obj{"a.jsonl", lines(vid("d1", 60), ev("other"), vid("d1", 90))}),
		// Given the same event_id for acme and then for beta, then both are billed: identity
		// is (tenant_id, event_id) since BILLING.md version 2.
		{
			name: "same id in two tenants", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(vid("d1", 60), vid("d1", 90, "tenant_id", "beta"))}},
			then: func(t *testing.T, w *world) {
				check(t, "quarantined", w.last.Counts.Quarantined, int64(0))
				check(t, "duplicates", w.last.Counts.Duplicates, int64(0))
				check(t, "acme January events", w.period("acme", "2026-01-01")["events"], "1")
				check(t, "beta January events", w.period("beta", "2026-01-01")["events"], "1")
			},
		},
		// Given a first version, an exact copy and a different version, then one duplicate
		// and one conflict.
		{
			name: "exact copy and conflict together", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(vid("d1", 60), vid("d1", 60), vid("d1", 90))}},
			then: func(t *testing.T, w *world) {
				check(t, "duplicates", w.last.Counts.Duplicates, int64(1))
				check(t, "a.jsonl:3", w.reason("a.jsonl", 3), "conflicting_duplicate")
				check(t, "rated", w.event("d1").Rated, "210")
			},
		},
	})
}

// TestDuplicateAttributesCompareByContent: "the same attributes" (BILLING.md section 9)
// means the same members and values, not the same text.
func TestDuplicateAttributesCompareByContent(t *testing.T) {
	cfg := config("", tenantYAML("acme"))
	voice := func(a string) string {
		return ev("d1", "event_type", "voice", "event_value", 200, "attributes", raw(a))
	}
	runCases(t, []rcase{
		{
			// Given the same attributes with JSON whitespace differences, then a duplicate.
			name: "whitespace", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(voice(`{"configured_seconds":600,"k":"x"}`), voice(`{ "configured_seconds" : 600 , "k" : "x" }`))}},
			then: func(t *testing.T, w *world) {
				check(t, "duplicates", w.last.Counts.Duplicates, int64(1))
				check(t, "a.jsonl:2", w.reason("a.jsonl", 2), "")
			},
		},
		{
			// Given the same attributes with members in another order, then a duplicate.
			name: "member order", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(voice(`{"configured_seconds":600,"k":"x"}`), voice(`{"k":"x","configured_seconds":600}`))}},
			then: func(t *testing.T, w *world) {
				check(t, "a.jsonl:2", w.reason("a.jsonl", 2), "")
				check(t, "duplicates", w.last.Counts.Duplicates, int64(1))
			},
		},
		{
			// Given attribute numbers 600 and 600.0, then the same value: a duplicate.
			name: "attribute numbers by value", cfg: cfg,
			objs: []obj{{"a.jsonl", lines(voice(`{"configured_seconds":600}`), voice(`{"configured_seconds":600.0}`))}},
			then: func(t *testing.T, w *world) {
				check(t, "a.jsonl:2", w.reason("a.jsonl", 2), "")
				check(t, "duplicates", w.last.Counts.Duplicates, int64(1))
			},
		},
	})
}

func gz(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.String()
}

// TestBlankLines: "Blank lines are not events and are not counted" (section 9); line numbers
// still count them (the quarantine points at the physical line).
func TestBlankLines(t *testing.T) {
	runCases(t, []rcase{
		{
			// Given a JSONL object with empty, space-only and CRLF-only lines around one event
			// and one garbage line (physical line 6),
			// Then 2 lines are read and the garbage is quarantined as line 6.
			name: "jsonl",
			objs: []obj{{"b.jsonl", "\n" + ev("b1") + "\n\n   \n\r\ngarbage\n\n"}},
			then: func(t *testing.T, w *world) {
				check(t, "lines_read", w.last.Counts.LinesRead, int64(2))
				check(t, "b.jsonl:6", w.reason("b.jsonl", 6), "malformed")
				check(t, "b1 rated", w.event("b1").Rated, "10")
			},
		},
		{
			// Given CRLF line endings, then every line parses.
			name: "crlf",
			objs: []obj{{"b.jsonl", ev("b1") + "\r\n" + ev("b2") + "\r\n"}},
			then: func(t *testing.T, w *world) {
				check(t, "lines_read", w.last.Counts.LinesRead, int64(2))
				check(t, "accepted", w.last.Counts.Accepted, int64(2))
			},
		},
		{
			// Given a CSV object: header (line 1), blank line 2, a row on line 3, a blank-ish
			// line 4 and a row of the wrong width on line 5,
			// Then 2 lines are read and line 5 is malformed.
			name: "csv",
			objs: []obj{{"c.csv", "event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit\n\n" +
				"c1,2026-01-10T10:00:00Z,acme,u-1,chat,1,attempt\n   \nc2,2026-01-10T10:00:00Z,acme\n"}},
			then: func(t *testing.T, w *world) {
				check(t, "lines_read", w.last.Counts.LinesRead, int64(2))
				check(t, "c.csv:5", w.reason("c.csv", 5), "malformed")
				check(t, "c1 rated", w.event("c1").Rated, "10")
			},
		},
		{
			// Given a JSONL object with a tab-only line, then it is blank like a space-only
			// line (and like the same line in a CSV object).
			name: "jsonl whitespace other than spaces",
			objs: []obj{{"b.jsonl", ev("b1") + "\n\t\n \t \n"}},
			then: func(t *testing.T, w *world) {
				if w.last.Counts.LinesRead != 1 {
					t.Fatalf("BUG: load_json.sql keeps lines where trim(raw) <> '' and DuckDB's trim strips spaces only, so a tab-only JSONL line is read as a malformed event (lines_read = %d, want 1); CSV objects skip it (strings.TrimSpace)", w.last.Counts.LinesRead)
				}
				check(t, "lines_read", w.last.Counts.LinesRead, int64(1))
			},
		},
	})
}

// TestRateCardVersionInForce: the version with the latest effective_from <= occurred_at
// applies (glossary, "rate card"), whatever the order the versions are listed in.
func TestRateCardVersionInForce(t *testing.T) {
	// Given card std: chat 10 and legacy 1 from 2026-01-01, chat 12 (legacy gone) from
	// 2026-01-16T00:00:00Z (listed first), and tenant acme on std,
	cfg := config("", tenantYAML("acme", "rate_card", "std", "credits_plan", "1000"))
	cases := []struct {
		name, line, rated, version, reason string
	}{
		{"last second of the old version", ev("k1", "occurred_at", "2026-01-15T23:59:59Z"), "10", "std@2026-01-01T00:00:00Z", ""},
		{"exactly at effective_from", ev("k2", "occurred_at", "2026-01-16T00:00:00Z"), "12", "std@2026-01-16T00:00:00Z", ""},
		{"same instant in another offset", ev("k3", "occurred_at", "2026-01-16T01:00:00+01:00"), "12", "std@2026-01-16T00:00:00Z", ""},
		{"local date after, instant before", ev("k4", "occurred_at", "2026-01-16T00:30:00+01:00"), "10", "std@2026-01-01T00:00:00Z", ""},
		{"type of the old version only, before", ev("k5", "event_type", "legacy", "occurred_at", "2026-01-15T12:00:00Z"), "1", "std@2026-01-01T00:00:00Z", ""},
		{"type of the old version only, after", ev("k6", "event_type", "legacy", "occurred_at", "2026-01-16T12:00:00Z"), "", "", "unknown_event_type"},
	}
	var ls []string
	for _, c := range cases {
		ls = append(ls, c.line)
	}
	w := newWorld(t, cfg)
	w.put("k.jsonl", lines(ls...))
	// When a run happens,
	w.run(defaultNow)
	// Then each event is rated by the version in force when it happened.
	got := w.rated()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "k" + itoa(int64(i+1))
			if c.reason != "" {
				check(t, "reason", w.reason("k.jsonl", int64(i+1)), c.reason)
				return
			}
			check(t, "rated", got[id].Rated, c.rated)
			check(t, "rate_card_version", got[id].Version, c.version)
		})
	}
}

// TestAllowanceBeforeMemberCap: allowance pools are drawn first, in contract order, then the
// member cap applies (sections 1, 3 and 9); previews use no allowance.
func TestAllowanceBeforeMemberCap(t *testing.T) {
	// Given acme with video_minutes pools included (2) and purchased (1), members u-7
	// (cap 0) and u-8 (cap 100), plan 1000, and these events in time order:
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "1000",
		"allowances", "[{pool: video_minutes, name: included, units: 2}, {pool: video_minutes, name: purchased, units: 1}]",
		"members", "[{user_id: u-7, cap: 0}, {user_id: u-8, cap: 100}]")))
	video := func(id, day, user string, secs int, kv ...any) string {
		return ev(id, append([]any{"event_type", "video", "event_value", secs, "event_unit", "second",
			"occurred_at", "2026-01-" + day + "T10:00:00Z", "user_id", user}, kv...)...)
	}
	w.put("a.jsonl", lines(
		video("p1", "02", "u-1", 600, "preview", true),                    // preview: no allowance
		video("v1", "03", "u-7", 120),                                     // 2 blocks, both from the pool: 0 credits, nothing blocked
		video("v2", "04", "u-8", 150),                                     // 3 blocks, 1 left in the pool: 420 credits, cap 100
		ev("v3", "occurred_at", "2026-01-05T10:00:00Z", "user_id", "u-8"), // cap used up: blocked
		video("v4", "06", "u-7", 30),                                      // pool empty, cap 0: 210 blocked
		video("v5", "07", "u-1", 60),                                      // no cap: 210 from plan
	))
	// When a run happens,
	w.run(defaultNow)
	// Then allowance is used before the cap is applied, and the cap only blocks credits.
	checkSplit(t, w.event("p1"), "0/0/0/0/0/0")
	checkSplit(t, w.event("v1"), "0/2/0/0/0/0")
	checkSplit(t, w.event("v2"), "420/1/100/0/0/320")
	checkSplit(t, w.event("v3"), "10/0/0/0/0/10")
	checkSplit(t, w.event("v4"), "210/0/0/0/0/210")
	checkSplit(t, w.event("v5"), "210/0/210/0/0/0")
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{
		"allowance_units_used": "3", "plan_used": "310", "blocked_credits": "540", "exceeding_credits": "0", "events": "6"})
}

// TestMemberCapCountsFundedCreditsOnly: a member's cap is used up by plan, bank and
// exceeding credits, not by credits the hard stop blocked (section 9).
func TestMemberCapCountsFundedCreditsOnly(t *testing.T) {
	// Given acme on policy block, plan 10, a deposit of 20 at 2026-01-10T00:00:00Z, and
	// member u-1 capped at 30,
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "10", "overage", "{policy: block}",
		"bank", "[{id: d1, credits: 20, at: 2026-01-10T00:00:00Z}]", "members", "[{user_id: u-1, cap: 30}]")))
	at := func(id, day string) string { return ev(id, "occurred_at", "2026-01-"+day+"T10:00:00Z") }
	w.put("a.jsonl", lines(at("m1", "02"), at("m2", "03"), at("m3", "11"), at("m4", "12"), at("m5", "13")))
	// When a run finalizes January,
	w.run(defaultNow)
	// Then m2 is blocked by the hard stop without using the cap, so m4 is still funded from
	// the bank (cap used 10 + 10 + 10 = 30), and m5 is blocked.
	checkSplit(t, w.event("m1"), "10/0/10/0/0/0")
	checkSplit(t, w.event("m2"), "10/0/0/0/0/10")
	checkSplit(t, w.event("m3"), "10/0/0/10/0/0")
	checkSplit(t, w.event("m4"), "10/0/0/10/0/0")
	checkSplit(t, w.event("m5"), "10/0/0/0/0/10")
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{
		"status": "final", "plan_used": "10", "bank_used": "20", "bank_remaining": "0", "exceeding_credits": "0", "blocked_credits": "20"})
	// And a hard-stop tenant is never invoiced.
	check(t, "invoices", len(w.invoices()), 0)
}

// TestWaterfall: plan, then bank as it stands at the event's instant, then exceeding; a
// deposit never pays for credits that already exceeded; the plan resets every period.
func TestWaterfall(t *testing.T) {
	// Given plan 15 and a deposit of 100 at 2026-01-10T00:00:00Z,
	w := newWorld(t, config("", tenantYAML("acme", "credits_plan", "15",
		"bank", "[{id: d1, credits: 100, at: 2026-01-10T00:00:00Z}]")))
	w.put("a.jsonl", lines(
		ev("w1", "occurred_at", "2026-01-02T10:00:00Z"),
		ev("w2", "occurred_at", "2026-01-03T10:00:00Z"),
		ev("w3", "occurred_at", "2026-01-10T00:00:00Z"),
		ev("w4", "occurred_at", "2026-01-11T10:00:00Z"),
		ev("w5", "occurred_at", "2026-02-01T00:00:00Z"),
	))
	// When a run finalizes January,
	w.run(defaultNow)
	// Then w2 splits between plan and exceeding, w3 (at the deposit instant) uses the bank,
	// and February's plan starts afresh.
	checkSplit(t, w.event("w1"), "10/0/10/0/0/0")
	checkSplit(t, w.event("w2"), "10/0/5/0/5/0")
	checkSplit(t, w.event("w3"), "10/0/0/10/0/0")
	checkSplit(t, w.event("w4"), "10/0/0/10/0/0")
	checkSplit(t, w.event("w5"), "10/0/10/0/0/0")
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{
		"plan_used": "15", "bank_used": "20", "bank_remaining": "80", "exceeding_credits": "5"})
	checkRow(t, "February", w.period("acme", "2026-02-01"), map[string]string{
		"status": "open", "plan_used": "10", "bank_used": "0", "bank_remaining": "80"})
	check(t, "invoice amount", w.invoices()[0]["amount"], "0.25")
}

// TestPeriods: periods in the tenant's time zone; quarterly and yearly periods on
// anchor_day; a first partial period with the full plan; a row up to the period of --now.
func TestPeriods(t *testing.T) {
	// Given rome (monthly), q (quarterly, anchor 15) and y (yearly, anchor 10, from
	// 2026-02-01),
	w := newWorld(t, config("",
		tenantYAML("rome", "timezone", "Europe/Rome"),
		tenantYAML("q", "period", "quarterly", "anchor_day", "15"),
		tenantYAML("y", "period", "yearly", "anchor_day", "10", "service_start", "2026-02-01")))
	w.put("a.jsonl", lines(
		ev("t1", "tenant_id", "rome", "occurred_at", "2026-01-31T23:30:00Z"), // 00:30 Feb 1 in Rome
		ev("t2", "tenant_id", "rome", "occurred_at", "2026-01-31T22:59:59Z"), // 23:59:59 Jan 31 in Rome
		ev("t3", "tenant_id", "q", "occurred_at", "2026-01-14T23:59:59Z"),
		ev("t4", "tenant_id", "q", "occurred_at", "2026-01-15T00:00:00Z"),
		ev("t5", "tenant_id", "y", "occurred_at", "2026-12-31T10:00:00Z"),
	))
	// When a run happens on 2026-05-01,
	w.run("2026-05-01T12:00:00Z")
	// Then events fall in their local periods and the period rows are the expected windows.
	check(t, "t1 period", w.event("t1").Period, "2026-02-01")
	check(t, "t2 period", w.event("t2").Period, "2026-01-01")
	check(t, "t3 period", w.event("t3").Period, "2026-01-01")
	check(t, "t4 period", w.event("t4").Period, "2026-01-15")
	check(t, "t5 period", w.event("t5").Period, "2026-02-01")
	var got []string
	for _, r := range w.csvRows("ledger/period_usage.csv") {
		if r["tenant_id"] != "rome" {
			got = append(got, r["tenant_id"]+" "+r["period_start"]+" "+r["period_end"]+" "+r["status"]+" "+r["credits_plan"]+" "+r["events"])
		}
	}
	want := []string{
		"q 2026-01-01 2026-01-15 final 100 1",
		"q 2026-01-15 2026-04-15 final 100 1",
		"q 2026-04-15 2026-07-15 open 100 0",
		"y 2026-02-01 2027-01-10 open 100 1",
	}
	check(t, "q and y rows", strings.Join(got, "\n"), strings.Join(want, "\n"))
	check(t, "rome May row", w.period("rome", "2026-05-01")["status"], "open")
}

// TestDepositBareDate: a bare date is the tenant-local midnight of that day (section 9), for
// deposits and for service_start.
func TestDepositBareDate(t *testing.T) {
	// Given rome (Europe/Rome, UTC+1 in January), plan 0, a deposit of 10 dated 2026-01-10,
	w := newWorld(t, config("", tenantYAML("rome", "timezone", "Europe/Rome", "credits_plan", "0",
		"bank", "[{id: d1, credits: 10, at: 2026-01-10}]")))
	w.put("a.jsonl", lines(
		ev("b1", "tenant_id", "rome", "occurred_at", "2026-01-09T22:59:59Z"), // 23:59:59 Jan 9 in Rome
		ev("b2", "tenant_id", "rome", "occurred_at", "2026-01-09T23:00:00Z"), // midnight Jan 10 in Rome
		ev("b3", "tenant_id", "rome", "occurred_at", "2025-12-31T22:59:59Z"), // before service_start
		ev("b4", "tenant_id", "rome", "occurred_at", "2025-12-31T23:00:00Z"), // service_start
	))
	w.run(defaultNow)
	// Then the deposit funds b2 only, and service starts at Rome's midnight.
	checkSplit(t, w.event("b1"), "10/0/0/0/10/0")
	checkSplit(t, w.event("b2"), "10/0/0/10/0/0")
	check(t, "b3", w.reason("a.jsonl", 3), "outside_service_period")
	checkSplit(t, w.event("b4"), "10/0/0/0/10/0")
}

// TestDepositAtPeriodEnd: a deposit dated exactly at a period's end belongs to the next period
// (section 9): the period's bank_remaining excludes it and its events cannot use it.
func TestDepositAtPeriodEnd(t *testing.T) {
	// Given rome, plan 0, deposits 15 at 2026-01-01 and 100 at 2026-02-01 (January's end),
	w := newWorld(t, config("", tenantYAML("rome", "timezone", "Europe/Rome", "credits_plan", "0",
		"bank", "[{id: d1, credits: 15, at: 2026-01-01}, {id: d2, credits: 100, at: 2026-02-01}]")))
	w.put("a.jsonl", lines(
		ev("e1", "tenant_id", "rome", "occurred_at", "2026-01-20T10:00:00+01:00"),
		ev("e2", "tenant_id", "rome", "occurred_at", "2026-01-31T23:59:59+01:00"),
		ev("e3", "tenant_id", "rome", "occurred_at", "2026-02-01T00:00:00+01:00"),
	))
	w.run(defaultNow)
	checkSplit(t, w.event("e1"), "10/0/0/10/0/0")
	checkSplit(t, w.event("e2"), "10/0/0/5/5/0")
	checkSplit(t, w.event("e3"), "10/0/0/10/0/0")
	checkRow(t, "January", w.period("rome", "2026-01-01"), map[string]string{"bank_used": "15", "bank_remaining": "0", "exceeding_credits": "5"})
	checkRow(t, "February", w.period("rome", "2026-02-01"), map[string]string{"bank_used": "10", "bank_remaining": "90"})
}

// TestFinalization: a period is final when now >= end + grace (section 9); grace defaults to
// 72h; the invoice is issued by the finalizing run.
func TestFinalization(t *testing.T) {
	cases := []struct {
		name, top, tz, now, status string
	}{
		{"UTC default grace, one second before", "", "UTC", "2026-02-03T23:59:59Z", "open"},
		{"UTC default grace, exactly at end+72h", "", "UTC", "2026-02-04T00:00:00Z", "final"},
		{"grace 24h, one second before", "grace_period: 24h\n", "UTC", "2026-02-01T23:59:59Z", "open"},
		{"grace 24h, exactly", "grace_period: 24h\n", "UTC", "2026-02-02T00:00:00Z", "final"},
		{"Rome, one second before", "", "Europe/Rome", "2026-02-03T22:59:59Z", "open"},
		{"Rome, exactly at local end+72h", "", "Europe/Rome", "2026-02-03T23:00:00Z", "final"},
		{"grace 0s, at the period end", "grace_period: 0s\n", "UTC", "2026-02-01T00:00:00Z", "final"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Given acme in tz with plan 0 and one chat in January (10 exceeding),
			w := newWorld(t, c.top+config("", tenantYAML("acme", "timezone", c.tz, "credits_plan", "0")))
			w.put("a.jsonl", lines(ev("f1")))
			// When a run happens at now,
			w.run(c.now)
			// Then January has the status listed, and an invoice exactly when final.
			got := w.period("acme", "2026-01-01")["status"]
			if c.top == "grace_period: 0s\n" && got != c.status {
				t.Fatal("BUG: schemas.ParseConfig turns an explicit grace_period: 0s into the 72h default (it tests GracePeriod == 0), so a period is not final at end + 0")
			}
			check(t, "January status", got, c.status)
			wantInv := 0
			if c.status == "final" {
				wantInv = 1
			}
			check(t, "invoices", len(w.invoices()), wantInv)
		})
	}
}

// TestInvoiceNumbering: INV-YYYY-NNNNNN, YYYY the year of the period's last day, gap-free per
// year in (tenant-local period_end, tenant_id) order; amount half-up to 2 places; block
// tenants and periods without exceeding credits are never invoiced (section 7).
func TestInvoiceNumbering(t *testing.T) {
	// Given tenants from 2025-12-01 with plan 0 and price 0.0125: a-ten (UTC), b-ten (UTC),
	// b-blk (UTC, policy block), m-la (Los Angeles), z-syd (Sydney), all of whose January
	// periods end on the local date 2026-02-01 (z-syd first in time, m-la last), and c-ten
	// (quarterly, price 0.05),
	ten := func(id string, kv ...string) string {
		return tenantYAML(id, append([]string{"service_start", "2025-12-01", "credits_plan", "0",
			"overage", "{policy: bill, price_per_credit: 0.0125}"}, kv...)...)
	}
	w := newWorld(t, config("",
		ten("z-syd", "timezone", "Australia/Sydney"),
		ten("m-la", "timezone", "America/Los_Angeles"),
		ten("b-ten"), ten("a-ten"),
		ten("b-blk", "overage", "{policy: block}"),
		ten("c-ten", "period", "quarterly", "overage", "{policy: bill, price_per_credit: 0.05}")))
	w.put("a.jsonl", lines(
		ev("i1", "tenant_id", "b-ten", "occurred_at", "2025-12-10T10:00:00Z"),
		ev("i2", "tenant_id", "a-ten", "occurred_at", "2026-01-10T10:00:00Z"),
		ev("i3", "tenant_id", "b-ten", "occurred_at", "2026-01-10T10:00:00Z"),
		ev("i4", "tenant_id", "b-blk", "occurred_at", "2026-01-10T10:00:00Z"),
		ev("i5", "tenant_id", "m-la", "occurred_at", "2026-01-10T10:00:00Z"),
		ev("i6", "tenant_id", "m-la", "occurred_at", "2026-01-11T10:00:00Z"),
		ev("i7", "tenant_id", "m-la", "occurred_at", "2026-01-12T10:00:00Z"),
		ev("i8", "tenant_id", "z-syd", "occurred_at", "2026-01-10T10:00:00Z"),
		ev("i9", "tenant_id", "c-ten", "occurred_at", "2026-02-10T10:00:00Z"),
		ev("i10", "tenant_id", "z-syd", "occurred_at", "2026-02-10T10:00:00Z"),
		ev("i11", "tenant_id", "z-syd", "occurred_at", "2026-03-10T10:00:00Z"),
	))
	// When a run on 2026-02-05 finalizes December and January (Los Angeles' too), and a
	// later run on 2026-04-10 finalizes z-syd's February and March and c-ten's first
	// quarter (local period ends 03-01, 04-01 and 04-01; z-syd's March ends first in time),
	w.run("2026-02-05T00:00:00Z")
	first := w.invoices()
	w.run("2026-04-10T00:00:00Z")
	// Then the register lists, in number order:
	reg := func(rows []map[string]string) string {
		var out []string
		for _, r := range rows {
			out = append(out, strings.Join([]string{r["invoice_number"], r["tenant_id"], r["period_start"], r["period_end"],
				r["currency"], r["exceeding_credits"], r["price_per_credit"], r["amount"]}, " "))
		}
		return strings.Join(out, "\n")
	}
	want := []string{
		"INV-2025-000001 b-ten 2025-12-01 2026-01-01 EUR 10 0.0125 0.13", // 0.125 half-up
		"INV-2026-000001 a-ten 2026-01-01 2026-02-01 EUR 10 0.0125 0.13",
		"INV-2026-000002 b-ten 2026-01-01 2026-02-01 EUR 10 0.0125 0.13", // b-blk takes no number
		"INV-2026-000003 m-la 2026-01-01 2026-02-01 EUR 30 0.0125 0.38",  // 0.375 half-up
		"INV-2026-000004 z-syd 2026-01-01 2026-02-01 EUR 10 0.0125 0.13",
	}
	check(t, "register after the first run", reg(first), strings.Join(want, "\n"))
	want = append(want,
		"INV-2026-000005 z-syd 2026-02-01 2026-03-01 EUR 10 0.0125 0.13",
		"INV-2026-000006 c-ten 2026-01-01 2026-04-01 EUR 10 0.05 0.50", // money with its two places
		"INV-2026-000007 z-syd 2026-03-01 2026-04-01 EUR 10 0.0125 0.13")
	check(t, "register after the second run", reg(w.invoices()), strings.Join(want, "\n"))
	// And the block tenant's January is final with blocked credits and no invoice.
	checkRow(t, "b-blk January", w.period("b-blk", "2026-01-01"), map[string]string{"status": "final", "blocked_credits": "10", "exceeding_credits": "0"})
}

// TestLateEvents: an event whose period was final when it first arrives is billed in the
// earliest period open when the run began, flagged late, first in that period; the final
// period and its invoice never change (sections 4 and 9).
func TestLateEvents(t *testing.T) {
	for _, c := range []struct {
		name, now2, febStatus string
		invoices              int
	}{
		{"billed in the open period", "2026-02-10T00:00:00Z", "open", 1},
		{"billed in the period the same run finalizes", "2026-03-05T00:00:00Z", "final", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Given acme (UTC, plan 100, bill at 0.05) with 11 chats in January,
			w := newWorld(t, config("", tenantYAML("acme")))
			var jan []string
			for i := range 11 {
				jan = append(jan, ev("j"+itoa(int64(10+i)), "occurred_at", "2026-01-10T"+itoa(int64(10+i))+":00:00Z"))
			}
			w.put("2026/01/a.jsonl", lines(jan...))
			// When a first run on 2026-02-05 finalizes January (exceeding 10, invoice 0.5),
			w.run("2026-02-05T00:00:00Z")
			janRow := w.period("acme", "2026-01-01")
			reg := w.invoices()
			check(t, "January status after run 1", janRow["status"], "final")
			check(t, "January exceeding after run 1", janRow["exceeding_credits"], "10")
			// and a second run brings a January event and ten February chats,
			var feb []string
			for i := range 10 {
				feb = append(feb, ev("f"+itoa(int64(10+i)), "occurred_at", "2026-02-02T"+itoa(int64(10+i))+":00:00Z"))
			}
			w.put("2026/02/b.jsonl", lines(append([]string{ev("late1", "occurred_at", "2026-01-20T10:00:00Z")}, feb...)...))
			w.run(c.now2)
			// Then the late event is billed in February, flagged late, funded first from
			// February's plan, and the last February chat exceeds.
			late := w.event("late1")
			check(t, "late1 billed period", late.Period, "2026-02-01")
			check(t, "late1 late", late.Late, true)
			checkSplit(t, late, "10/0/10/0/0/0")
			checkSplit(t, w.event("f19"), "10/0/0/0/10/0")
			check(t, "f10 late", w.event("f10").Late, false)
			checkRow(t, "February", w.period("acme", "2026-02-01"), map[string]string{
				"status": c.febStatus, "events": "11", "plan_used": "100", "exceeding_credits": "10"})
			// And January's row and invoice are unchanged.
			if got := w.period("acme", "2026-01-01"); !maps.Equal(got, janRow) {
				t.Errorf("January row changed:\n got  %v\n want %v", got, janRow)
			}
			got := w.invoices()
			check(t, "invoices", len(got), c.invoices)
			if len(got) == 0 || !maps.Equal(got[0], reg[0]) {
				t.Errorf("January invoice changed:\n got  %v\n want %v", got, reg)
			}
			check(t, "January events", w.event("j10").Period, "2026-01-01")
		})
	}
}

// TestRerunIsByteIdentical: a re-run with no new input rewrites byte-identical outputs, the
// run manifest aside (section 5); a later re-run that changes no period's state publishes
// the same files too.
func TestRerunIsByteIdentical(t *testing.T) {
	// Given two tenants (bill and block), JSONL, gzip and CSV objects with quarantined lines,
	// duplicates, previews, allowance use, member caps, and a run on 2026-03-10
	// (January and February final, March open),
	w := newWorld(t, config("",
		tenantYAML("acme", "credits_plan", "5", "bank", "[{id: d1, credits: 15, at: 2026-01-05}]",
			"allowances", "[{pool: video_minutes, units: 1}]", "members", "[{user_id: u-9, cap: 5}]"),
		tenantYAML("blk", "timezone", "Europe/Rome", "credits_plan", "10", "overage", "{policy: block}")))
	w.put("2026/01/a.jsonl", lines(
		ev("a1"), ev("a2", "event_type", "video", "event_value", 150, "user_id", "u-9"),
		ev("a3", "event_type", "assistant", "attributes", attrs("input_tokens", 1234, "output_tokens", 55)),
		ev("a4", "preview", true), "not json", ev("a5", "tenant_id", "nobody"), ev("a1"),
		ev("a6", "tenant_id", "blk", "occurred_at", "2026-01-31T23:30:00Z"), ev("a7", "tenant_id", "blk"),
		ev("a8", "tenant_id", "blk", "occurred_at", "2026-01-11T10:00:00Z"),
		ev("a9", "occurred_at", "2026-01-12T10:00:00Z"), ev("a10", "occurred_at", "2026-01-13T10:00:00Z")))
	w.put("2026/02/b.jsonl.gz", gz(lines(ev("b1", "occurred_at", "2026-02-03T10:00:00Z"), ev("a1", "user_id", "u-2"))))
	w.put("2026/03/c.csv", "event_id,occurred_at,tenant_id,user_id,event_type,event_value,event_unit\n"+
		"c1,2026-03-02T10:00:00Z,acme,u-1,chat,1,attempt\nc2,bad,acme\n")
	m1 := w.run("2026-03-10T12:00:00Z")
	before := w.snapshot()
	if len(w.invoices()) == 0 || m1.Counts.Quarantined == 0 || m1.Counts.Duplicates == 0 {
		t.Fatalf("the setup should issue invoices and quarantine and skip lines: %+v", m1.Counts)
	}
	// When the same run is repeated with no new input,
	m2 := w.run("2026-03-10T12:00:00Z")
	// Then nothing is read again and every output is byte-identical.
	check(t, "objects ingested by the re-run", m2.Objects.Ingested, 0)
	after := w.snapshot()
	if !maps.Equal(before, after) {
		for k := range maps.Keys(after) {
			if before[k] != after[k] {
				t.Errorf("%s changed on re-run", k)
			}
		}
	}
	// When a later run changes no period's state (same day, six hours on),
	m3 := w.run("2026-03-10T18:00:00Z")
	// Then it writes nothing at all: no output changes, and no quarantine file (nothing
	// was newly quarantined; BILLING.md v2, FORMATS.md "quarantine/{run_id}.jsonl").
	if later := w.snapshot(); !maps.Equal(before, later) {
		for k := range maps.Keys(later) {
			if before[k] != later[k] {
				t.Errorf("%s changed on a later re-run", k)
			}
		}
	}
	check(t, "outputs written by the later run", len(m3.Outputs), 0)
	if _, err := os.Stat(filepath.Join(w.out, "quarantine", m3.RunID+".jsonl")); err == nil {
		t.Errorf("the later run wrote a quarantine file with nothing new in it")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBatchIndependence: the result depends on the set of objects ingested, not on the
// batches they arrived in (section 5), including which duplicate is "first".
func TestBatchIndependence(t *testing.T) {
	cfg := config("", tenantYAML("acme", "credits_plan", "20"))
	objs := []obj{
		{"b.jsonl", lines(ev("x1", "event_type", "video_exact", "event_value", 60), ev("x2"), ev("x3", "occurred_at", "2026-01-12T10:00:00Z"))},
		{"a.jsonl", lines(ev("x1", "event_type", "video_exact", "event_value", 90), ev("x2"), ev("x4", "occurred_at", "2026-01-11T10:00:00Z"))},
	}
	const now = "2026-02-10T00:00:00Z"
	// Given world A that reads both objects in one run,
	a := newWorld(t, cfg)
	for _, o := range objs {
		a.put(o.key, o.text)
	}
	a.run(now)
	// and world B that reads b.jsonl on 2026-01-20 (nothing final yet) and a.jsonl (whose
	// key sorts first) in a second run at the same instant as A's,
	b := newWorld(t, cfg)
	b.put(objs[0].key, objs[0].text)
	b.run("2026-01-20T00:00:00Z")
	b.put(objs[1].key, objs[1].text)
	b.run(now)
	// Then both publish the same ledger, register, rated events and quarantine.
	for _, f := range []string{"ledger/period_usage.csv", "invoices/register.csv"} {
		if x, y := mustRead(t, filepath.Join(a.out, f)), mustRead(t, filepath.Join(b.out, f)); !bytes.Equal(x, y) {
			t.Errorf("%s differs:\none batch:\n%s\ntwo batches:\n%s", f, x, y)
		}
	}
	if x, y := a.rated(), b.rated(); !maps.Equal(x, y) {
		t.Errorf("rated events differ:\none batch:  %v\ntwo batches: %v", x, y)
	}
	if x, y := qtext(a.quarantine()), qtext(b.quarantine()); !maps.Equal(x, y) {
		t.Errorf("quarantine differs:\none batch:  %v\ntwo batches: %v", x, y)
	}
	check(t, "x1 rated (a.jsonl's version)", b.event("x1").Rated, "315")
	check(t, "b.jsonl:1", b.reason("b.jsonl", 1), "conflicting_duplicate")
}

// TestObjectReplaced: a key whose ETag changed is re-read and its events replace the earlier
// version's (section 5); a touched but unchanged object brings the same events.
func TestObjectReplaced(t *testing.T) {
	// Given a.jsonl with two events, read on 2026-01-20,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(ev("o1"), ev("o2", "occurred_at", "2026-01-11T10:00:00Z")))
	w.run("2026-01-20T00:00:00Z")
	check(t, "events before", w.period("acme", "2026-01-01")["events"], "2")
	// When a.jsonl is rewritten with one other event and a run happens,
	w.put("a.jsonl", lines(ev("o3", "event_type", "video_exact", "event_value", 90)))
	m := w.run("2026-01-21T00:00:00Z")
	// Then only the new version's event counts.
	check(t, "objects ingested", m.Objects.Ingested, 1)
	check(t, "lines_read", m.Counts.LinesRead, int64(1))
	ids := w.rated()
	if len(ids) != 1 || ids["o3"].Rated != "315" {
		t.Errorf("rated events = %v, want only o3 at 315", ids)
	}
	checkRow(t, "January", w.period("acme", "2026-01-01"), map[string]string{"events": "1", "plan_used": "100", "exceeding_credits": "215"})
	// When the object is touched without change and a run happens,
	p := filepath.Join(w.src, "a.jsonl")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	m = w.run("2026-01-22T00:00:00Z")
	// Then it is re-read and replaces itself: no duplicates.
	check(t, "objects ingested after touch", m.Objects.Ingested, 1)
	check(t, "duplicates after touch", m.Counts.Duplicates, int64(0))
	check(t, "events after touch", w.period("acme", "2026-01-01")["events"], "1")
}

// TestQuarantineReconsidered: quarantined events are reconsidered on every run, so a
// configuration fixed later makes them billable (section 2).
func TestQuarantineReconsidered(t *testing.T) {
	// Given an event of tenant beta (not configured) and an acme event of type hologram (no
	// rule), read on 2026-01-20,
	w := newWorld(t, config("", tenantYAML("acme")))
	w.put("a.jsonl", lines(
		ev("q1", "tenant_id", "beta", "occurred_at", "2026-01-12T10:00:00Z"),
		ev("q2", "event_type", "hologram", "occurred_at", "2026-01-16T10:00:00Z")))
	w.run("2026-01-20T00:00:00Z")
	check(t, "q1", w.reason("a.jsonl", 1), "unknown_tenant")
	check(t, "q2", w.reason("a.jsonl", 2), "unknown_event_type")
	// When the configuration adds tenant beta and a version of card full from 2026-01-15
	// with a hologram rule, and a run happens with no new input,
	w.cfg = config(`  - id: full
    effective_from: 2026-01-15T00:00:00Z
    rules:
      - {event_type: hologram, kind: per_event, credits: 7}
`, tenantYAML("acme"), tenantYAML("beta"))
	m := w.run("2026-01-21T00:00:00Z")
	// Then both events are accepted and billed, and the quarantine is empty.
	check(t, "objects ingested", m.Objects.Ingested, 0)
	check(t, "quarantined", m.Counts.Quarantined, int64(0))
	check(t, "quarantine lines", len(w.quarantine()), 0)
	check(t, "q1 rated", w.event("q1").Rated, "10")
	check(t, "q2 rated", w.event("q2").Rated, "7")
	check(t, "beta January events", w.period("beta", "2026-01-01")["events"], "1")
}
