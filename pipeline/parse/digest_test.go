package parse

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDigestDefinition(t *testing.T) {
	// Given the base event, When its digest input is built by hand from the definition in
	// doc.go, Then the parse's digest is its SHA-256, first 16 bytes.
	in := []byte("creditmeter-event-v1")
	field := func(s string) {
		in = append(in, 1, byte(len(s))) // every length here is below 128: one uvarint byte
		in = append(in, s...)
	}
	field("1768204800000000") // 2026-01-12T09:00:00+01:00
	field("learn.acme.example")
	field("u-1")
	field("ai_assistant")
	field("1")
	field("request")
	field("false")
	field(`{"input_tokens":900,"output_tokens":300}`)
	field("mrossi")
	field("Mario")
	field("Rossi")
	sum := sha256.Sum256(in)
	r := parseOne(t, event())
	if *r.Digest != [16]byte(sum[:16]) {
		t.Errorf("digest %x, want %x", *r.Digest, sum[:16])
	}
	// absent fields are one 0 byte
	in = []byte("creditmeter-event-v1")
	in = append(in, 1, 16)
	in = append(in, "1768204800000000"...)
	in = append(in, 0)
	field("u-1")
	field("ai_assistant")
	field("0.25")
	field("request")
	field("true")
	in = append(in, 0, 0, 0, 0)
	sum = sha256.Sum256(in)
	r = parseOne(t, event("domain_name", drop, "event_value", `25e-2`, "preview", `true`, "attributes", drop,
		"username", `null`, "first_name", drop, "last_name", drop))
	if *r.Digest != [16]byte(sum[:16]) {
		t.Errorf("digest with absent fields %x, want %x", *r.Digest, sum[:16])
	}
}

func TestDigestGolden(t *testing.T) {
	// Given fixed events, Then their digests never change: the digest is the product's own
	// (BILLING.md section 9), and a change here breaks duplicate detection against every event
	// stored before it. Do not update these values: version the definition instead.
	tests := []struct{ line, digest string }{
		{event(), "ebad377b14e4587b025a0db0b259cbfd"},
		{`{"event_id":"x","occurred_at":"1969-12-31T23:59:59.999999Z","tenant_id":"t","user_id":"ü","event_type":"e","event_value":999999999999.999999,"event_unit":"u"}`, "353bab72e65f9e4d836e08ca951f87c6"},
		{`{"event_id":"x","occurred_at":"2026-01-05T00:00:00Z","tenant_id":"t","user_id":"u","event_type":"t","event_value":0.5,"event_unit":"s","preview":false,"domain_name":"","attributes":{"b":[1,{"c":"\u0000"}],"a":"\ud83d\ude00"}}`, "44b2087c647bf268834dcb9b09a12f88"},
	}
	for i, tt := range tests {
		r := parseOne(t, tt.line)
		if r.Digest == nil {
			t.Fatalf("line %d: %v", i, r)
		}
		if got := hex.EncodeToString(r.Digest[:]); got != tt.digest {
			t.Errorf("line %d: digest %s, want %s", i, got, tt.digest)
		}
	}
}

func TestDigestEquality(t *testing.T) {
	base := *parseOne(t, event()).Digest
	tests := []struct {
		name string
		line string
		same bool
	}{
		// Given the same content written otherwise, When parsed, Then the digest is the same.
		{"keys reordered", `{"last_name":"Rossi","first_name":"Mario","username":"mrossi","attributes":{"output_tokens":300,"input_tokens":900},"preview":false,"event_unit":"request","event_value":1,"event_type":"ai_assistant","user_id":"u-1","domain_name":"learn.acme.example","tenant_id":"acme","occurred_at":"2026-01-12T09:00:00+01:00","event_id":"ev-1"}`, true},
		{"same instant, other offset", event("occurred_at", `"2026-01-12T08:00:00.000000z"`), true},
		{"number respelled", event("event_value", `1.000e0`), true},
		{"attribute numbers respelled", event("attributes", `{ "output_tokens" : 3e2, "input_tokens" : 900.0 }`), true},
		{"string escapes", event("user_id", `"\u0075-\u0031"`, "first_name", `"Mari\u006f"`), true},
		{"preview absent is false", event("preview", drop), true},
		{"another event_id (identity, not content)", event("event_id", `"ev-2"`), true},
		{"another tenant (identity, not content)", event("tenant_id", `"globex"`), true},
		{"other names", event("comment", `"x"`), true},
		// Given other content, Then the digest differs.
		{"another instant", event("occurred_at", `"2026-01-12T09:00:00.000001+01:00"`), false},
		{"another domain", event("domain_name", `"x"`), false},
		{"empty domain is not absent", event("domain_name", `""`), false},
		{"absent domain", event("domain_name", drop), false},
		{"another user", event("user_id", `"u-2"`), false},
		{"another type", event("event_type", `"x"`), false},
		{"another value", event("event_value", `1.000001`), false},
		{"another unit", event("event_unit", `"x"`), false},
		{"preview", event("preview", `true`), false},
		{"another attribute", event("attributes", `{"input_tokens":900,"output_tokens":301}`), false},
		{"attribute number as a string", event("attributes", `{"input_tokens":"900","output_tokens":300}`), false},
		{"no attributes", event("attributes", drop), false},
		{"empty attributes", event("attributes", `{}`), false},
		{"another username", event("username", `"x"`), false},
		{"another first name", event("first_name", `"x"`), false},
		{"another last name", event("last_name", `"x"`), false},
		{"fields shifted between names", event("first_name", `"MarioRossi"`, "last_name", `""`), false},
	}
	for _, tt := range tests {
		r := parseOne(t, tt.line)
		if r.Digest == nil {
			t.Fatalf("%s: %v", tt.name, r)
		}
		if (*r.Digest == base) != tt.same {
			t.Errorf("%s: same digest %v, want %v", tt.name, *r.Digest == base, tt.same)
		}
	}
}

func TestDigestFunction(t *testing.T) {
	// Given an Event built by hand, When digested, Then it equals the parse's digest.
	s := func(v string) *string { return &v }
	attrs, err := CanonicalJSON([]byte(`{"output_tokens":300,"input_tokens":900}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e := Event{EventID: "other", TenantID: "other", OccurredAt: 1768204800000000, DomainName: s("learn.acme.example"),
		UserID: "u-1", EventType: "ai_assistant", EventValue: 1_000_000, EventUnit: "request",
		Attributes: s(string(attrs)), Username: s("mrossi"), FirstName: s("Mario"), LastName: s("Rossi")}
	if got, want := Digest(&e), *parseOne(t, event()).Digest; got != want {
		t.Errorf("Digest %x, parse %x", got, want)
	}
}
