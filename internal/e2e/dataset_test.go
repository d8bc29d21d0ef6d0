package e2e

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tenants' zones whatever the machine has

	"gopkg.in/yaml.v3"
)

// config is the part of a generated configuration the tests need to place events in their
// tenants' periods (FORMATS.md, "Configuration").
type config struct {
	Grace   time.Duration
	Tenants map[string]tenant
}

type tenant struct {
	ID           string
	Loc          *time.Location
	ServiceFrom  time.Time // service_start, tenant-local midnight
	ServiceUntil time.Time // the day after service_end, tenant-local midnight
}

// localMidnight is a tenant-local date's first instant.
func (tn tenant) localMidnight(date string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return time.Time{}, err
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, tn.Loc), nil
}

func readConfig(t *testing.T, p string) config {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Grace   string `yaml:"grace_period"`
		Tenants []struct {
			ID           string `yaml:"id"`
			Timezone     string `yaml:"timezone"`
			ServiceStart string `yaml:"service_start"`
			ServiceEnd   string `yaml:"service_end"`
		} `yaml:"tenants"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	cfg := config{Grace: 72 * time.Hour, Tenants: map[string]tenant{}}
	if raw.Grace != "" {
		if cfg.Grace, err = time.ParseDuration(raw.Grace); err != nil {
			t.Fatalf("%s: grace_period %q: %v", p, raw.Grace, err)
		}
	}
	for _, rt := range raw.Tenants {
		loc, err := time.LoadLocation(rt.Timezone)
		if err != nil {
			t.Fatalf("%s: tenant %s: %v", p, rt.ID, err)
		}
		tn := tenant{ID: rt.ID, Loc: loc}
		if tn.ServiceFrom, err = tn.localMidnight(rt.ServiceStart); err != nil {
			t.Fatalf("%s: tenant %s: service_start: %v", p, rt.ID, err)
		}
		end, err := tn.localMidnight(rt.ServiceEnd)
		if err != nil {
			t.Fatalf("%s: tenant %s: service_end: %v", p, rt.ID, err)
		}
		tn.ServiceUntil = end.AddDate(0, 0, 1)
		cfg.Tenants[rt.ID] = tn
	}
	if len(cfg.Tenants) == 0 {
		t.Fatalf("%s: no tenants", p)
	}
	return cfg
}

// rawEvent is what the tests read of an event line: its identity and time.
type rawEvent struct {
	Tenant, ID string
	At         time.Time
}

// readObject reads the events of a raw object (JSON Lines or CSV, maybe gzip). Lines that do
// not parse, or whose occurred_at is not RFC 3339, are left out: the pipeline quarantines them
// whenever they arrive.
func readObject(p string) ([]rawEvent, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	name := strings.TrimSuffix(p, ".gz")
	if name != p {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	}
	var out []rawEvent
	add := func(tenant, id, at string) {
		ts, err := time.Parse(time.RFC3339Nano, at)
		if err != nil || tenant == "" || id == "" {
			return
		}
		out = append(out, rawEvent{Tenant: tenant, ID: id, At: ts})
	}
	switch {
	case strings.HasSuffix(name, ".jsonl"):
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var v struct {
				Tenant any `json:"tenant_id"`
				ID     any `json:"event_id"`
				At     any `json:"occurred_at"`
			}
			if json.Unmarshal(sc.Bytes(), &v) != nil {
				continue
			}
			tn, _ := v.Tenant.(string)
			id, _ := v.ID.(string)
			at, _ := v.At.(string)
			add(tn, id, at)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	case strings.HasSuffix(name, ".csv"):
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		header, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: header: %w", p, err)
		}
		col := map[string]int{}
		for i, h := range header {
			col[strings.TrimSpace(h)] = i
		}
		field := func(rec []string, name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					continue
				}
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			add(field(rec, "tenant_id"), field(rec, "event_id"), field(rec, "occurred_at"))
		}
	default:
		return nil, fmt.Errorf("%s: not an event object the tests can read", p)
	}
	return out, nil
}

// objectSpan is the time range of the events of an object that bear on lateness.
type objectSpan struct {
	Key      string
	Min, Max time.Time
	Events   int // events counted in the span
}

// objectSpans reads the objects in key order and, for each, the earliest and latest time of
// the events that a run may bill: a known tenant, inside its service period, and an identity
// (tenant_id, event_id) not seen in an earlier line. A repeated identity is a duplicate or a
// conflicting duplicate of the first one (BILLING.md section 2: the first by key, or the one
// already billed in a final period, which is then the same one), never a late event of its
// own. This relies on the generator's duplicates repeating good events only.
func objectSpans(t *testing.T, ds dataset, cfg config) []objectSpan {
	t.Helper()
	seen := map[string]bool{}
	var spans []objectSpan
	for _, k := range ds.Objects {
		evs, err := readObject(filepath.Join(ds.Raw, filepath.FromSlash(k)))
		if err != nil {
			t.Fatal(err)
		}
		sp := objectSpan{Key: k}
		for _, e := range evs {
			id := e.Tenant + "\x00" + e.ID
			if seen[id] {
				continue
			}
			seen[id] = true
			tn, ok := cfg.Tenants[e.Tenant]
			if !ok || e.At.Before(tn.ServiceFrom) || !e.At.Before(tn.ServiceUntil) {
				continue
			}
			if sp.Events == 0 || e.At.Before(sp.Min) {
				sp.Min = e.At
			}
			if sp.Events == 0 || e.At.After(sp.Max) {
				sp.Max = e.At
			}
			sp.Events++
		}
		spans = append(spans, sp)
	}
	return spans
}
