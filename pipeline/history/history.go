// Package history holds what a run needs to know of earlier runs before it starts: which
// periods are final, whether the configuration may still apply to them (BILLING.md section
// 4, "Final is final"), and what each tenant's results were last computed from, so that a
// run recomputes only the tenants that changed (section 5, "Cost").
package history

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/periods"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// FinalPeriod is a period an earlier run finalized.
type FinalPeriod struct {
	Index      int
	Start, End string // tenant-local dates, YYYY-MM-DD, end exclusive
}

// Calendar is the calendar a tenant's final periods were computed with.
type Calendar struct {
	Timezone, Period         string
	AnchorDay                int
	ServiceStart, ServiceEnd string // YYYY-MM-DD
}

// State is what earlier runs left that decides what this run may do.
type State struct {
	Final     map[string][]FinalPeriod // by tenant id, by index
	Calendars map[string]Calendar      // tenants with final periods
}

// Read loads the final periods and calendars from the warehouse.
func Read(ctx context.Context, conn *sql.Conn) (*State, error) {
	st := &State{Final: map[string][]FinalPeriod{}, Calendars: map[string]Calendar{}}
	rows, err := warehouse.Query(ctx, conn, "history_final.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var tenant string
		var p FinalPeriod
		if err := rows.Scan(&tenant, &p.Index, &p.Start, &p.End); err != nil {
			return nil, fmt.Errorf("read final periods: %w", err)
		}
		st.Final[tenant] = append(st.Final[tenant], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read final periods: %w", err)
	}
	crows, err := warehouse.Query(ctx, conn, "history_calendar.sql")
	if err != nil {
		return nil, err
	}
	defer crows.Close()
	for crows.Next() {
		var tenant string
		var c Calendar
		if err := crows.Scan(&tenant, &c.Timezone, &c.Period, &c.AnchorDay, &c.ServiceStart, &c.ServiceEnd); err != nil {
			return nil, fmt.Errorf("read tenant calendars: %w", err)
		}
		st.Calendars[tenant] = c
	}
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("read tenant calendars: %w", err)
	}
	return st, nil
}

// IsFinal reports whether the tenant's period starting on start (YYYY-MM-DD) is final.
func (s *State) IsFinal(tenant, start string) bool {
	for _, p := range s.Final[tenant] {
		if p.Start == start {
			return true
		}
	}
	return false
}

// CalendarOf is the calendar a tenant is configured with.
func CalendarOf(t *schemas.Tenant) Calendar {
	anchor := t.AnchorDay
	if anchor == 0 {
		anchor = 1
	}
	return Calendar{Timezone: t.Timezone, Period: t.Period, AnchorDay: anchor,
		ServiceStart: t.ServiceStart.String(), ServiceEnd: t.ServiceEnd.String()}
}

// Check refuses a configuration that would move or remove a final period (BILLING.md
// section 4): another timezone, period, anchor_day or service_start for a tenant with final
// periods, a service_end before its last final period, or the tenant gone. Every problem is
// listed, naming the tenant and the period; the result is nil when there is none.
func (s *State) Check(cfg *schemas.Config, file string) *schemas.ConfigError {
	var probs []schemas.Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, schemas.Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	ids := make([]string, 0, len(s.Final))
	for id := range s.Final {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		finals := s.Final[id]
		last := finals[len(finals)-1]
		lastText := fmt.Sprintf("final period %s to %s", last.Start, last.End)
		idx := -1
		for i := range cfg.Tenants {
			if cfg.Tenants[i].ID == id {
				idx = i
			}
		}
		if idx < 0 {
			add("tenants", "tenant %s has final periods (the last: %s) and cannot be removed", id, lastText)
			continue
		}
		t := &cfg.Tenants[idx]
		p := fmt.Sprintf("tenants[%d]", idx)
		moved := false
		if was, ok := s.Calendars[id]; ok {
			now := CalendarOf(t)
			for _, f := range []struct {
				field     string
				was, want string
			}{
				{"timezone", was.Timezone, now.Timezone},
				{"period", was.Period, now.Period},
				{"anchor_day", fmt.Sprint(was.AnchorDay), fmt.Sprint(now.AnchorDay)},
				{"service_start", was.ServiceStart, now.ServiceStart},
			} {
				if f.was != f.want {
					moved = true
					add(p+"."+f.field, "tenant %s has final periods (the last: %s): %s cannot change from %s to %s",
						id, lastText, f.field, f.was, f.want)
				}
			}
		}
		ps, err := periods.For(t)
		if err != nil || moved {
			continue // reported: by the configuration's own validation, or just above
		}
		for _, f := range finals {
			if f.Index >= len(ps) || ps[f.Index].StartDate.String() != f.Start || ps[f.Index].EndDate.String() != f.End {
				add(p+".service_end", "tenant %s: final period %s to %s would move or go (service_end %s is before its end)",
					id, f.Start, f.End, t.ServiceEnd)
				break
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return &schemas.ConfigError{File: file, Problems: probs}
}

// digestVersion changes when what a tenant's open outputs show changes with the software, so
// that open outputs are computed again (final ones never are).
const digestVersion = "creditmeter-tenant-v2"

// Digest is a fingerprint of everything a tenant's results and documents depend on in the
// configuration: its contract, the versions of its rate card, the grace period and its
// notifications. A run recomputes a tenant whose digest changed.
func Digest(cfg *schemas.Config, t *schemas.Tenant) string {
	type card struct {
		From  time.Time
		Rules []schemas.Rule
	}
	var cards []card
	for _, rc := range cfg.RateCards {
		if rc.ID == t.RateCard {
			cards = append(cards, card{rc.EffectiveFrom.UTC(), rc.Rules})
		}
	}
	sort.Slice(cards, func(i, j int) bool { return cards[i].From.Before(cards[j].From) })
	v := struct {
		Version string
		Tenant  schemas.Tenant
		Cards   []card
		Grace   time.Duration
	}{digestVersion, *t, cards, cfg.GracePeriod.Duration}
	v.Tenant.Location = nil
	b, err := json.Marshal(v)
	if err != nil {
		// the configuration is plain data: this cannot happen
		return "unencodable:" + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Horizon is the index of the period containing now, or the last period when now is past
// the contract, or the first when it is before it.
func Horizon(ps []periods.Period, now time.Time) int {
	if i := periods.Containing(ps, now); i >= 0 {
		return i
	}
	if len(ps) > 0 && !now.Before(ps[len(ps)-1].End) {
		return len(ps) - 1
	}
	return 0
}
