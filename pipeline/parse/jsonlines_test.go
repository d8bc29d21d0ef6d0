package parse

import (
	"strings"
	"testing"
)

// member is one name and raw JSON value of an event line.
type member struct{ k, v string }

// baseEvent is a valid event with every field.
var baseEvent = []member{
	{"event_id", `"ev-1"`}, {"occurred_at", `"2026-01-12T09:00:00+01:00"`}, {"tenant_id", `"acme"`},
	{"domain_name", `"learn.acme.example"`}, {"user_id", `"u-1"`}, {"event_type", `"ai_assistant"`},
	{"event_value", `1`}, {"event_unit", `"request"`}, {"preview", `false`},
	{"attributes", `{"input_tokens":900,"output_tokens":300}`},
	{"username", `"mrossi"`}, {"first_name", `"Mario"`}, {"last_name", `"Rossi"`},
}

// drop as a value removes the name from the event.
const drop = "\x00drop"

// event is the base event's line with name/value pairs replaced (drop removes a name; a new
// name is added at the end).
func event(kv ...string) string {
	ms := append([]member(nil), baseEvent...)
	for i := 0; i < len(kv); i += 2 {
		found := false
		for j := range ms {
			if ms[j].k == kv[i] {
				ms[j].v, found = kv[i+1], true
			}
		}
		if !found {
			ms = append(ms, member{kv[i], kv[i+1]})
		}
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, m := range ms {
		if m.v == drop {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(`"` + m.k + `":` + m.v)
	}
	b.WriteByte('}')
	return b.String()
}

// validUTF8 replaces every byte that is not part of valid UTF-8 by U+FFFD, as raw is stored.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r) // a bad byte ranges as one U+FFFD
	}
	return b.String()
}

// filled checks that the fields read before a failure are still there.
func filled(t *testing.T, r Row) {
	t.Helper()
	if r.EventID == nil || *r.EventID != "ev-1" || r.TenantID == nil || *r.TenantID != "acme" ||
		r.UserID == nil || *r.UserID != "u-1" || r.OccurredAt == nil {
		t.Errorf("fields read before the failure are not filled: %v", r)
	}
	if r.Digest != nil {
		t.Errorf("a failed row has a digest: %v", r)
	}
}

func TestJSONLineRules(t *testing.T) {
	const jan12 = int64(1768204800000000) // 2026-01-12T08:00:00Z
	tests := []struct {
		name          string
		line          string
		reason, field string // "" for a parsed event
		detail        string // a part of parse_detail
		check         func(t *testing.T, r Row)
	}{
		{
			// Given a valid line with every field, When parsed, Then every field is read and the
			// digest is set.
			name: "valid", line: event(),
			check: func(t *testing.T, r Row) {
				if *r.EventID != "ev-1" || *r.OccurredAt != jan12 || *r.TenantID != "acme" ||
					*r.DomainName != "learn.acme.example" || *r.UserID != "u-1" || *r.EventType != "ai_assistant" ||
					*r.EventValue != 1_000_000 || *r.EventUnit != "request" || *r.Preview ||
					*r.Attributes != `{"input_tokens":900,"output_tokens":300}` || *r.Username != "mrossi" ||
					*r.FirstName != "Mario" || *r.LastName != "Rossi" || r.Digest == nil || r.Detail != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			// Given only the required fields, Then the optional ones are NULL and preview false.
			name: "required only",
			line: event("domain_name", drop, "preview", drop, "attributes", drop, "username", drop, "first_name", drop, "last_name", drop),
			check: func(t *testing.T, r Row) {
				if r.DomainName != nil || r.Attributes != nil || r.Username != nil || r.FirstName != nil ||
					r.LastName != nil || r.Preview == nil || *r.Preview || r.Digest == nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			// Given JSON white space everywhere JSON allows it, Then the line parses.
			name: "white space", line: " \t{ \"event_id\" : \"ev-1\" ,\r\"occurred_at\":\"2026-01-12T09:00:00Z\", \"tenant_id\":\"acme\",\"user_id\":\"u-1\",\"event_type\":\"x\",\"event_value\": 1 ,\"event_unit\":\"s\" } \t",
		},
		{
			// Given names that are not fields, Then they are ignored, whatever their values.
			name: "other names ignored", line: event("extra", `{"a":[1,{"b":null}],"c":"\ud800"}`, "more", `[true,false,null,-1.5e3,"x"]`),
		},
		// Rule 1: invalid UTF-8
		{
			// Given a bad byte in event_id, When parsed, Then malformed on event_id, the id is
			// NULL (never "repaired") and the other fields are filled.
			name: "invalid UTF-8 in event_id", line: event("event_id", "\"ev-\xff1\""),
			reason: ReasonMalformed, field: "event_id", detail: "invalid UTF-8 at byte",
			check: func(t *testing.T, r Row) {
				if r.EventID != nil || *r.TenantID != "acme" || *r.UserID != "u-1" || r.Digest != nil {
					t.Errorf("got %v", r)
				}
				if !strings.Contains(r.Raw, "ev-\uFFFD1") {
					t.Errorf("raw %q: the bad byte is not replaced for storage", r.Raw)
				}
			},
		},
		{
			// Given a bad byte in a later field and a missing earlier one, Then rule 1 wins.
			name: "invalid UTF-8 beats a missing field", line: event("event_id", drop, "last_name", "\"Ro\xc3ssi\""),
			reason: ReasonMalformed, field: "last_name",
		},
		{
			name: "invalid UTF-8 in another name's value", line: event("note", "\"\xed\xa0\x80\""),
			reason: ReasonMalformed, field: "note",
		},
		{
			name: "invalid UTF-8 deep in attributes", line: event("attributes", "{\"a\":{\"b\":[\"\xc0\x80\"]}}"),
			reason: ReasonMalformed, field: "attributes",
			check: func(t *testing.T, r Row) {
				if r.Attributes != nil || r.EventID == nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			name: "invalid UTF-8 in a name", line: event("na\xffme", `1`),
			reason: ReasonMalformed, field: FieldLine,
		},
		{
			name: "invalid UTF-8 outside JSON", line: event() + " \xff",
			reason: ReasonMalformed, field: FieldLine,
		},
		{
			name: "invalid UTF-8 in a line that is not JSON", line: "{\"event_id\":\"\xff\"",
			reason: ReasonMalformed, field: FieldLine,
		},
		// Rule 3: one JSON object, each name once
		{name: "not JSON", line: "this is not json", reason: ReasonMalformed, field: FieldLine, detail: "not a JSON object"},
		{name: "array", line: `[` + event() + `]`, reason: ReasonMalformed, field: FieldLine},
		{name: "string", line: `"x"`, reason: ReasonMalformed, field: FieldLine},
		{name: "number", line: `42`, reason: ReasonMalformed, field: FieldLine},
		{name: "null", line: `null`, reason: ReasonMalformed, field: FieldLine},
		{name: "empty object", line: `{}`, reason: ReasonMalformed, field: "event_id"},
		{name: "trailing garbage", line: event() + ` x`, reason: ReasonMalformed, field: FieldLine},
		{name: "two objects", line: event() + event(), reason: ReasonMalformed, field: FieldLine},
		{name: "two objects split by CR", line: event() + "\r" + event(), reason: ReasonMalformed, field: FieldLine},
		{name: "truncated", line: event()[:40], reason: ReasonMalformed, field: FieldLine},
		{name: "trailing comma", line: event()[:len(event())-1] + `,}`, reason: ReasonMalformed, field: FieldLine},
		{name: "single quotes", line: `{'event_id':'ev-1'}`, reason: ReasonMalformed, field: FieldLine},
		{name: "comment", line: event() + ` // c`, reason: ReasonMalformed, field: FieldLine},
		{name: "NaN", line: event("event_value", `NaN`), reason: ReasonMalformed, field: FieldLine},
		{name: "leading zero", line: event("event_value", `01`), reason: ReasonMalformed, field: FieldLine},
		{name: "plus sign", line: event("event_value", `+1`), reason: ReasonMalformed, field: FieldLine},
		{name: "bare point", line: event("event_value", `1.`), reason: ReasonMalformed, field: FieldLine},
		{name: "raw tab in a string", line: event("user_id", "\"u\t1\""), reason: ReasonMalformed, field: FieldLine},
		{name: "raw NUL in a string", line: event("user_id", "\"u\x001\""), reason: ReasonMalformed, field: FieldLine},
		{name: "bad escape", line: event("user_id", `"u\x1"`), reason: ReasonMalformed, field: FieldLine},
		{name: "short unicode escape", line: event("user_id", `"u\u12"`), reason: ReasonMalformed, field: FieldLine},
		{name: "bad literal", line: event("preview", `ture`), reason: ReasonMalformed, field: FieldLine},
		{name: "bad nested JSON in another name", line: event("x", `{"a":[1,}`), reason: ReasonMalformed, field: FieldLine},
		{
			// Given a field name twice, When parsed, Then malformed on that name: an attacker
			// must not get two readings of one line.
			name: "name twice", line: strings.TrimSuffix(event(), "}") + `,"event_value":2}`, reason: ReasonMalformed, field: "event_value",
		},
		{
			name: "name twice, spelled with an escape", line: event("event\\u005fvalue", `2`),
			reason: ReasonMalformed, field: "event_value", detail: "twice",
			check: func(t *testing.T, r Row) {
				if r.EventValue != nil || r.EventID == nil || r.Digest != nil {
					t.Errorf("a field given twice is filled, or others are not: %v", r)
				}
			},
		},
		{name: "other name twice", line: event("x", `1`, "y", `2`)[:len(event("x", `1`, "y", `2`))-1] + `,"x":3}`, reason: ReasonMalformed, field: "x"},
		{
			// Given two names each given twice, Then the one repeated first is named.
			name: "first repetition named",
			line: `{"b":1,"a":1,"event_unit":"s","a":2,"event_unit":"t","b":2}`, reason: ReasonMalformed, field: "a",
		},
		{name: "nested names twice in another name are ignored", line: event("x", `{"a":1,"a":2}`)},
		{name: "name with a lone surrogate", line: event("\\udc00", `1`), reason: ReasonMalformed, field: FieldLine},
		// Rule 4: fields
		{name: "event_id absent", line: event("event_id", drop), reason: ReasonMalformed, field: "event_id", detail: "absent"},
		{name: "event_id null", line: event("event_id", `null`), reason: ReasonMalformed, field: "event_id"},
		{name: "event_id empty", line: event("event_id", `""`), reason: ReasonMalformed, field: "event_id", detail: "empty"},
		{name: "event_id number", line: event("event_id", `5`), reason: ReasonMalformed, field: "event_id"},
		{name: "event_id object", line: event("event_id", `{}`), reason: ReasonMalformed, field: "event_id"},
		{name: "event_id lone surrogate", line: event("event_id", `"a\ud800"`), reason: ReasonMalformed, field: "event_id", detail: "surrogate"},
		{name: "event_id low surrogate first", line: event("event_id", `"\udc00\ud800"`), reason: ReasonMalformed, field: "event_id"},
		{name: "event_id high surrogate then other escape", line: event("event_id", `"\ud800\u0041"`), reason: ReasonMalformed, field: "event_id"},
		{name: "tenant_id array", line: event("tenant_id", `["acme"]`), reason: ReasonMalformed, field: "tenant_id"},
		{name: "user_id empty", line: event("user_id", `""`), reason: ReasonMalformed, field: "user_id"},
		{name: "event_type boolean", line: event("event_type", `true`), reason: ReasonMalformed, field: "event_type"},
		{name: "event_unit absent", line: event("event_unit", drop), reason: ReasonMalformed, field: "event_unit", check: filled},
		{
			// Given escapes in strings, When parsed, Then the decoded value is stored.
			name: "escapes decoded",
			line: event("event_id", `"o\"neil\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0000"`, "last_name", `"\t"`),
			check: func(t *testing.T, r Row) {
				if *r.EventID != "o\"neil\\/\b\f\n\r\té😀\x00" || *r.LastName != "\t" {
					t.Errorf("got %q, %q", *r.EventID, *r.LastName)
				}
			},
		},
		{
			name: "unicode unescaped", line: event("first_name", `"Zoë 😀 \u2028"`),
			check: func(t *testing.T, r Row) {
				if *r.FirstName != "Zoë 😀 \u2028" {
					t.Errorf("got %q", *r.FirstName)
				}
			},
		},
		{name: "occurred_at absent", line: event("occurred_at", drop), reason: ReasonMalformed, field: "occurred_at"},
		{name: "occurred_at null", line: event("occurred_at", `null`), reason: ReasonMalformed, field: "occurred_at"},
		{name: "occurred_at number", line: event("occurred_at", `1768204800`), reason: ReasonMalformed, field: "occurred_at"},
		{
			name: "occurred_at not RFC 3339", line: event("occurred_at", `"2026-01-12T09:00:00"`),
			reason: ReasonBadTimestamp, field: "occurred_at",
			check: func(t *testing.T, r Row) {
				if r.OccurredAt != nil || r.EventID == nil || r.EventValue == nil || r.Digest != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{name: "offset +99:00", line: event("occurred_at", `"2026-01-12T09:00:00+99:00"`), reason: ReasonBadTimestamp, field: "occurred_at"},
		{name: "hour 24", line: event("occurred_at", `"2026-01-12T24:00:00Z"`), reason: ReasonBadTimestamp, field: "occurred_at"},
		{
			name: "lower-case t and z", line: event("occurred_at", `"2026-01-12t08:00:00z"`),
			check: func(t *testing.T, r Row) {
				if *r.OccurredAt != jan12 {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			name: "occurred_at escaped", line: event("occurred_at", `"2026-01-12\u005408:00:00Z"`),
			check: func(t *testing.T, r Row) {
				if *r.OccurredAt != jan12 {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			// Given a bad timestamp and a malformed later field, Then malformed wins.
			name: "malformed beats bad_timestamp", line: event("occurred_at", `"x"`, "last_name", `7`),
			reason: ReasonMalformed, field: "last_name",
		},
		{
			name: "bad_timestamp beats negative_value", line: event("occurred_at", `"x"`, "event_value", `-1`),
			reason: ReasonBadTimestamp, field: "occurred_at",
		},
		// an empty optional string is absent: a CSV cell cannot say otherwise, and the same
		// event re-delivered as CSV must have the same content
		{name: "domain_name empty", line: event("domain_name", `""`), check: func(t *testing.T, r Row) {
			if r.DomainName != nil || r.Digest == nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "domain_name null", line: event("domain_name", `null`), check: func(t *testing.T, r Row) {
			if r.DomainName != nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "domain_name number", line: event("domain_name", `1`), reason: ReasonMalformed, field: "domain_name"},
		{name: "username object", line: event("username", `{}`), reason: ReasonMalformed, field: "username"},
		{name: "first_name boolean", line: event("first_name", `false`), reason: ReasonMalformed, field: "first_name"},
		{name: "last_name array", line: event("last_name", `[]`), reason: ReasonMalformed, field: "last_name"},
		{name: "last_name lone surrogate", line: event("last_name", `"\ud800"`), reason: ReasonMalformed, field: "last_name"},
		{
			// Given two bad fields, Then the first in field order is named.
			name: "first bad field named", line: event("last_name", `1`, "tenant_id", drop, "event_id", `""`),
			reason: ReasonMalformed, field: "event_id",
		},
		{name: "event_value string", line: event("event_value", `"1"`), reason: ReasonMalformed, field: "event_value"},
		{name: "event_value null", line: event("event_value", `null`), reason: ReasonMalformed, field: "event_value"},
		{name: "event_value absent", line: event("event_value", drop), reason: ReasonMalformed, field: "event_value"},
		{name: "event_value boolean", line: event("event_value", `true`), reason: ReasonMalformed, field: "event_value"},
		{name: "event_value 7 places", line: event("event_value", `0.0000001`), reason: ReasonMalformed, field: "event_value", detail: "6 fractional"},
		{name: "event_value 10^12", line: event("event_value", `1e12`), reason: ReasonMalformed, field: "event_value", detail: "10^12"},
		{name: "event_value -10^12", line: event("event_value", `-1000000000000`), reason: ReasonMalformed, field: "event_value"},
		{name: "event_value huge exponent", line: event("event_value", `1e99999999999999999999`), reason: ReasonMalformed, field: "event_value"},
		{
			name: "event_value negative", line: event("event_value", `-5`), reason: ReasonNegativeValue, field: "event_value",
			check: func(t *testing.T, r Row) {
				if *r.EventValue != -5_000_000 || r.Digest != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{name: "event_value -0", line: event("event_value", `-0`), check: func(t *testing.T, r Row) {
			if *r.EventValue != 0 {
				t.Errorf("got %v", r)
			}
		}},
		{name: "event_value 1e3", line: event("event_value", `1e3`), check: func(t *testing.T, r Row) {
			if *r.EventValue != 1_000_000_000 {
				t.Errorf("got %v", r)
			}
		}},
		{name: "event_value trailing zeros", line: event("event_value", `0.5000000`), check: func(t *testing.T, r Row) {
			if *r.EventValue != 500_000 {
				t.Errorf("got %v", r)
			}
		}},
		{name: "event_value largest", line: event("event_value", `999999999999.999999`), check: func(t *testing.T, r Row) {
			if *r.EventValue != 999_999_999_999_999_999 {
				t.Errorf("got %v", r)
			}
		}},
		{name: "event_value past float64 precision", line: event("event_value", `123456789012.345678`), check: func(t *testing.T, r Row) {
			if *r.EventValue != 123_456_789_012_345_678 {
				t.Errorf("got %v", r)
			}
		}},
		{name: "preview true", line: event("preview", `true`), check: func(t *testing.T, r Row) {
			if !*r.Preview {
				t.Errorf("got %v", r)
			}
		}},
		{name: "preview null", line: event("preview", `null`), check: func(t *testing.T, r Row) {
			if *r.Preview {
				t.Errorf("got %v", r)
			}
		}},
		{name: "preview string", line: event("preview", `"true"`), reason: ReasonMalformed, field: "preview"},
		{name: "preview number", line: event("preview", `1`), reason: ReasonMalformed, field: "preview"},
		{name: "attributes null", line: event("attributes", `null`), check: func(t *testing.T, r Row) {
			if r.Attributes != nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "attributes empty", line: event("attributes", `{}`), check: func(t *testing.T, r Row) {
			if *r.Attributes != `{}` {
				t.Errorf("got %v", r)
			}
		}},
		{name: "attributes string", line: event("attributes", `"{\"a\":1}"`), reason: ReasonMalformed, field: "attributes"},
		{name: "attributes array", line: event("attributes", `[1]`), reason: ReasonMalformed, field: "attributes"},
		{name: "attributes number", line: event("attributes", `1`), reason: ReasonMalformed, field: "attributes"},
		{name: "attributes key twice", line: event("attributes", `{"a":1,"b":2,"a":1}`), reason: ReasonMalformed, field: "attributes", detail: "twice"},
		{name: "attributes key twice, escaped", line: event("attributes", `{"a":1,"\u0061":1}`), reason: ReasonMalformed, field: "attributes"},
		{name: "attributes nested key twice", line: event("attributes", `{"a":[{"b":{"c":1,"c":2}}]}`), reason: ReasonMalformed, field: "attributes"},
		{name: "attributes lone surrogate", line: event("attributes", `{"a":["\udfff"]}`), reason: ReasonMalformed, field: "attributes"},
		{
			// Given attributes in any key order, spacing, escapes and number spelling, Then they
			// are stored canonically.
			name: "attributes canonical",
			line: event("attributes", `{ "z" : 1.50 , "b":{"y":[1e3,-0,"\u0041\/\n\u001f<>&\u2028"],"x":true}, "a":null, "é":0.00100, "Z":"", "input_tokens":"12"}`),
			check: func(t *testing.T, r Row) {
				want := `{"Z":"","a":null,"b":{"x":true,"y":[1000,0,"A/\n\u001f<>&` + "\u2028" + `"]},"input_tokens":"12","z":1.5,"é":0.001}`
				if *r.Attributes != want {
					t.Errorf("got  %s\nwant %s", *r.Attributes, want)
				}
			},
		},
		{name: "input_tokens 10^12", line: event("attributes", `{"input_tokens":1e12}`), reason: ReasonMalformed, field: "attributes.input_tokens"},
		{name: "input_tokens 7 places", line: event("attributes", `{"input_tokens":0.0000001}`), reason: ReasonMalformed, field: "attributes.input_tokens"},
		{name: "input_tokens string 10^12", line: event("attributes", `{"input_tokens":"1000000000000"}`), reason: ReasonMalformed, field: "attributes.input_tokens"},
		{name: "output_tokens 10^12", line: event("attributes", `{"output_tokens":-1e13}`), reason: ReasonMalformed, field: "attributes.output_tokens"},
		{name: "input_tokens negative", line: event("attributes", `{"input_tokens":-1,"output_tokens":1}`), reason: ReasonNegativeValue, field: "attributes.input_tokens"},
		{name: "output_tokens negative string", line: event("attributes", `{"input_tokens":1,"output_tokens":" -3 "}`), reason: ReasonNegativeValue, field: "attributes.output_tokens"},
		{name: "input_tokens not numeric", line: event("attributes", `{"input_tokens":"many","output_tokens":{}}`)},
		{name: "input_tokens nested is not checked", line: event("attributes", `{"a":{"input_tokens":-1}}`)},
		{
			name: "event_value negative beats input_tokens negative", line: event("event_value", `-1`, "attributes", `{"input_tokens":-1}`),
			reason: ReasonNegativeValue, field: "event_value",
		},
		{
			// Given a malformed token count and a malformed username, Then the token count (part
			// of attributes) is named first.
			name: "token count before username", line: event("attributes", `{"output_tokens":1e20}`, "username", `1`),
			reason: ReasonMalformed, field: "attributes.output_tokens",
		},
		{
			name: "attributes before username", line: event("attributes", `[]`, "username", `1`),
			reason: ReasonMalformed, field: "attributes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, tt.line)
			if tt.reason == "" {
				if r.Reason != nil {
					t.Fatalf("want a parsed event, got %v", r)
				}
				if r.Digest == nil || r.EventID == nil || r.TenantID == nil || r.UserID == nil ||
					r.EventType == nil || r.EventUnit == nil || r.EventValue == nil || r.OccurredAt == nil || r.Preview == nil {
					t.Fatalf("a parsed event lacks a field: %v", r)
				}
			} else {
				if r.Reason == nil || *r.Reason != tt.reason || r.Field == nil || *r.Field != tt.field {
					t.Fatalf("want %s on %s, got %v", tt.reason, tt.field, r)
				}
				if tt.detail != "" && (r.Detail == nil || !strings.Contains(*r.Detail, tt.detail)) {
					t.Errorf("detail: want %q in it, got %v", tt.detail, r)
				}
				if r.Digest != nil {
					t.Errorf("a failed row has a digest: %v", r)
				}
			}
			if r.Raw != validUTF8(tt.line) {
				t.Errorf("raw %q, want the line", r.Raw)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}
