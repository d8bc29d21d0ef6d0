package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// dec parses an exact decimal.
func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func mustTime(s string) time.Time {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return v
}

// configError asserts that err is a *ConfigError and returns it.
func configError(t *testing.T, err error) *ConfigError {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
	}
	return ce
}

// validBase is a small valid configuration the table tests break one thing at a time.
const validBase = `source: raw
output: out
rate_cards:
  - id: creator
    effective_from: 2026-01-01T00:00:00+01:00
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: video, kind: per_unit, per: 60, credits: 210, rounding: ceil, allowance: video_minutes}
tenants:
  - id: acme
    rate_card: creator
    timezone: Europe/Rome
    currency: EUR
    period: monthly
    anchor_day: 1
    service_start: 2026-01-01
    service_end: 2026-12-31
    credits_plan: 100
    overage: {policy: bill, price_per_credit: 0.05}
    bank:
      - {id: PO-1, credits: 150, at: 2026-01-01}
    allowances:
      - {pool: video_minutes, name: included, units: 2}
    members:
      - {user_id: u-7, cap: 40}
    notify: {thresholds: [0.9, 1.0], email: [billing@acme.example]}
`

func TestLoadWorkedExample(t *testing.T) {
	// Given the configuration of acceptance case 01 (BILLING.md section 8),
	// When it is loaded from its file,
	// Then every field is read, decimals are exact and relative paths resolve beside it.
	path := filepath.Join("..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	abs, _ := filepath.Abs(filepath.Dir(path))
	if cfg.Dir != abs {
		t.Errorf("Dir = %q, want %q", cfg.Dir, abs)
	}
	if got := cfg.Resolve(cfg.Source); got != filepath.Join(abs, "raw") {
		t.Errorf("source resolves to %q", got)
	}
	if cfg.GracePeriod.Duration != 72*time.Hour {
		t.Errorf("grace %v, want 72h", cfg.GracePeriod.Duration)
	}
	if len(cfg.Schedule) != 1 || cfg.Schedule[0] != "CRON_TZ=UTC 0 2,8,14,20 * * *" {
		t.Errorf("schedule %q", cfg.Schedule)
	}
	if len(cfg.RateCards) != 1 || len(cfg.RateCards[0].Rules) != 4 {
		t.Fatalf("rate cards %+v", cfg.RateCards)
	}
	rc := cfg.RateCards[0]
	if !rc.EffectiveFrom.Equal(mustTime("2025-12-31T23:00:00Z")) {
		t.Errorf("effective_from %v", rc.EffectiveFrom)
	}
	voice := rc.Rules[0]
	if voice.Kind != KindPerEventIfRatio || !voice.Credits.Equal(dec("55")) || voice.RatioAttribute != "configured_seconds" ||
		!voice.MinRatio.Equal(dec("0.3")) {
		t.Errorf("voice rule %+v", voice)
	}
	if voice.MinRatio.String() != "0.3" {
		t.Errorf("min_ratio %s, want exactly 0.3", voice.MinRatio)
	}
	video := rc.Rules[2]
	if video.Kind != KindPerUnit || !video.Per.Equal(dec("60")) || !video.Credits.Equal(dec("210")) ||
		video.Rounding != "ceil" || video.Allowance != "video_minutes" {
		t.Errorf("video rule %+v", video)
	}
	tn := cfg.Tenant("acme")
	if tn == nil {
		t.Fatal("tenant acme missing")
	}
	if cfg.Tenant("nobody") != nil {
		t.Error("Tenant(nobody) is not nil")
	}
	if tn.Location == nil || tn.Location.String() != "Europe/Rome" {
		t.Errorf("location %v", tn.Location)
	}
	if tn.ServiceStart != (Date{2026, time.January, 1}) || tn.ServiceEnd != (Date{2026, time.December, 31}) {
		t.Errorf("service %v..%v", tn.ServiceStart, tn.ServiceEnd)
	}
	if tn.Period != "monthly" || tn.AnchorDay != 1 || !tn.CreditsPlan.Equal(dec("100")) {
		t.Errorf("plan %+v", tn)
	}
	if tn.Overage.Policy != PolicyBill || tn.Overage.PricePerCredit.String() != "0.05" ||
		!tn.Overage.PricePerCredit.Equal(decimal.New(5, -2)) {
		t.Errorf("overage %+v, want bill at exactly 0.05", tn.Overage)
	}
	if len(tn.Bank) != 1 || tn.Bank[0].At.IsDate || !tn.Bank[0].At.Time.Equal(mustTime("2025-12-31T23:00:00Z")) ||
		!tn.Bank[0].Credits.Equal(dec("150")) {
		t.Errorf("bank %+v", tn.Bank)
	}
	if len(tn.Allowances) != 1 || !tn.Allowances[0].Units.Equal(dec("2")) {
		t.Errorf("allowances %+v", tn.Allowances)
	}
	if len(tn.Notify.Thresholds) != 2 || !tn.Notify.Thresholds[0].Equal(dec("0.9")) || !tn.Notify.Thresholds[1].Equal(dec("1")) {
		t.Errorf("thresholds %v", tn.Notify.Thresholds)
	}
}

func TestParseFormatsExample(t *testing.T) {
	// Given the configuration example of FORMATS.md, verbatim,
	// When it is parsed,
	// Then it is valid and every section is read exactly.
	data, err := os.ReadFile(filepath.Join("testdata", "formats-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data, "formats-example.yaml", "/etc/creditmeter")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if cfg.Source != "s3://ai-events/raw/" || cfg.Resolve(cfg.Source) != "s3://ai-events/raw/" {
		t.Errorf("source %q", cfg.Source)
	}
	if got := cfg.Resolve(cfg.Warehouse); got != "/etc/creditmeter/var/warehouse.duckdb" {
		t.Errorf("warehouse resolves to %q", got)
	}
	if cfg.Listen != "127.0.0.1:9464" || cfg.S3.Region != "eu-west-1" || cfg.S3.Endpoint != "" ||
		cfg.S3.PathStyle == nil || *cfg.S3.PathStyle {
		t.Errorf("listen/s3 %q %+v", cfg.Listen, cfg.S3)
	}
	if cfg.Issuer != (Issuer{Name: "Example Learning Pty Ltd", Address: "1 Example St, Sydney", TaxID: "ABN 00 000 000 000"}) {
		t.Errorf("issuer %+v", cfg.Issuer)
	}
	if cfg.SMTP == nil || *cfg.SMTP != (SMTP{"smtp.example.com", 587, "billing@example.com", true}) {
		t.Errorf("smtp %+v", cfg.SMTP)
	}
	rules := cfg.RateCards[0].Rules
	if len(rules) != 6 {
		t.Fatalf("%d rules", len(rules))
	}
	if rules[4].Kind != KindFree || rules[5].Kind != KindPerToken ||
		!rules[5].InputPer1k.Equal(decimal.New(2, -3)) || !rules[5].OutputPer1k.Equal(decimal.New(6, -3)) {
		t.Errorf("rules %+v", rules[4:])
	}
	if !rules[0].MinRatio.Equal(decimal.New(30, -2)) {
		t.Errorf("min_ratio %s, want exactly 0.30", rules[0].MinRatio)
	}
	tn := cfg.Tenants[0]
	if tn.Name != "Acme Learning" || !tn.CreditsPlan.Equal(dec("1000")) || tn.Overage.PricePerCredit.String() != "0.05" {
		t.Errorf("tenant %+v", tn)
	}
	if len(tn.Bank) != 2 || tn.Bank[1].ID != "trial" || !tn.Bank[1].At.Time.Equal(mustTime("2026-01-01T00:00:00Z")) {
		t.Errorf("bank %+v", tn.Bank)
	}
	if len(tn.Allowances) != 2 || tn.Allowances[1].Name != "purchased" || !tn.Allowances[1].Units.Equal(dec("20")) {
		t.Errorf("allowances %+v", tn.Allowances)
	}
	if len(tn.Members) != 1 || tn.Members[0].UserID != "u-7" || !tn.Members[0].Cap.IsZero() {
		t.Errorf("members %+v", tn.Members)
	}
	if len(tn.Notify.Email) != 1 || tn.Notify.Email[0] != "billing@acme.example" {
		t.Errorf("notify %+v", tn.Notify)
	}
}

func TestParseValidVariants(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(string) string
		check func(t *testing.T, c *Config)
	}{
		{
			// Given a configuration without grace_period,
			// When it is parsed,
			// Then the grace is the 72h default.
			name: "default grace 72h",
			edit: func(s string) string { return s },
			check: func(t *testing.T, c *Config) {
				if c.GracePeriod.Duration != DefaultGracePeriod || DefaultGracePeriod != 72*time.Hour {
					t.Errorf("grace %v", c.GracePeriod.Duration)
				}
			},
		},
		{
			// Given grace_period: 24h,
			// When it is parsed,
			// Then the grace is 24h.
			name: "explicit grace",
			edit: func(s string) string { return "grace_period: 24h\n" + s },
			check: func(t *testing.T, c *Config) {
				if c.GracePeriod.Duration != 24*time.Hour {
					t.Errorf("grace %v", c.GracePeriod.Duration)
				}
			},
		},
		{
			// Given grace_period: 0s written out,
			// When it is parsed,
			// Then the grace is 0 (final at the period end), not the default.
			name: "explicit zero grace",
			edit: func(s string) string { return "grace_period: 0s\n" + s },
			check: func(t *testing.T, c *Config) {
				if c.GracePeriod.Duration != 0 {
					t.Errorf("grace %v, want 0", c.GracePeriod.Duration)
				}
			},
		},
		{
			// Given a deposit dated with a bare date,
			// When it is parsed,
			// Then it is a date meaning tenant-local midnight (23:00Z the day before in Rome).
			name: "deposit at a bare date",
			edit: func(s string) string { return s },
			check: func(t *testing.T, c *Config) {
				at := c.Tenants[0].Bank[0].At
				if !at.IsDate || at.Date != (Date{2026, time.January, 1}) {
					t.Fatalf("at %+v", at)
				}
				if got := at.In(c.Tenants[0].Location); !got.Equal(mustTime("2025-12-31T23:00:00Z")) {
					t.Errorf("resolves to %v", got)
				}
			},
		},
		{
			// Given deposits dated with timestamps (Z, an offset, a space, a lowercase t,
			// fractional seconds),
			// When it is parsed,
			// Then they are instants, whatever the tenant's zone.
			name: "deposit at timestamps",
			edit: func(s string) string {
				return strings.Replace(s, "      - {id: PO-1, credits: 150, at: 2026-01-01}\n",
					"      - {id: a, credits: 1, at: 2026-02-01T00:00:00Z}\n"+
						"      - {id: b, credits: 1, at: 2026-02-01T00:00:00+01:00}\n"+
						"      - {id: c, credits: 1, at: \"2026-02-01 10:00:00-05:00\"}\n"+
						"      - {id: d, credits: 1, at: 2026-02-01t00:00:00.123456z}\n", 1)
			},
			check: func(t *testing.T, c *Config) {
				want := []string{"2026-02-01T00:00:00Z", "2026-01-31T23:00:00Z", "2026-02-01T15:00:00Z", "2026-02-01T00:00:00.123456Z"}
				bank := c.Tenants[0].Bank
				if len(bank) != len(want) {
					t.Fatalf("bank %+v", bank)
				}
				for i, w := range want {
					if bank[i].At.IsDate || !bank[i].At.In(time.UTC).Equal(mustTime(w)) || !bank[i].At.In(c.Tenants[0].Location).Equal(mustTime(w)) {
						t.Errorf("deposit %d at %+v, want %s", i, bank[i].At, w)
					}
				}
			},
		},
		{
			// Given no anchor_day,
			// When it is parsed,
			// Then anchor day 1 applies.
			name: "default anchor day",
			edit: func(s string) string { return strings.Replace(s, "    anchor_day: 1\n", "", 1) },
			check: func(t *testing.T, c *Config) {
				if c.Tenants[0].AnchorDay != 1 {
					t.Errorf("anchor %d", c.Tenants[0].AnchorDay)
				}
			},
		},
		{
			// Given amounts that binary floating point cannot hold (0.1, 123456789.0001,
			// 0.0001),
			// When they are parsed,
			// Then the decimals are exact.
			name: "decimals exact",
			edit: func(s string) string {
				s = strings.Replace(s, "credits_plan: 100", "credits_plan: 123456789.0001", 1)
				s = strings.Replace(s, "price_per_credit: 0.05", "price_per_credit: 0.1", 1)
				return strings.Replace(s, "cap: 40", "cap: 0.0001", 1)
			},
			check: func(t *testing.T, c *Config) {
				tn := c.Tenants[0]
				if tn.CreditsPlan.String() != "123456789.0001" || tn.Overage.PricePerCredit.String() != "0.1" ||
					!tn.Members[0].Cap.Equal(decimal.New(1, -4)) {
					t.Errorf("plan %s price %s cap %s", tn.CreditsPlan, tn.Overage.PricePerCredit, tn.Members[0].Cap)
				}
			},
		},
		{
			// Given policy block without a price,
			// When it is parsed,
			// Then it is valid (only bill needs a price).
			name: "block without price",
			edit: func(s string) string {
				return strings.Replace(s, "{policy: bill, price_per_credit: 0.05}", "{policy: block}", 1)
			},
			check: func(t *testing.T, c *Config) {
				if c.Tenants[0].Overage.Policy != PolicyBlock {
					t.Errorf("policy %q", c.Tenants[0].Overage.Policy)
				}
			},
		},
		{
			// Given two versions of one rate card (same id, different effective_from),
			// When it is parsed,
			// Then both are kept as versions.
			name: "rate card versions",
			edit: func(s string) string {
				return strings.Replace(s, "tenants:\n", "  - id: creator\n    effective_from: 2026-06-01T00:00:00Z\n    rules: []\ntenants:\n", 1)
			},
			check: func(t *testing.T, c *Config) {
				if len(c.RateCards) != 2 || c.RateCards[1].ID != "creator" {
					t.Errorf("rate cards %+v", c.RateCards)
				}
			},
		},
		{
			// Given YAML anchors and aliases,
			// When it is parsed,
			// Then the aliased values are used.
			name: "aliases",
			edit: func(s string) string {
				s = strings.Replace(s, "timezone: Europe/Rome", "timezone: &tz Europe/Rome", 1)
				return s + "  - id: beta\n    rate_card: creator\n    timezone: *tz\n    currency: EUR\n    period: yearly\n" +
					"    service_start: 2026-01-01\n    service_end: 2026-12-31\n    credits_plan: 0\n    overage: {policy: block}\n"
			},
			check: func(t *testing.T, c *Config) {
				if b := c.Tenant("beta"); b == nil || b.Location == nil || b.Location.String() != "Europe/Rome" {
					t.Errorf("beta %+v", b)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.edit(validBase)), "c.yaml", "/cfg")
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, cfg)
		})
	}
}

// manyProblems has every kind of mistake at once; each line with one carries a marker
// comment "#P name" so the test knows its line.
const manyProblems = `source: raw
colour: blue                                     #P unknown-top
rate_cards:
  - id: creator
    effective_from: 2026-01-05T00:00:00          #P no-offset-card
    rules:
      - {event_type: chat, kind: per_event, credits: 10}
      - {event_type: video, kind: per_unit, credits: 210, per: 60}
tenants:
  - id: acme
    rate_card: creator
    timezone: Mars/Olympus_Mons                  #P timezone
    currency: EUR
    period: fortnightly                          #P period
    anchor_day: 31                               #P anchor
    service_start: 2026-01-01
    service_end: 2026-12-31
    credits_plan: -5                             #P negative
    overage: {policy: block}
    bank:
      - {id: PO-1, credits: 10, at: 2026-01-01T00:00:00}   #P no-offset-deposit
    shoe_size: 44                                #P unknown-tenant
  - id: acme                                     #P duplicate
    rate_card: nosuch                            #P rate-card
    timezone: Europe/Rome
    currency: EUR
    period: monthly
    service_start: 2026-01-01
    service_end: 2026-12-31
    credits_plan: 100
    overage: {policy: bill}                      #P no-price
`

func TestParseManyProblems(t *testing.T) {
	// Given a configuration with an unknown top-level field, a rate card effective_from
	// without offset, a bad time zone, a bad period kind, anchor_day 31, negative credits, a
	// deposit timestamp without offset, an unknown tenant field, a duplicate tenant id, an
	// unknown rate_card reference and policy bill without price,
	// When it is parsed,
	// Then it is refused whole with a *ConfigError that lists every one of them, each with
	// its field path and its line, in line order, and no other problem.
	lines := map[string]int{}
	for i, l := range strings.Split(manyProblems, "\n") {
		if _, m, ok := strings.Cut(l, "#P "); ok {
			lines[strings.TrimSpace(m)] = i + 1
		}
	}
	want := []struct {
		marker, path, reason string
	}{
		{"unknown-top", "colour", "unknown field"},
		{"no-offset-card", "rate_cards[0].effective_from", "RFC 3339 timestamp with offset"},
		{"timezone", "tenants[0].timezone", "Mars/Olympus_Mons"},
		{"period", "tenants[0].period", "monthly"},
		{"anchor", "tenants[0].anchor_day", "28"},
		{"negative", "tenants[0].credits_plan", "minimum"},
		{"no-offset-deposit", "tenants[0].bank[0].at", "RFC 3339 timestamp with offset"},
		{"unknown-tenant", "tenants[0].shoe_size", "unknown field"},
		{"duplicate", "tenants[1].id", "listed twice"},
		{"rate-card", "tenants[1].rate_card", "nosuch"},
		{"no-price", "tenants[1].overage.price_per_credit", "missing"},
	}
	cfg, err := ParseConfig([]byte(manyProblems), "many.yaml", "/cfg")
	if cfg != nil {
		t.Errorf("a refused configuration came back: %+v", cfg)
	}
	ce := configError(t, err)
	if ce.File != "many.yaml" {
		t.Errorf("file %q", ce.File)
	}
	got := map[string]Problem{}
	for _, p := range ce.Problems {
		if _, dup := got[p.Path]; dup {
			t.Errorf("path %s reported twice: %v", p.Path, ce.Problems)
		}
		got[p.Path] = p
	}
	for _, w := range want {
		p, ok := got[w.path]
		if !ok {
			t.Errorf("no problem at %s (%s)", w.path, w.marker)
			continue
		}
		if p.Line != lines[w.marker] {
			t.Errorf("%s: line %d, want %d", w.path, p.Line, lines[w.marker])
		}
		if !strings.Contains(p.Reason, w.reason) {
			t.Errorf("%s: reason %q does not mention %q", w.path, p.Reason, w.reason)
		}
		if !strings.Contains(err.Error(), p.String()) {
			t.Errorf("Error() does not list %q", p.String())
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
	for i := 1; i < len(ce.Problems); i++ {
		if ce.Problems[i].Line < ce.Problems[i-1].Line {
			t.Errorf("problems not in line order: %v", ce.Problems)
		}
	}
	if !strings.HasPrefix(err.Error(), "invalid configuration many.yaml: 11 problem(s)") {
		t.Errorf("Error() = %q", err)
	}
}

func TestParseOneProblem(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(string) string
		path   string
		reason string
		marker string // text on the expected line (first occurrence); "" for no line check
	}{
		{
			// Given a date that matches the pattern but does not exist (Feb 30),
			// When it is parsed,
			// Then the problem is reported at service_start with its line.
			name: "impossible date",
			edit: func(s string) string {
				return strings.Replace(s, "service_start: 2026-01-01", "service_start: 2026-02-30", 1)
			},
			path:   "tenants[0].service_start",
			reason: "want YYYY-MM-DD",
			marker: "service_start:",
		},
		{
			// Given an impossible date and, elsewhere, an unknown rate card,
			// When it is parsed,
			// Then both are listed (a value that cannot be read does not hide the rest).
			name: "impossible date does not hide semantic problems",
			edit: func(s string) string {
				s = strings.Replace(s, "service_end: 2026-12-31", "service_end: 2026-13-01", 1)
				return strings.Replace(s, "rate_card: creator", "rate_card: other", 1)
			},
			path:   "tenants[0].rate_card",
			reason: `no rate card with id "other"`,
			marker: "rate_card:",
		},
		{
			// Given a grace period in words,
			// When it is parsed,
			// Then grace_period is refused.
			name:   "bad grace",
			edit:   func(s string) string { return "grace_period: 3 days\n" + s },
			path:   "grace_period",
			marker: "grace_period",
		},
		{
			// Given a negative grace period,
			// When it is parsed,
			// Then grace_period is refused.
			name:   "negative grace",
			edit:   func(s string) string { return "grace_period: -1h\n" + s },
			path:   "grace_period",
			marker: "grace_period",
		},
		{
			// Given the time zone "Local" (the machine's zone),
			// When it is parsed,
			// Then it is refused: results must not depend on the machine.
			name:   "Local time zone",
			edit:   func(s string) string { return strings.Replace(s, "Europe/Rome", "Local", 1) },
			path:   "tenants[0].timezone",
			reason: "unknown IANA time zone",
			marker: "timezone:",
		},
		{
			// Given a tenant without timezone,
			// When it is parsed,
			// Then one problem names the missing field (not also an unknown zone "").
			name:   "missing timezone",
			edit:   func(s string) string { return strings.Replace(s, "    timezone: Europe/Rome\n", "", 1) },
			path:   "tenants[0].timezone",
			reason: "missing required field",
			marker: "  - id: acme",
		},
		{
			// Given two versions of a rate card with the same effective_from,
			// When it is parsed,
			// Then the second version is refused.
			name: "duplicate rate card version",
			edit: func(s string) string {
				return strings.Replace(s, "tenants:\n", "  - id: creator\n    effective_from: 2026-01-01T00:00:00+01:00\n    rules: []\ntenants:\n", 1)
			},
			path:   "rate_cards[1].effective_from",
			reason: "already has a version",
		},
		{
			// Given one event type twice in a version,
			// When it is parsed,
			// Then the second rule's event_type is refused.
			name: "duplicate event type",
			edit: func(s string) string {
				return strings.Replace(s, "      - {event_type: video,", "      - {event_type: chat, kind: free}\n      - {event_type: video,", 1)
			},
			path:   "rate_cards[0].rules[1].event_type",
			reason: "appears twice",
		},
		{
			// Given an allowance on a per_event rule,
			// When it is parsed,
			// Then the allowance is refused.
			name: "allowance on per_event",
			edit: func(s string) string {
				return strings.Replace(s, "kind: per_event, credits: 10}", "kind: per_event, credits: 10, allowance: x}", 1)
			},
			path:   "rate_cards[0].rules[0].allowance",
			reason: "only per_unit",
		},
		{
			// Given credits with five decimal places,
			// When it is parsed,
			// Then they are refused (4 places at most).
			name:   "five decimal places",
			edit:   func(s string) string { return strings.Replace(s, "credits_plan: 100", "credits_plan: 100.00001", 1) },
			path:   "tenants[0].credits_plan",
			reason: "4 decimal places",
			marker: "credits_plan",
		},
		{
			// Given a credits plan of 10^13,
			// When it is parsed,
			// Then it is refused as too large for fixed-point sums.
			name: "too large",
			edit: func(s string) string {
				return strings.Replace(s, "credits_plan: 100", "credits_plan: 10000000000000", 1)
			},
			path:   "tenants[0].credits_plan",
			reason: "larger than",
		},
		{
			// Given a service_end before service_start,
			// When it is parsed,
			// Then service_end is refused.
			name: "service_end before start",
			edit: func(s string) string {
				return strings.Replace(s, "service_end: 2026-12-31", "service_end: 2025-12-31", 1)
			},
			path:   "tenants[0].service_end",
			reason: "before service_start",
			marker: "service_end",
		},
		{
			// Given the same deposit id twice,
			// When it is parsed,
			// Then the second is refused.
			name: "duplicate deposit",
			edit: func(s string) string {
				return strings.Replace(s, "at: 2026-01-01}\n", "at: 2026-01-01}\n      - {id: PO-1, credits: 1, at: 2026-02-01}\n", 1)
			},
			path:   "tenants[0].bank[1].id",
			reason: "listed twice",
			marker: "credits: 1, at",
		},
		{
			// Given the same member twice,
			// When it is parsed,
			// Then the second is refused.
			name: "duplicate member",
			edit: func(s string) string {
				return strings.Replace(s, "cap: 40}\n", "cap: 40}\n      - {user_id: u-7, cap: 1}\n", 1)
			},
			path:   "tenants[0].members[1].user_id",
			reason: "listed twice",
			marker: "cap: 1}",
		},
		{
			// Given a negative member cap,
			// When it is parsed,
			// Then one problem is reported for it (schema and validation agree, once).
			name:   "negative cap",
			edit:   func(s string) string { return strings.Replace(s, "cap: 40", "cap: -40", 1) },
			path:   "tenants[0].members[0].cap",
			reason: "minimum",
		},
		{
			// Given a threshold of 0,
			// When it is parsed,
			// Then it is refused.
			name:   "zero threshold",
			edit:   func(s string) string { return strings.Replace(s, "[0.9, 1.0]", "[0, 1.0]", 1) },
			path:   "tenants[0].notify.thresholds[0]",
			marker: "thresholds",
		},
		{
			// Given a per_unit rule without per,
			// When it is parsed,
			// Then the missing field is named.
			name:   "per_unit without per",
			edit:   func(s string) string { return strings.Replace(s, "per: 60, ", "", 1) },
			path:   "rate_cards[0].rules[1].per",
			reason: "missing required field",
		},
		{
			// Given a deposit dated with a time but no offset,
			// When it is parsed,
			// Then the deposit's at is refused, saying both accepted forms.
			name:   "deposit timestamp without offset",
			edit:   func(s string) string { return strings.Replace(s, "at: 2026-01-01}", "at: 2026-01-01T10:00:00}", 1) },
			path:   "tenants[0].bank[0].at",
			reason: "not a date YYYY-MM-DD, or",
			marker: "at: 2026",
		},
		{
			// Given no tenants key,
			// When it is parsed,
			// Then the missing field is named.
			name:   "no tenants",
			edit:   func(s string) string { return s[:strings.Index(s, "tenants:")] },
			path:   "tenants",
			reason: "missing required field",
		},
		{
			// Given a number the decimal type cannot read (hexadecimal),
			// When it is parsed,
			// Then the schema refuses the field with its line (and nothing panics).
			name:   "hex number",
			edit:   func(s string) string { return strings.Replace(s, "credits_plan: 100", "credits_plan: 0x1F", 1) },
			path:   "tenants[0].credits_plan",
			reason: "want number",
			marker: "credits_plan",
		},
		{
			// Given a currency in lower case,
			// When it is parsed,
			// Then currency is refused.
			name:   "currency",
			edit:   func(s string) string { return strings.Replace(s, "currency: EUR", "currency: eur", 1) },
			path:   "tenants[0].currency",
			marker: "currency",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.edit(validBase)
			_, err := ParseConfig([]byte(text), "c.yaml", "/cfg")
			ce := configError(t, err)
			var found *Problem
			for i := range ce.Problems {
				if ce.Problems[i].Path == tc.path {
					found = &ce.Problems[i]
				}
			}
			if found == nil {
				t.Fatalf("no problem at %s: %v", tc.path, err)
			}
			if !strings.Contains(found.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", found.Reason, tc.reason)
			}
			if found.Line <= 0 {
				t.Errorf("no line for %s", tc.path)
			}
			if tc.marker != "" {
				want := strings.Count(text[:strings.Index(text, tc.marker)], "\n") + 1
				if found.Line != want {
					t.Errorf("line %d, want %d", found.Line, want)
				}
			}
			paths := map[string]int{}
			for _, p := range ce.Problems {
				paths[p.Path]++
				if paths[p.Path] > 1 {
					t.Errorf("%s reported twice: %v", p.Path, err)
				}
			}
		})
	}
}

func TestParseBadFiles(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		path   string
		reason string
		line   int
	}{
		// Given an empty file, When parsed, Then refused as an empty configuration.
		{name: "empty", text: "", path: "(file)", reason: "empty configuration"},
		// Given only a comment, When parsed, Then refused as empty.
		{name: "comment only", text: "# nothing here\n", path: "(file)", reason: "empty configuration"},
		// Given an empty document, When parsed, Then refused: not an object.
		{name: "null document", text: "---\n", path: "(root)", reason: "want object"},
		// Given a list at the top, When parsed, Then refused: not an object.
		{name: "list", text: "- a\n- b\n", path: "(root)", reason: "want object", line: 1},
		// Given an unclosed flow sequence, When parsed, Then a YAML syntax error with its line.
		{name: "unclosed bracket", text: "source: raw\ntenants: [\n", path: "(file)", reason: "yaml:", line: 2},
		// Given a bad indentation, When parsed, Then a YAML syntax error with its line.
		{name: "bad indentation", text: "source: raw\noutput: out\n  warehouse: w\n", path: "(file)", reason: "yaml:", line: 3},
		// Given a tab-indented mapping, When parsed, Then a YAML syntax error.
		{name: "tab", text: "rate_cards:\n\t- id: x\n", path: "(file)", reason: "yaml:"},
		// Given a duplicated key, When parsed, Then it is refused at the second key, with its line.
		{name: "duplicate key", text: "source: a\nsource: b\n", path: "source", reason: "already defined", line: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.text), "bad.yaml", "/cfg")
			if cfg != nil {
				t.Error("configuration returned")
			}
			ce := configError(t, err)
			if len(ce.Problems) == 0 {
				t.Fatal("no problems listed")
			}
			var p *Problem
			for i := range ce.Problems {
				if ce.Problems[i].Path == tc.path && strings.Contains(ce.Problems[i].Reason, tc.reason) {
					p = &ce.Problems[i]
				}
			}
			if p == nil {
				t.Fatalf("no problem %s: ...%s...: %v", tc.path, tc.reason, err)
			}
			if tc.line > 0 && p.Line != tc.line {
				t.Errorf("line %d, want %d", p.Line, tc.line)
			}
		})
	}
}

func TestLoadConfigFiles(t *testing.T) {
	dir := t.TempDir()
	// Given no file at the path, When loaded, Then a plain read error (not a ConfigError).
	_, err := LoadConfig(filepath.Join(dir, "missing.yaml"))
	var ce *ConfigError
	if err == nil || errors.As(err, &ce) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// Given an empty file, When loaded, Then a ConfigError naming the file.
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(empty)
	if ce := configError(t, err); ce.File != empty || !strings.Contains(err.Error(), "empty configuration") {
		t.Errorf("empty file: %v", err)
	}
	// Given a valid file, When loaded through a relative path, Then Dir is absolute.
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(validBase), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != dir || cfg.Resolve("out") != filepath.Join(dir, "out") {
		t.Errorf("dir %q", cfg.Dir)
	}
}

func TestResolve(t *testing.T) {
	c := &Config{Dir: "/etc/cm"}
	tests := []struct{ in, want string }{
		// Given a relative path, When resolved, Then it is joined to the configuration's directory.
		{"raw", "/etc/cm/raw"},
		{"var/w.duckdb", "/etc/cm/var/w.duckdb"},
		// Given an absolute path, When resolved, Then it is kept.
		{"/data/raw", "/data/raw"},
		// Given an object store URL, When resolved, Then it is kept.
		{"s3://bucket/prefix/", "s3://bucket/prefix/"},
		// Given nothing, When resolved, Then nothing.
		{"", ""},
	}
	for _, tc := range tests {
		if got := c.Resolve(tc.in); got != tc.want {
			t.Errorf("Resolve(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConfigSchemaJSON(t *testing.T) {
	// Given the embedded schema, When it is read twice and the first copy is changed,
	// Then it is valid JSON and the second copy is untouched.
	a := ConfigSchemaJSON()
	var v map[string]any
	if err := json.Unmarshal(a, &v); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	a[0] = 'X'
	if b := ConfigSchemaJSON(); b[0] != '{' {
		t.Error("ConfigSchemaJSON shares its bytes")
	}
}
