package schemas

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bomb is a "billion laughs" configuration: levels of anchors, each aliasing the one above
// nine times, 9^levels nodes once expanded.
func bomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// problemWith returns the problem at path whose reason contains reason, or nil.
func problemWith(err error, path, reason string) *Problem {
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return nil
	}
	for i := range ce.Problems {
		if ce.Problems[i].Path == path && strings.Contains(ce.Problems[i].Reason, reason) {
			return &ce.Problems[i]
		}
	}
	return nil
}

// TestParseRefusesAliasBomb: a configuration whose aliases expand past the node budget is
// refused before anything expands them, fast and in little memory. (It grew to 22 GB and
// ignored SIGTERM.)
func TestParseRefusesAliasBomb(t *testing.T) {
	// Given a moderate bomb first (531,441 nodes: harmless even when expanded), so that a
	// regression fails here rather than eating the machine with the real one below.
	_, err := ParseConfig([]byte(bomb(5)), "bomb.yaml", "/cfg")
	if problemWith(err, "(file)", fmt.Sprintf("aliases expand to more than %d nodes", MaxAliasNodes)) == nil {
		t.Fatalf("a 531,441-node alias expansion is not refused: %v", err)
	}
	// Given the real one: 9 levels, 387,420,489 nodes from a few hundred bytes.
	text := bomb(8)
	if len(text) > 600 {
		t.Fatalf("the bomb is %d bytes", len(text))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	cfg, err := ParseConfig([]byte(text), "bomb.yaml", "/cfg")
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	// Then it is refused whole, as a problem of the file, in well under a second and with
	// little memory.
	if cfg != nil {
		t.Fatal("configuration returned")
	}
	if problemWith(err, "(file)", "aliases expand to more than") == nil {
		t.Fatalf("bomb not refused for its aliases: %v", err)
	}
	if took > 250*time.Millisecond {
		t.Errorf("refusing the bomb took %v", took)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
}

// TestParseRefusesAliasText: one long scalar aliased many times is refused by the text
// budget (the schema checks would scan every copy).
func TestParseRefusesAliasText(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	text := "issuer: {name: &n " + big + "}\nschedule: [" + strings.TrimSuffix(strings.Repeat("*n, ", 64), ", ") + "]\n"
	start := time.Now()
	_, err := ParseConfig([]byte(text), "text.yaml", "/cfg")
	if problemWith(err, "(file)", "aliases expand to more than") == nil {
		t.Fatalf("64 MiB of aliased text not refused: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}

// TestParseAliasesWithinBudget: ordinary anchors and merge keys still work.
func TestParseAliasesWithinBudget(t *testing.T) {
	text := strings.Replace(validBase, "overage: {policy: bill, price_per_credit: 0.05}",
		"overage: &ov {policy: bill, price_per_credit: 0.05}", 1) + `  - id: beta
    rate_card: creator
    timezone: UTC
    currency: EUR
    period: monthly
    service_start: 2026-01-01
    service_end: 2026-12-31
    credits_plan: 10
    overage: *ov
`
	cfg, err := ParseConfig([]byte(text), "ok.yaml", "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tenants[1].Overage.PricePerCredit.String(); got != "0.05" {
		t.Errorf("aliased overage price %s", got)
	}
}

// TestParseRefusesAliasCycle: an anchor whose value contains its own alias is refused (it
// overflowed the stack).
func TestParseRefusesAliasCycle(t *testing.T) {
	for _, text := range []string{
		"a: &a [*a]\n",
		"a: &a {b: [1, {c: *a}]}\n",
		"x: &a [1]\ny: &a [*a, *a]\n", // a redefined anchor whose value names itself
	} {
		_, err := ParseConfig([]byte(text), "cycle.yaml", "/cfg")
		if problemWith(err, "(file)", "contains itself") == nil {
			t.Errorf("%q: cycle not refused: %v", text, err)
		}
	}
}

// TestParseRefusesLargeFile: more than 4 MiB is refused before it is decoded, whether the
// bytes come from ParseConfig's caller or from a file (read no further than the limit).
func TestParseRefusesLargeFile(t *testing.T) {
	big := []byte(validBase + "# " + strings.Repeat("x", MaxConfigBytes) + "\n")
	_, err := ParseConfig(big, "big.yaml", "/cfg")
	if problemWith(err, "(file)", "larger than 4 MiB") == nil {
		t.Errorf("ParseConfig: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(path)
	if problemWith(err, "(file)", "larger than 4 MiB") == nil {
		t.Errorf("LoadConfig: %v", err)
	}
	// A device that never ends is read up to the limit only.
	if _, err := os.Stat("/dev/zero"); err == nil {
		done := make(chan error, 1)
		go func() { _, err := LoadConfig("/dev/zero"); done <- err }()
		select {
		case err := <-done:
			if problemWith(err, "(file)", "larger than 4 MiB") == nil {
				t.Errorf("/dev/zero: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("LoadConfig(/dev/zero) does not return")
		}
	}
}

// TestParseSchedules: every command refuses a schedule that does not parse, at its own
// field path; good ones (five fields, descriptors, CRON_TZ= and TZ=) are accepted.
func TestParseSchedules(t *testing.T) {
	good := []string{`"CRON_TZ=UTC 0 2,8,14,20 * * *"`, `"TZ=Europe/Rome 30 7 * * 1-5"`, `"@daily"`,
		`"@every 6h"`, `"15 6 * * *"`, `"  CRON_TZ=America/New_York 0 9 * * *  "`}
	cfg, err := ParseConfig([]byte(validBase+"schedule: ["+strings.Join(good, ", ")+"]\n"), "ok.yaml", "/cfg")
	if err != nil {
		t.Fatalf("good schedules refused: %v", err)
	}
	if len(cfg.Schedule) != len(good) {
		t.Errorf("schedules %v", cfg.Schedule)
	}
	for _, c := range []struct{ spec, reason string }{
		{`"0 0 2 * * *"`, "expected exactly 5 fields"},       // seconds field
		{`"CRON_TZ=Mars/Olympus 0 2 * * *"`, "Mars/Olympus"}, // zone that does not load
		{`"every day"`, "expected exactly 5 fields"},
		{`"61 * * * *"`, "above maximum"},
		{`"@fortnightly"`, "unrecognized descriptor"},
		{`"@every soon"`, "failed to parse duration"},
		{`"@every -1h"`, "must be positive"},
		{`"0 0 31 2 *"`, "never fires"},
		{`"CRON_TZ="`, ""},
	} {
		text := validBase + "schedule: [\"@daily\", " + c.spec + "]\n"
		_, err := ParseConfig([]byte(text), "bad.yaml", "/cfg")
		p := problemWith(err, "schedule[1]", c.reason)
		if p == nil {
			t.Errorf("%s: not refused at schedule[1] (%s): %v", c.spec, c.reason, err)
			continue
		}
		if p.Line != strings.Count(validBase, "\n")+1 {
			t.Errorf("%s: line %d", c.spec, p.Line)
		}
	}
}

// TestParseLimits: the limits block, its units, its defaults and what it refuses.
func TestParseLimits(t *testing.T) {
	// Given no limits block, Then the defaults.
	cfg, err := ParseConfig([]byte(validBase), "ok.yaml", "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{MaxObjectBytes: 1 << 30, MaxLineBytes: 1 << 20, MaxAttributes: 256, MaxObjectsPerRun: 100_000}
	if cfg.Limits != want {
		t.Errorf("defaults %+v, want %+v", cfg.Limits, want)
	}
	if cfg.LockTTL.Duration != 2*time.Minute {
		t.Errorf("lock_ttl default %v", cfg.LockTTL)
	}
	// Given some keys, Then those are read and the others take their defaults.
	for _, c := range []struct {
		text string
		want Limits
	}{
		{"{max_object_bytes: 512MiB}", Limits{512 << 20, 1 << 20, 256, 100_000}},
		{"{max_object_bytes: 2GB, max_line_bytes: 64KB}", Limits{2_000_000_000, 64_000, 256, 100_000}},
		{"{max_object_bytes: 1048576, max_line_bytes: \"4096 B\"}", Limits{1 << 20, 4096, 256, 100_000}},
		{"{max_line_bytes: 3KiB, max_attributes: 16, max_objects_per_run: 500}", Limits{1 << 30, 3 << 10, 16, 500}},
		{"{max_object_bytes: 5MB, max_line_bytes: 1GiB}", Limits{5_000_000, 1 << 30, 256, 100_000}},
		{"{}", want},
	} {
		cfg, err := ParseConfig([]byte(validBase+"limits: "+c.text+"\n"), "ok.yaml", "/cfg")
		if err != nil {
			t.Errorf("%s: %v", c.text, err)
			continue
		}
		if cfg.Limits != c.want {
			t.Errorf("%s: %+v, want %+v", c.text, cfg.Limits, c.want)
		}
	}
	// Given a bad value, Then the configuration is refused at the field.
	for _, c := range []struct{ text, path, reason string }{
		{"{max_object_bytes: 0}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: -5}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: 0MiB}", "limits.max_object_bytes", "greater than 0"},
		{"{max_object_bytes: 1.5GiB}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: 1.5}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: 1e9}", "limits.max_object_bytes", "whole number"},
		{"{max_object_bytes: 10TB}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: 5000GiB}", "limits.max_object_bytes", "at most"},
		{"{max_object_bytes: 99999999999999999999999}", "limits.max_object_bytes", ""},
		{"{max_object_bytes: 99999999999999999999GiB}", "limits.max_object_bytes", "too large"},
		{"{max_object_bytes: \"1024\"}", "limits.max_object_bytes", ""},
		{"{max_line_bytes: 2GiB}", "limits.max_line_bytes", "at most"},
		{"{max_line_bytes: 1 gib}", "limits.max_line_bytes", ""},
		{"{max_attributes: 0}", "limits.max_attributes", ""},
		{"{max_attributes: 1000000}", "limits.max_attributes", ""},
		{"{max_objects_per_run: -1}", "limits.max_objects_per_run", ""},
		{"{max_objects_per_run: 9999999999999}", "limits.max_objects_per_run", ""},
		{"{max_files: 3}", "limits.max_files", "unknown field"},
	} {
		cfg, err := ParseConfig([]byte(validBase+"limits: "+c.text+"\n"), "bad.yaml", "/cfg")
		if cfg != nil || problemWith(err, c.path, c.reason) == nil {
			t.Errorf("%s: not refused at %s (%s): %v", c.text, c.path, c.reason, err)
		}
	}
}

// TestParseLockTTL: lock_ttl is a duration of at least 10s and at most an hour.
func TestParseLockTTL(t *testing.T) {
	cfg, err := ParseConfig([]byte(validBase+"lock_ttl: 45s\n"), "ok.yaml", "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LockTTL.Duration != 45*time.Second {
		t.Errorf("lock_ttl %v", cfg.LockTTL)
	}
	for _, v := range []string{"5s", "0s", "2h", "forever", "9999999999h"} {
		_, err := ParseConfig([]byte(validBase+"lock_ttl: "+v+"\n"), "bad.yaml", "/cfg")
		if problemWith(err, "lock_ttl", "") == nil {
			t.Errorf("lock_ttl %s: %v", v, err)
		}
	}
}

// TestParseRefusesValuesTheWarehouseCannotHold: values the warehouse rounded without a
// word (a threshold or a ratio finer than 6 places: a threshold of 0.0000001 became 0 and
// was never notified), thresholds and ratios past any meaning, an SMTP sender that injects
// headers, a tenant id no file name can hold (every run failed to publish), locations no store can open, and an
// analysts' copy that would replace the warehouse.
func TestParseRefusesValuesTheWarehouseCannotHold(t *testing.T) {
	for _, c := range []struct{ from, to, path string }{
		{"thresholds: [0.9, 1.0]", "thresholds: [0.9, 1000000000000]", "tenants[0].notify.thresholds[1]"},
		{"thresholds: [0.9, 1.0]", "thresholds: [0.9, 0.0000001]", "tenants[0].notify.thresholds[1]"},
		{"{event_type: chat, kind: per_event, credits: 10}",
			"{event_type: chat, kind: per_event_if_ratio, credits: 10, ratio_attribute: s, min_ratio: 1000000000000}",
			"rate_cards[0].rules[0].min_ratio"},
		{"{event_type: chat, kind: per_event, credits: 10}",
			"{event_type: chat, kind: per_event_if_ratio, credits: 10, ratio_attribute: s, min_ratio: 0.3000001}",
			"rate_cards[0].rules[0].min_ratio"},
		{"{event_type: chat, kind: per_event, credits: 10}",
			"{event_type: chat, kind: per_token, input_per_1k: 0.00000000001, output_per_1k: 1}",
			"rate_cards[0].rules[0].input_per_1k"},
		{"  - id: acme\n", "  - id: " + strings.Repeat("a", 250) + "\n", "tenants[0].id"}, // tenant_id=<id> is a directory name
		{"source: raw", "source: s3://", "source"},
		{"source: raw", "source: ftp://host/raw", "source"},
		{"output: out", "output: \"s3:///out\"", "output"},
		{"output: out", "output: \"out\\0x\"", "output"},
	} {
		text := strings.Replace(validBase, c.from, c.to, 1)
		if text == validBase {
			t.Fatalf("%s not in the base", c.from)
		}
		cfg, err := ParseConfig([]byte(text), "bad.yaml", "/cfg")
		if cfg != nil || problemWith(err, c.path, "") == nil {
			t.Errorf("%s: not refused at %s: %v", c.to, c.path, err)
		}
	}
	text := validBase + "smtp: {host: mail.example, from: \"billing@example.com\\r\\nBcc: spy@evil.example\"}\n"
	if _, err := ParseConfig([]byte(text), "bad.yaml", "/cfg"); problemWith(err, "smtp.from", "") == nil {
		t.Errorf("smtp.from with a header in it accepted: %v", err)
	}
	// warehouse and the analysts' copy are local files
	for _, kv := range []string{"warehouse: s3://b/w.duckdb", "analytics: {local_copy: \"s3://b/a.duckdb\"}"} {
		if _, err := ParseConfig([]byte(validBase+kv+"\n"), "bad.yaml", "/cfg"); err == nil {
			t.Errorf("%s accepted", kv)
		}
	}
	// the analysts' copy replaces its file after each run: never the warehouse
	text = validBase + "warehouse: var/w.duckdb\nanalytics: {local_copy: ./var/../var/w.duckdb}\n"
	if _, err := ParseConfig([]byte(text), "bad.yaml", "/cfg"); problemWith(err, "analytics.local_copy", "warehouse") == nil {
		t.Errorf("local_copy on the warehouse accepted: %v", err)
	}
	// and the good forms still pass
	for _, kv := range []string{"warehouse: /var/lib/cm/w.duckdb", "source: s3://ai-events/raw/", "output: s3://ai-billing"} {
		text := validBase + kv + "\n"
		if strings.HasPrefix(kv, "source:") {
			text = strings.Replace(validBase, "source: raw", kv, 1)
		} else if strings.HasPrefix(kv, "output:") {
			text = strings.Replace(validBase, "output: out", kv, 1)
		}
		if _, err := ParseConfig([]byte(text), "ok.yaml", "/cfg"); err != nil {
			t.Errorf("%s refused: %v", kv, err)
		}
	}
}
