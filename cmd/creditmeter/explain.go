package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/pipeline/periods"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// cmdExplain answers "why did this event cost what it cost?": where the event was read,
// which rule rated it and from which inputs, how its credits were funded and what that left,
// which period bills it and which invoice line; or why it is in quarantine. The warehouse
// is opened read-only.
func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML): the rules, deposits, allowances and caps")
	wh := fs.String("warehouse", "", "DuckDB warehouse file (overrides the configuration)")
	event := fs.String("event", "", "the event_id")
	tenant := fs.String("tenant", "", "the tenant_id (an event's identity is its tenant and its event_id)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	restricted := fs.Bool("restricted", false, "also print personal data: the raw text of each line, usernames and names")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, usageError{fmt.Errorf("explain: unexpected argument %q", fs.Arg(0))})
	}
	if *cfgPath == "" || *event == "" || *tenant == "" {
		fmt.Fprintln(stderr, "creditmeter explain: --config, --event and --tenant are required")
		return exitUsage
	}
	cfg, err := schemas.LoadConfig(*cfgPath)
	if err != nil {
		return exitCode(stderr, usageError{err})
	}
	path := *wh
	if path == "" {
		path = cfg.Resolve(cfg.Warehouse)
	}
	if path == "" {
		return exitCode(stderr, usageError{errors.New("explain: no warehouse (--warehouse or warehouse: in the configuration)")})
	}
	db, conn, err := openReadOnly(ctx, path)
	if err != nil {
		return exitCode(stderr, err)
	}
	defer db.Close()
	defer conn.Close()
	x, err := explain(ctx, conn, cfg, *tenant, *event, *restricted)
	if err != nil {
		return exitCode(stderr, err)
	}
	if *asJSON {
		b, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			return exitCode(stderr, fmt.Errorf("explain: encode: %w", err))
		}
		_, err = stdout.Write(append(b, '\n'))
		return exitCode(stderr, err)
	}
	return exitCode(stderr, x.writeText(stdout))
}

// openReadOnly opens the warehouse read-only on one connection: the commands that answer
// questions (explain, diff, validate) never write.
func openReadOnly(ctx context.Context, path string) (*sql.DB, *sql.Conn, error) {
	db, err := warehouse.OpenReadOnly(path)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		if strings.Contains(err.Error(), "lock") {
			return nil, nil, fmt.Errorf("open warehouse %s read-only: %w (a run holds it: try again when it is done)", path, err)
		}
		return nil, nil, fmt.Errorf("open warehouse %s read-only: %w", path, err)
	}
	return db, conn, nil
}

// explanation is what `creditmeter explain` prints, as text or JSON. Amounts are decimal
// text (credits to 4 places, trailing zeros trimmed); dates are tenant-local YYYY-MM-DD,
// period ends exclusive; instants are RFC 3339.
type explanation struct {
	TenantID string `json:"tenant_id"`
	EventID  string `json:"event_id"`
	// Outcome is accepted, quarantined or not_validated (loaded, not yet validated by a run).
	Outcome string `json:"outcome"`
	// Reason and Field say why the event is in quarantine.
	Reason string `json:"reason,omitempty"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Lines are every stored line with this identity, the first one (the event) first.
	Lines   []explainLine   `json:"lines"`
	Event   *explainEvent   `json:"event,omitempty"`
	Rating  *explainRating  `json:"rating,omitempty"`
	Funding *explainFunding `json:"funding,omitempty"`
	Period  *explainPeriod  `json:"period,omitempty"`
	Invoice *explainInvoice `json:"invoice,omitempty"`
	Notes   []string        `json:"notes,omitempty"`

	cfg    *schemas.Config
	tenant *schemas.Tenant   // nil when the configuration does not know the tenant
	ps     []periods.Period  // the tenant's periods
	first  *explainLine      // the first line of the identity, if any
	fate   *eventRow         // the first line's fate
	nat    *periods.Period   // the period containing occurred_at
	rc     *schemas.RateCard // the rate-card version that rated it
}

// explainLine is one stored line of the identity.
type explainLine struct {
	ObjectKey    string `json:"object_key"`
	ObjectNo     int64  `json:"object_no"`
	ObjectStatus string `json:"object_status"` // read, or replaced by a newer version of the key
	LineNo       int64  `json:"line_no"`
	LineID       int64  `json:"line_id"`
	ReadByRun    string `json:"read_by_run,omitempty"`
	// Role is first (the event), duplicate (an exact repeat of the first, ignored),
	// conflicting_duplicate (quarantined: the first stands) or quarantined (at parsing).
	Role   string  `json:"role"`
	Reason string  `json:"reason,omitempty"`
	Field  string  `json:"field,omitempty"`
	Detail string  `json:"detail,omitempty"`
	Raw    *string `json:"raw,omitempty"` // --restricted only
}

// explainEvent is the event as read.
type explainEvent struct {
	OccurredAt      string          `json:"occurred_at"`
	OccurredAtLocal string          `json:"occurred_at_local,omitempty"` // in the tenant's zone
	Timezone        string          `json:"timezone,omitempty"`
	UserID          string          `json:"user_id"`
	DomainName      string          `json:"domain_name,omitempty"`
	EventType       string          `json:"event_type"`
	EventValue      string          `json:"event_value"`
	EventUnit       string          `json:"event_unit"`
	Preview         bool            `json:"preview"`
	Attributes      json.RawMessage `json:"attributes,omitempty"`
	Username        *string         `json:"username,omitempty"` // --restricted only
	FirstName       *string         `json:"first_name,omitempty"`
	LastName        *string         `json:"last_name,omitempty"`
}

// explainRating is the rule and its inputs (BILLING.md section 1).
type explainRating struct {
	RateCardVersion string       `json:"rate_card_version,omitempty"`
	Rule            *explainRule `json:"rule,omitempty"`
	Inputs          []explainKV  `json:"inputs,omitempty"`
	// Reason is preview, free_feature or below_threshold when the event is rated 0.
	Reason string `json:"reason,omitempty"`
	// Computation shows how the rated credits come out of the inputs.
	Computation string `json:"computation,omitempty"`
	Credits     string `json:"rated_credits,omitempty"`
}

// explainRule is a rate-card rule as configured.
type explainRule struct {
	EventType      string `json:"event_type"`
	Kind           string `json:"kind"`
	Credits        string `json:"credits,omitempty"`
	RatioAttribute string `json:"ratio_attribute,omitempty"`
	MinRatio       string `json:"min_ratio,omitempty"`
	Per            string `json:"per,omitempty"`
	Rounding       string `json:"rounding,omitempty"`
	Allowance      string `json:"allowance,omitempty"`
	InputPer1k     string `json:"input_per_1k,omitempty"`
	OutputPer1k    string `json:"output_per_1k,omitempty"`
}

// explainKV is one named input.
type explainKV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// explainFunding is the waterfall for the event (BILLING.md section 3). Before and After
// are recomputed (see Recomputed).
type explainFunding struct {
	Rated     string            `json:"rated_credits"`
	Allowance *explainAllowance `json:"allowance,omitempty"`
	MemberCap *explainCap       `json:"member_cap,omitempty"`
	Plan      explainBucket     `json:"plan"`
	Bank      explainBucket     `json:"bank"`
	Exceeding string            `json:"exceeding"`
	Blocked   string            `json:"blocked"`
	// BlockedByCap and BlockedByPolicy split Blocked: the member cap, or the hard stop.
	BlockedByCap    string `json:"blocked_by_member_cap,omitempty"`
	BlockedByPolicy string `json:"blocked_by_hard_stop,omitempty"`
	Policy          string `json:"policy,omitempty"`
	// EventsBefore counts the events funded before it in its billed period.
	EventsBefore int64  `json:"events_before_in_period"`
	Recomputed   string `json:"recomputed"`
}

// explainBucket is what one bucket gave and what it held before and after.
type explainBucket struct {
	Credits string `json:"credits"`
	Before  string `json:"before"`
	After   string `json:"after"`
	// Of is the plan of the period, or the deposits the event sees (bank).
	Of   string `json:"of"`
	Note string `json:"note,omitempty"`
}

// explainAllowance is the allowance pool used.
type explainAllowance struct {
	Pool    string             `json:"pool"`
	Blocks  string             `json:"blocks"`
	Covered string             `json:"units_covered"`
	Before  string             `json:"left_before"`
	After   string             `json:"left_after"`
	Entries []explainPoolEntry `json:"entries"`
}

// explainPoolEntry is one of the pool's allowances, in contract order.
type explainPoolEntry struct {
	Name    string `json:"name"`
	Units   string `json:"units"`
	Covered string `json:"units_covered"`
}

// explainCap is the member's cap over the whole contract.
type explainCap struct {
	UserID       string `json:"user_id"`
	Cap          string `json:"cap"`
	FundedBefore string `json:"funded_before"`
	Before       string `json:"left_before"`
	After        string `json:"left_after"`
}

// explainPeriod is the billing period.
type explainPeriod struct {
	Start  string `json:"billed_period_start"`
	End    string `json:"billed_period_end,omitempty"`
	Status string `json:"status"` // open, final, or unreported (after --now)
	// Run is the run that finalized the period (final) or last validated the event (open).
	Run         string `json:"run,omitempty"`
	CreditsPlan string `json:"credits_plan,omitempty"`
	Late        bool   `json:"late"`
	OwnStart    string `json:"own_period_start,omitempty"`
	OwnEnd      string `json:"own_period_end,omitempty"`
}

// explainInvoice is the invoice and line that bill the event's exceeding credits.
type explainInvoice struct {
	Number      string `json:"invoice_number,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Amount      string `json:"invoice_amount,omitempty"` // the sum of its lines (invoices.amount)
	IssuedOn    string `json:"issued_on,omitempty"`
	IssuedByRun string `json:"issued_by_run,omitempty"`
	Line        int64  `json:"line,omitempty"`
	Description string `json:"description,omitempty"`
	Quantity    string `json:"quantity,omitempty"`
	UnitPrice   string `json:"unit_price,omitempty"`
	LineAmount  string `json:"line_amount,omitempty"`
	// Share is the event's exceeding credits times the unit price, before rounding.
	Share string `json:"event_share,omitempty"`
	// Note says why nothing of the event is invoiced, when it is not.
	Note string `json:"note,omitempty"`
}

// eventRow is explain_event.sql's row.
type eventRow struct {
	source, userID, eventType                 string
	occurredUS                                int64
	domain                                    sql.NullString
	value, unit                               string
	preview                                   bool
	attributes, run, reason, field            sql.NullString
	billedStart, billedEnd                    sql.NullString
	late                                      sql.NullBool
	version, rateReason, pool                 sql.NullString
	rated, allowance, plan, bank, exceed, blk sql.NullInt64
	periodStatus, creditsPlan                 sql.NullString
	username, firstName, lastName             sql.NullString
}

// errNoEvent is returned when the warehouse has no line of the identity.
var errNoEvent = errors.New("no such event")

// explain gathers everything the warehouse and the configuration say about one event.
func explain(ctx context.Context, conn *sql.Conn, cfg *schemas.Config, tenant, event string, restricted bool) (*explanation, error) {
	x := &explanation{TenantID: tenant, EventID: event, cfg: cfg, tenant: cfg.Tenant(tenant)}
	if err := x.readLines(ctx, conn, restricted); err != nil {
		return nil, err
	}
	if len(x.Lines) == 0 {
		return nil, fmt.Errorf("explain: %w: the warehouse has no line of tenant %q with event_id %q", errNoEvent, tenant, event)
	}
	if x.tenant == nil {
		x.Notes = append(x.Notes, fmt.Sprintf("tenant %s is not in the configuration: no rule, deposit, allowance or cap to show", tenant))
	} else {
		ps, err := periods.For(x.tenant)
		if err != nil {
			return nil, fmt.Errorf("explain: periods of tenant %s: %w", tenant, err)
		}
		x.ps = ps
	}
	if x.first == nil {
		// every line failed parsing: the identity has no event
		l := x.Lines[0]
		x.Outcome, x.Reason, x.Field, x.Detail = "quarantined", l.Reason, l.Field, l.Detail
		return x, nil
	}
	f, err := readEvent(ctx, conn, x.first.LineID, restricted)
	if err != nil {
		return nil, err
	}
	if f == nil {
		x.Outcome = "not_validated"
		x.Notes = append(x.Notes, "the first line is neither in the open working set nor billed in a final period")
		return x, nil
	}
	x.fate = f
	x.setEvent()
	x.setRating()
	switch {
	case f.source == "open" && !f.run.Valid:
		x.Outcome = "not_validated"
		x.Notes = append(x.Notes, "loaded, not validated yet: the next run rates it")
		return x, nil
	case f.reason.Valid:
		x.Outcome, x.Reason, x.Field = "quarantined", f.reason.String, f.field.String
		x.Notes = append(x.Notes, "quarantined events are reconsidered on every run (BILLING.md section 2)")
		return x, nil
	}
	x.Outcome = "accepted"
	x.setPeriod()
	if err := x.setFunding(ctx, conn); err != nil {
		return nil, err
	}
	return x, x.setInvoice(ctx, conn)
}

// readLines reads every line of the identity (explain_lines.sql).
func (x *explanation) readLines(ctx context.Context, conn *sql.Conn, restricted bool) error {
	rows, err := warehouse.Query(ctx, conn, "explain_lines.sql", x.TenantID, x.EventID, restricted)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l explainLine
		var status string
		var reason, field, detail, run, raw sql.NullString
		var inPending, inFrozen bool
		if err := rows.Scan(&l.LineID, &l.ObjectNo, &l.ObjectKey, &l.ObjectStatus, &l.LineNo, &status,
			&reason, &field, &detail, &run, &inPending, &inFrozen, &raw); err != nil {
			return fmt.Errorf("explain: read lines: %w", err)
		}
		l.Reason, l.Field, l.Detail, l.ReadByRun = reason.String, field.String, detail.String, run.String
		if raw.Valid {
			l.Raw = &raw.String
		}
		switch {
		case status == "event":
			l.Role = "first"
		case status == "duplicate":
			l.Role = "duplicate"
		case reason.String == "conflicting_duplicate":
			l.Role = "conflicting_duplicate"
		default:
			l.Role = "quarantined"
		}
		x.Lines = append(x.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("explain: read lines: %w", err)
	}
	if len(x.Lines) > 0 && x.Lines[0].Role == "first" {
		x.first = &x.Lines[0]
	}
	return nil
}

// readEvent reads the first line's fate (explain_event.sql); nil when it has none.
func readEvent(ctx context.Context, conn *sql.Conn, lineID int64, restricted bool) (*eventRow, error) {
	rows, err := warehouse.Query(ctx, conn, "explain_event.sql", lineID, restricted)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var f eventRow
	if err := rows.Scan(&f.source, &f.userID, &f.eventType, &f.occurredUS, &f.domain, &f.value, &f.unit,
		&f.preview, &f.attributes, &f.run, &f.reason, &f.field, &f.billedStart, &f.billedEnd, &f.late,
		&f.version, &f.rateReason, &f.pool, &f.rated, &f.allowance, &f.plan, &f.bank, &f.exceed, &f.blk,
		&f.periodStatus, &f.creditsPlan, &f.username, &f.firstName, &f.lastName); err != nil {
		return nil, fmt.Errorf("explain: read event: %w", err)
	}
	return &f, rows.Err()
}

// occurred is the event's instant.
func (x *explanation) occurred() time.Time { return time.UnixMicro(x.fate.occurredUS).UTC() }

func (x *explanation) setEvent() {
	f := x.fate
	e := &explainEvent{OccurredAt: x.occurred().Format(time.RFC3339Nano), UserID: f.userID,
		DomainName: f.domain.String, EventType: f.eventType, EventValue: plainDec(f.value),
		EventUnit: f.unit, Preview: f.preview}
	if x.tenant != nil && x.tenant.Location != nil {
		e.OccurredAtLocal, e.Timezone = x.occurred().In(x.tenant.Location).Format(time.RFC3339Nano), x.tenant.Timezone
		if i := periods.Containing(x.ps, x.occurred()); i >= 0 {
			x.nat = &x.ps[i]
		}
	}
	if f.attributes.Valid && f.attributes.String != "" {
		e.Attributes = json.RawMessage(f.attributes.String)
	}
	for _, p := range []struct {
		dst **string
		v   sql.NullString
	}{{&e.Username, f.username}, {&e.FirstName, f.firstName}, {&e.LastName, f.lastName}} {
		if p.v.Valid {
			s := p.v.String
			*p.dst = &s
		}
	}
	x.Event = e
}

// setRating finds the rule that rated the event and shows its inputs. The stored rating is
// the truth; the configuration only explains it (and a note says when it would now rate the
// event otherwise).
func (x *explanation) setRating() {
	f := x.fate
	r := &explainRating{RateCardVersion: f.version.String, Reason: f.rateReason.String}
	x.Rating = r
	if f.rated.Valid {
		r.Credits = e4Text(f.rated.Int64)
	}
	if x.tenant == nil {
		return
	}
	for i := range x.cfg.RateCards {
		if rc := &x.cfg.RateCards[i]; rc.ID == x.tenant.RateCard && rate.Version(*rc) == f.version.String {
			x.rc = rc
		}
	}
	// the version in force at occurred_at: the latest effective_from <= occurred_at
	var now *schemas.RateCard
	for i := range x.cfg.RateCards {
		rc := &x.cfg.RateCards[i]
		if rc.ID == x.tenant.RateCard && !rc.EffectiveFrom.After(x.occurred()) &&
			(now == nil || rc.EffectiveFrom.After(now.EffectiveFrom.Time)) {
			now = rc
		}
	}
	switch {
	case !f.version.Valid && now != nil:
		x.rc = now
		r.RateCardVersion = rate.Version(*now)
	case f.version.Valid && x.rc == nil:
		x.Notes = append(x.Notes, fmt.Sprintf("rate-card version %s is no longer in the configuration", f.version.String))
	case f.version.Valid && now != nil && rate.Version(*now) != f.version.String:
		x.Notes = append(x.Notes, fmt.Sprintf("the configuration now puts %s in force at occurred_at; the event was rated with %s", rate.Version(*now), f.version.String))
	}
	if x.rc == nil {
		return
	}
	var rule *schemas.Rule
	for i := range x.rc.Rules {
		if x.rc.Rules[i].EventType == f.eventType {
			rule = &x.rc.Rules[i]
		}
	}
	if rule == nil {
		return
	}
	r.Rule = ruleOf(rule)
	x.rateInputs(rule)
}

func ruleOf(rule *schemas.Rule) *explainRule {
	out := &explainRule{EventType: rule.EventType, Kind: rule.Kind}
	dec := func(d decimal.Decimal) string { return d.String() }
	switch rule.Kind {
	case schemas.KindPerEvent:
		out.Credits = dec(rule.Credits)
	case schemas.KindPerEventIfRatio:
		out.Credits, out.RatioAttribute, out.MinRatio = dec(rule.Credits), rule.RatioAttribute, dec(rule.MinRatio)
	case schemas.KindPerUnit:
		out.Credits, out.Per, out.Rounding, out.Allowance = dec(rule.Credits), dec(rule.Per), rounding(rule), rule.Allowance
	case schemas.KindPerToken:
		out.InputPer1k, out.OutputPer1k = dec(rule.InputPer1k), dec(rule.OutputPer1k)
	}
	return out
}

func rounding(rule *schemas.Rule) string {
	if rule.Rounding == "" {
		return "ceil"
	}
	return rule.Rounding
}

// rateInputs shows the inputs of the rule and how the credits follow (BILLING.md section 1).
func (x *explanation) rateInputs(rule *schemas.Rule) {
	f, r := x.fate, x.Rating
	value, _ := decimal.NewFromString(f.value)
	add := func(name, v string) { r.Inputs = append(r.Inputs, explainKV{name, v}) }
	add("event_value", value.String()+" "+f.unit)
	if f.preview {
		r.Computation = "preview: rated 0 without applying the rule (no attributes needed, no allowance used)"
		return
	}
	var expect *decimal.Decimal
	switch rule.Kind {
	case schemas.KindFree:
		r.Computation = "free feature: 0 credits"
	case schemas.KindPerEvent:
		r.Computation = fmt.Sprintf("%s credits per event", rule.Credits)
		expect = &rule.Credits
	case schemas.KindPerEventIfRatio:
		base, ok := attrDec(f.attributes.String, rule.RatioAttribute)
		if !ok || !base.IsPositive() {
			add("attributes."+rule.RatioAttribute, "absent, not a number, or not above 0")
			r.Computation = "the ratio cannot be computed: missing_attribute"
			return
		}
		add("attributes."+rule.RatioAttribute, base.String())
		add("ratio", value.DivRound(base, 4).String()+" (event_value / "+rule.RatioAttribute+", shown to 4 places)")
		if value.GreaterThan(rule.MinRatio.Mul(base)) {
			r.Computation = fmt.Sprintf("%s / %s > %s: %s credits", value, base, rule.MinRatio, rule.Credits)
			expect = &rule.Credits
		} else {
			r.Computation = fmt.Sprintf("%s / %s is not above %s (strictly): 0 credits, below_threshold", value, base, rule.MinRatio)
			zero := decimal.Zero
			expect = &zero
		}
	case schemas.KindPerUnit:
		blocks := unitBlocks(value, rule)
		add("blocks", fmt.Sprintf("%s (%s / %s, rounding %s)", blocks, value, rule.Per, rounding(rule)))
		covered := decimal.Zero
		if f.allowance.Valid && f.pool.Valid {
			covered = e4Dec(f.allowance.Int64)
			add("allowance covered", covered.String()+" blocks from pool "+f.pool.String)
		}
		charged := blocks.Sub(covered)
		c := charged.Mul(rule.Credits).Round(4)
		if f.pool.Valid {
			r.Computation = fmt.Sprintf("(%s blocks - %s covered by the allowance) x %s credits = %s credits", blocks, covered, rule.Credits, c)
		} else {
			r.Computation = fmt.Sprintf("%s blocks x %s credits = %s credits", blocks, rule.Credits, c)
		}
		expect = &c
	case schemas.KindPerToken:
		in, okIn := attrDec(f.attributes.String, "input_tokens")
		out, okOut := attrDec(f.attributes.String, "output_tokens")
		if !okIn || !okOut {
			add("attributes.input_tokens / output_tokens", "absent or not a number")
			r.Computation = "cannot be computed: missing_attribute"
			return
		}
		add("attributes.input_tokens", in.String())
		add("attributes.output_tokens", out.String())
		c := in.Shift(-3).Mul(rule.InputPer1k).Add(out.Shift(-3).Mul(rule.OutputPer1k)).Round(4)
		r.Computation = fmt.Sprintf("%s/1000 x %s + %s/1000 x %s = %s credits (half-up to 4 places)",
			in, rule.InputPer1k, out, rule.OutputPer1k, c)
		expect = &c
	}
	if expect != nil && f.rated.Valid && !expect.Equal(e4Dec(f.rated.Int64)) {
		x.Notes = append(x.Notes, fmt.Sprintf("the rule as configured now gives %s credits; the event was rated %s (the stored rating stands)",
			expect.String(), e4Text(f.rated.Int64)))
	}
}

// unitBlocks is ceil(value / per), or value / per half-up to 4 places (rounding exact).
func unitBlocks(value decimal.Decimal, rule *schemas.Rule) decimal.Decimal {
	if rule.Per.IsZero() {
		return decimal.Zero
	}
	if rounding(rule) == "exact" {
		return value.DivRound(rule.Per, 4)
	}
	q, rem := value.QuoRem(rule.Per, 0)
	if rem.IsPositive() {
		q = q.Add(decimal.NewFromInt(1))
	}
	return q
}

// attrDec reads a top-level attribute as a decimal (a JSON number, or a string holding one).
func attrDec(attrs, name string) (decimal.Decimal, bool) {
	if attrs == "" {
		return decimal.Zero, false
	}
	dec := json.NewDecoder(strings.NewReader(attrs))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return decimal.Zero, false
	}
	var text string
	switch v := m[name].(type) {
	case json.Number:
		text = v.String()
	case string:
		text = v
	default:
		return decimal.Zero, false
	}
	d, err := decimal.NewFromString(text)
	return d, err == nil
}

// setPeriod fills the billed period and the late flag.
func (x *explanation) setPeriod() {
	f := x.fate
	p := &explainPeriod{Start: f.billedStart.String, End: f.billedEnd.String, Run: f.run.String,
		Late: f.late.Valid && f.late.Bool}
	switch {
	case f.source == "final":
		p.Status = "final"
	case f.periodStatus.Valid:
		p.Status = f.periodStatus.String
	default:
		p.Status = "unreported"
		x.Notes = append(x.Notes, "the billed period starts after --now of the last run: the ledger has no row for it yet")
	}
	if f.creditsPlan.Valid {
		p.CreditsPlan = plainDec(f.creditsPlan.String)
	}
	if x.nat != nil {
		p.OwnStart, p.OwnEnd = x.nat.StartDate.String(), x.nat.EndDate.String()
		if p.End == "" && p.OwnStart == p.Start {
			p.End = p.OwnEnd
		}
	}
	x.Period = p
}

// setFunding shows the split and recomputes the balances before and after the event by
// replaying the tenant's waterfall from the stored splits (explain_balances.sql).
func (x *explanation) setFunding(ctx context.Context, conn *sql.Conn) error {
	f := x.fate
	fu := &explainFunding{Rated: e4Text(f.rated.Int64), Exceeding: e4Text(f.exceed.Int64), Blocked: e4Text(f.blk.Int64),
		Recomputed: "before and after are not stored per event: recomputed from the tenant's stored splits " +
			"in funding order (billed period, occurred_at, event_id) up to this event, the ledger's plan for " +
			"the period and the deposits, allowances and caps of the current configuration"}
	x.Funding = fu
	var planBefore, bankBefore, poolBefore, userBefore string
	pool := any(nil)
	if f.pool.Valid {
		pool = f.pool.String
	}
	err := queryOne(ctx, conn, "explain_balances.sql", []any{x.TenantID, f.billedStart.String,
		f.occurredUS, x.EventID, f.userID, pool}, &planBefore, &bankBefore, &poolBefore, &userBefore, &fu.EventsBefore)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	e4 := func(s string) decimal.Decimal {
		d, _ := decimal.NewFromString(s)
		return d.Shift(-4)
	}
	planUsed, bankUsed, poolUsed, userFunded := e4(planBefore), e4(bankBefore), e4(poolBefore), e4(userBefore)
	plan, bank := e4Dec(f.plan.Int64), e4Dec(f.bank.Int64)
	funded := plan.Add(bank).Add(e4Dec(f.exceed.Int64))

	// plan: what the billed period's plan had left
	if x.Period != nil && x.Period.CreditsPlan != "" {
		of, _ := decimal.NewFromString(x.Period.CreditsPlan)
		before := decimal.Max(of.Sub(planUsed), decimal.Zero)
		fu.Plan = explainBucket{Credits: plan.String(), Before: before.String(), After: before.Sub(plan).String(), Of: of.String()}
	} else {
		fu.Plan = explainBucket{Credits: plan.String(), Note: "the ledger has no row for the billed period"}
	}
	fu.Plan.Note = strings.TrimPrefix(fu.Plan.Note+"; plan used before it in the period: "+planUsed.String(), "; ")
	if x.tenant == nil {
		fu.Bank = explainBucket{Credits: bank.String()}
		return nil
	}
	t := x.tenant
	fu.Policy = t.Overage.Policy

	// bank: the deposits it sees (a late event those dated at or before the start of the
	// period that bills it), less what earlier events used
	seesAt := x.occurred()
	seesWhat := "dated at or before occurred_at"
	if x.Period.Late {
		for _, p := range x.ps {
			if p.StartDate.String() == f.billedStart.String {
				seesAt, seesWhat = p.Start, "dated at or before the start of the billing period (late event)"
			}
		}
	}
	seen := decimal.Zero
	for _, d := range t.Bank {
		if !d.At.In(t.Location).After(seesAt) {
			seen = seen.Add(d.Credits)
		}
	}
	bb := decimal.Max(seen.Sub(bankUsed), decimal.Zero)
	fu.Bank = explainBucket{Credits: bank.String(), Before: bb.String(), After: bb.Sub(bank).String(), Of: seen.String(),
		Note: fmt.Sprintf("deposits %s: %s; bank used before it: %s", seesWhat, seen, bankUsed)}

	// allowance: the pool's entries in contract order
	if f.pool.Valid {
		total := decimal.Zero
		a := &explainAllowance{Pool: f.pool.String, Covered: e4Text(f.allowance.Int64)}
		covered := e4Dec(f.allowance.Int64)
		from, to := poolUsed, poolUsed.Add(covered)
		for _, al := range t.Allowances {
			if al.Pool != f.pool.String {
				continue
			}
			lo, hi := total, total.Add(al.Units)
			use := decimal.Max(decimal.Min(hi, to).Sub(decimal.Max(lo, from)), decimal.Zero)
			a.Entries = append(a.Entries, explainPoolEntry{Name: al.Name, Units: al.Units.String(), Covered: use.String()})
			total = hi
		}
		before := decimal.Max(total.Sub(poolUsed), decimal.Zero)
		a.Before, a.After = before.String(), before.Sub(covered).String()
		if x.rc != nil {
			for _, rule := range x.rc.Rules {
				if rule.EventType == f.eventType && rule.Kind == schemas.KindPerUnit {
					v, _ := decimal.NewFromString(f.value)
					a.Blocks = unitBlocks(v, &rule).String()
				}
			}
		}
		fu.Allowance = a
	}

	// member cap: over the whole contract
	blocked := e4Dec(f.blk.Int64)
	byCap := decimal.Zero
	for _, m := range t.Members {
		if m.UserID != f.userID {
			continue
		}
		before := decimal.Max(m.Cap.Sub(userFunded), decimal.Zero)
		fu.MemberCap = &explainCap{UserID: m.UserID, Cap: m.Cap.String(), FundedBefore: userFunded.String(),
			Before: before.String(), After: before.Sub(funded).String()}
		byCap = decimal.Max(e4Dec(f.rated.Int64).Sub(before), decimal.Zero)
	}
	if blocked.IsPositive() {
		if fu.MemberCap != nil && byCap.IsPositive() {
			fu.BlockedByCap = byCap.String()
		}
		if rest := blocked.Sub(byCap); rest.IsPositive() {
			fu.BlockedByPolicy = rest.String()
		}
	}
	return nil
}

// setInvoice finds the invoice line that bills the event's exceeding credits.
func (x *explanation) setInvoice(ctx context.Context, conn *sql.Conn) error {
	f := x.fate
	inv := &explainInvoice{}
	x.Invoice = inv
	own := f.billedStart.String
	if x.Period.Late && x.nat != nil {
		own = x.nat.StartDate.String()
	}
	var number, currency, amount, run, issued, desc, qty, price, lineAmount sql.NullString
	var line sql.NullInt64
	err := queryOne(ctx, conn, "explain_invoice.sql", []any{x.TenantID, f.billedStart.String, own},
		&number, &currency, &amount, &run, &issued, &line, &desc, &qty, &price, &lineAmount)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("explain: %w", err)
	}
	exceeding := e4Dec(f.exceed.Int64)
	if number.Valid {
		inv.Number, inv.Currency, inv.Amount, inv.IssuedOn, inv.IssuedByRun =
			number.String, currency.String, money(amount.String), issued.String, run.String
	}
	switch {
	case !exceeding.IsPositive() && f.blk.Int64 > 0 && x.tenant != nil && x.tenant.Overage.Policy == schemas.PolicyBlock:
		inv.Note = "nothing of it exceeds; blocked credits are never invoiced"
	case !exceeding.IsPositive():
		inv.Note = "nothing of it exceeds"
	case x.Period.Status != "final":
		inv.Note = "the period is open: its exceeding credits are invoiced when it is finalized"
	case !number.Valid:
		inv.Note = "the period has no invoice"
	case !line.Valid:
		inv.Note = "the invoice has no line for the event's own period"
	default:
		inv.Line, inv.Description, inv.Quantity, inv.UnitPrice, inv.LineAmount =
			line.Int64, desc.String, plainDec(qty.String), plainDec(price.String), money(lineAmount.String)
		p, _ := decimal.NewFromString(price.String)
		inv.Share = exceeding.Mul(p).String()
	}
	return nil
}

// queryOne runs an embedded single-row query with arguments and scans its columns;
// sql.ErrNoRows when it has no row.
func queryOne(ctx context.Context, conn *sql.Conn, name string, args []any, dest ...any) error {
	rows, err := warehouse.Query(ctx, conn, name, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("run %s: %w", name, err)
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("run %s: %w", name, err)
	}
	return rows.Close()
}

// e4Dec is a fixed-point amount at 4 places.
func e4Dec(v int64) decimal.Decimal { return decimal.New(v, -4) }

// e4Text writes a fixed-point amount plainly, trailing zeros trimmed.
func e4Text(v int64) string { return e4Dec(v).String() }

// plainDec writes decimal text plainly, trailing zeros trimmed ("25.0000" is "25").
func plainDec(s string) string {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return s
	}
	return d.String()
}

// money writes an amount of money at the currency's 2 places (BILLING.md section 7).
func money(s string) string {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return s
	}
	return d.StringFixed(2)
}

// writeText prints the explanation for people.
func (x *explanation) writeText(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) {
		for i, a := range args {
			if s, ok := a.(string); ok {
				args[i] = printable(s)
			}
		}
		fmt.Fprintf(tw, format+"\n", args...)
	}
	head := fmt.Sprintf("event %s of tenant %s: %s", x.EventID, x.TenantID, x.Outcome)
	if x.Reason != "" {
		head += fmt.Sprintf(" (%s, field %s)", x.Reason, orDash(x.Field))
	}
	if x.Period != nil {
		head += fmt.Sprintf(", billed in the %s period %s", x.Period.Status, x.Period.Start)
	}
	p("%s", head)
	if x.Detail != "" {
		p("  detail: %s", x.Detail)
	}

	p("\nlines")
	for _, l := range x.Lines {
		what := l.Role
		switch l.Role {
		case "first":
			what = "first line of the identity: the event"
		case "duplicate":
			what = "exact duplicate of the first line: counted, ignored"
		case "conflicting_duplicate":
			what = "conflicting duplicate (quarantined, field event_id): the first line stands"
		case "quarantined":
			what = fmt.Sprintf("quarantined at parsing: %s, field %s", l.Reason, orDash(l.Field))
			if l.Detail != "" {
				what += " (" + l.Detail + ")"
			}
		}
		obj := l.ObjectKey
		if l.ObjectStatus != "read" {
			obj += " (" + l.ObjectStatus + ")"
		}
		p("  %s line %d\t%s\tread by run %s", obj, l.LineNo, what, orDash(l.ReadByRun))
		if l.Raw != nil {
			p("    raw: %s", *l.Raw)
		}
	}
	if x.first != nil && len(x.Lines) > 1 {
		p("  the first line is %s line %d", x.first.ObjectKey, x.first.LineNo)
	}

	if e := x.Event; e != nil {
		p("\nevent as read")
		p("  occurred_at\t%s", e.OccurredAt)
		if e.OccurredAtLocal != "" {
			p("  local time\t%s (%s)", e.OccurredAtLocal, e.Timezone)
		}
		p("  user_id\t%s", e.UserID)
		if e.Username != nil || e.FirstName != nil || e.LastName != nil {
			p("  username, name\t%s, %s %s", deref(e.Username), deref(e.FirstName), deref(e.LastName))
		}
		p("  domain_name\t%s", orDash(e.DomainName))
		p("  event_type\t%s", e.EventType)
		p("  event_value\t%s %s", e.EventValue, e.EventUnit)
		p("  preview\t%t", e.Preview)
		if len(e.Attributes) > 0 {
			p("  attributes\t%s", string(e.Attributes))
		}
	}

	if r := x.Rating; r != nil && (r.RateCardVersion != "" || r.Credits != "") {
		p("\nrating")
		p("  rate card\t%s", orDash(r.RateCardVersion))
		if u := r.Rule; u != nil {
			p("  rule\t%s", ruleText(u))
		}
		for _, in := range r.Inputs {
			p("  %s\t%s", in.Name, in.Value)
		}
		if r.Computation != "" {
			p("  computation\t%s", r.Computation)
		}
		if r.Reason != "" {
			p("  rated 0 because\t%s", r.Reason)
		}
		if r.Credits != "" {
			p("  rated credits\t%s", r.Credits)
		}
	}

	if fu := x.Funding; fu != nil {
		p("\nfunding (waterfall: allowance, member cap, plan, bank, then %s)", map[string]string{
			schemas.PolicyBill: "exceeding (policy bill)", schemas.PolicyBlock: "blocked (policy block)"}[fu.Policy])
		if a := fu.Allowance; a != nil {
			p("  allowance\tpool %s: %s of %s blocks covered; left %s before, %s after", a.Pool, a.Covered, orDash(a.Blocks), a.Before, a.After)
			for _, en := range a.Entries {
				p("  \t  %s: %s units, %s covered by this event", en.Name, en.Units, en.Covered)
			}
		}
		if c := fu.MemberCap; c != nil {
			p("  member cap\t%s: cap %s, funded before %s; left %s before, %s after", c.UserID, c.Cap, c.FundedBefore, c.Before, c.After)
		} else if x.Event != nil {
			p("  member cap\tnone for %s", x.Event.UserID)
		}
		p("  \tcredits\tbefore\tafter\t")
		if fu.Plan.Of != "" {
			p("  plan\t%s\t%s\t%s\tplan %s; %s", fu.Plan.Credits, fu.Plan.Before, fu.Plan.After, fu.Plan.Of, fu.Plan.Note)
		} else {
			p("  plan\t%s\t-\t-\t%s", fu.Plan.Credits, fu.Plan.Note)
		}
		p("  bank\t%s\t%s\t%s\t%s", fu.Bank.Credits, orDash(fu.Bank.Before), orDash(fu.Bank.After), fu.Bank.Note)
		p("  exceeding\t%s\t\t\t", fu.Exceeding)
		var why []string
		if fu.BlockedByCap != "" {
			why = append(why, "by the member cap "+fu.BlockedByCap)
		}
		if fu.BlockedByPolicy != "" {
			why = append(why, "by the hard stop "+fu.BlockedByPolicy)
		}
		p("  blocked\t%s\t\t\t%s", fu.Blocked, strings.Join(why, ", "))
		p("  rated\t%s\t\t\t", fu.Rated)
		p("  (recomputed)\t%s", fu.Recomputed)
	}

	if pe := x.Period; pe != nil {
		p("\nperiod")
		p("  billed\t%s to %s (end exclusive), %s", pe.Start, orDash(pe.End), pe.Status)
		if pe.Status == "final" {
			p("  finalized by run\t%s", orDash(pe.Run))
		} else if pe.Run != "" {
			p("  last validated by run\t%s", pe.Run)
		}
		if pe.Late {
			p("  late\tyes: its own period %s to %s was final when it arrived; billed in the earliest open period", orDash(pe.OwnStart), orDash(pe.OwnEnd))
		} else {
			p("  late\tno")
		}
	}

	if in := x.Invoice; in != nil {
		p("\ninvoice")
		if in.Number != "" {
			p("  invoice\t%s (its lines: %s %s), issued %s by run %s", in.Number, in.Amount, in.Currency, in.IssuedOn, orDash(in.IssuedByRun))
		} else {
			p("  invoice\tnone")
		}
		if in.Line > 0 {
			p("  line\t%d %q: %s x %s = %s %s", in.Line, in.Description, in.Quantity, in.UnitPrice, in.LineAmount, in.Currency)
			p("  this event\t%s exceeding credits x %s = %s %s (before the line's rounding)", x.Funding.Exceeding, in.UnitPrice, in.Share, in.Currency)
		} else {
			p("  line\tnone: %s", in.Note)
		}
	}
	if len(x.Notes) > 0 {
		p("\nnotes")
		for _, n := range x.Notes {
			p("  - %s", n)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeTrimmed(w, buf.Bytes())
}

// printable escapes what would break a line of text output or drive a terminal: control
// characters (tabs and newlines included) and invalid UTF-8, as \xNN. Event data is
// whatever the raw logs held.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r < 0x20 || r == 0x7f || (r == utf8.RuneError && n <= 1) || (r >= 0x80 && r < 0xa0) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// writeTrimmed writes text without the spaces tabwriter leaves at the ends of lines.
func writeTrimmed(w io.Writer, text []byte) error {
	lines := bytes.Split(text, []byte("\n"))
	for i := range lines {
		lines[i] = bytes.TrimRight(lines[i], " ")
	}
	_, err := w.Write(bytes.Join(lines, []byte("\n")))
	return err
}

func ruleText(u *explainRule) string {
	switch u.Kind {
	case schemas.KindPerEvent:
		return fmt.Sprintf("%s: %s, %s credits", u.EventType, u.Kind, u.Credits)
	case schemas.KindPerEventIfRatio:
		return fmt.Sprintf("%s: %s, %s credits if event_value / %s > %s", u.EventType, u.Kind, u.Credits, u.RatioAttribute, u.MinRatio)
	case schemas.KindPerUnit:
		s := fmt.Sprintf("%s: %s, %s credits per %s (rounding %s)", u.EventType, u.Kind, u.Credits, u.Per, u.Rounding)
		if u.Allowance != "" {
			s += ", allowance " + u.Allowance
		}
		return s
	case schemas.KindPerToken:
		return fmt.Sprintf("%s: %s, %s per 1k input tokens, %s per 1k output tokens", u.EventType, u.Kind, u.InputPer1k, u.OutputPer1k)
	}
	return u.EventType + ": " + u.Kind
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
