package documents

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Sheet names of the tenant workbook, in order; Members is there only when the contract
// caps members.
const (
	SheetPlan    = "Plan"
	SheetCurrent = "Current period"
	SheetHistory = "History"
	SheetChart   = "Chart"
	SheetMembers = "Members"
	SheetEvents  = "Events"
)

// History columns: A the period as text (the chart's categories), B first day, C last day
// (inclusive), D status, E credits plan ... L events, M the credits projected at the end of
// an open period (pipeline/forecast; empty for a final one). The chart stacks F (plan), G
// (bank), I (exceeding) and J (blocked), draws E (the plan) as a line and M as markers.
var historyHeader = []string{"Period", "First day", "Last day", "Status", "Credits plan",
	"Plan credits used", "Bank credits used", "Bank credits remaining", "Exceeding credits",
	"Blocked credits", "Total credits used", "Events", "Projected at period end"}

// eventsHeader is the Events sheet's header; the first column names the tenant's time zone.
func eventsHeader(zone string) []string {
	return []string{"Date and time (" + zone + ")", "Event type", "User ID", "Domain", "Event value",
		"Unit", "Credits charged", "Plan credits", "Bank credits", "Exceeding credits",
		"Blocked credits", "Allowance units", "Late", "Event ID"}
}

// toDate marks the open period containing the run's clock: its numbers are to date.
const toDate = " (to date)"

// workbookJob is everything one tenant's workbook shows, read from the warehouse before it
// is rendered (rendering runs on a pool, away from the connection).
type workbookJob struct {
	path    string
	t       *schemas.Tenant
	ps      []period
	used    map[string]decimal.Decimal
	asOf    *time.Time // the latest event counted; nil when there is none
	members map[string]memberUse
	events  []eventRow
	skipped int // events past the sheet's row limit
}

// memberUse is a capped member's funded credits over the contract and blocked credits in
// the current period (documents_members.sql), as exact text.
type memberUse struct{ funded, blocked string }

// eventRow is one row of the Events sheet (documents_events.sql), decimals as exact text.
type eventRow struct {
	at                             time.Time
	typ, user, domain, value, unit string
	credits                        [5]string // charged (plan + bank + exceeding), plan, bank, exceeding, blocked
	allowance                      string
	late                           bool
	event                          string
}

// readEvents streams the events of every tenant's current period (documents_events.sql,
// the tenants and periods in doc_current) to fn, grouped by tenant in tenant order.
func readEvents(ctx context.Context, conn *sql.Conn, runSeq int, fn func(tenant string, e eventRow) error) error {
	rows, err := warehouse.Query(ctx, conn, "documents_events.sql", runSeq)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ts, tenant string
	for rows.Next() {
		var e eventRow
		if err := rows.Scan(&tenant, &ts, &e.typ, &e.user, &e.domain, &e.value, &e.unit, &e.credits[0], &e.credits[1],
			&e.credits[2], &e.credits[3], &e.credits[4], &e.allowance, &e.late, &e.event); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if e.at, err = time.Parse(time.RFC3339Nano, ts); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		if err := fn(tenant, e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	return nil
}

// readAsOf reads each workbook's "data as of" instant: the latest event counted for the
// tenant (documents_asof.sql).
func readAsOf(ctx context.Context, conn *sql.Conn) (map[string]time.Time, error) {
	rows, err := warehouse.Query(ctx, conn, "documents_asof.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var tenant, ts string
		if err := rows.Scan(&tenant, &ts); err != nil {
			return nil, fmt.Errorf("read data as of: %w", err)
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("read data as of: %w", err)
		}
		out[tenant] = at
	}
	return out, rows.Err()
}

// readMembers reads the capped members' use (documents_members.sql).
func readMembers(ctx context.Context, conn *sql.Conn, runSeq int) (map[string]map[string]memberUse, error) {
	rows, err := warehouse.Query(ctx, conn, "documents_members.sql", runSeq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]memberUse{}
	for rows.Next() {
		var tenant, user string
		var u memberUse
		if err := rows.Scan(&tenant, &user, &u.funded, &u.blocked); err != nil {
			return nil, fmt.Errorf("read members: %w", err)
		}
		if out[tenant] == nil {
			out[tenant] = map[string]memberUse{}
		}
		out[tenant][user] = u
	}
	return out, rows.Err()
}

// localWall is t's wall clock in loc as a zoneless instant: a spreadsheet cell has no zone,
// so the Events sheet shows tenant-local times and its header names the zone.
func localWall(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), time.UTC)
}

// zoneStamp writes an instant in the tenant's zone, naming it: "5 Apr 2026 18:22 CEST
// (Europe/Rome)"; "5 Apr 2026 18:22 UTC" when the zone is UTC.
func zoneStamp(t time.Time, loc *time.Location) string {
	l := t.In(loc)
	s := l.Format("2 Jan 2006 15:04 MST")
	if abbr, _ := l.Zone(); abbr != loc.String() {
		s += " (" + loc.String() + ")"
	}
	return s
}

func writeWorkbook(j *workbookJob) error {
	t, ps, used := j.t, j.ps, j.used
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetPlan); err != nil {
		return err
	}
	sheets := []string{SheetCurrent, SheetHistory, SheetChart}
	if len(t.Members) > 0 {
		sheets = append(sheets, SheetMembers)
	}
	for _, s := range append(sheets, SheetEvents) {
		if _, err := f.NewSheet(s); err != nil {
			return err
		}
	}
	st := newStyles(f)
	cur := ps[len(ps)-1]
	for _, p := range ps {
		if p.Current {
			cur = p
		}
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	asOf := "no usage counted yet"
	if j.asOf != nil {
		asOf = zoneStamp(*j.asOf, loc) + ", the latest usage counted"
	}
	// The Events sheet is streamed last; its page setup is done in eventsSheet.
	steps := []func() error{
		func() error { return planSheet(f, st, t, cur, used, asOf) },
		func() error { return currentSheet(f, st, t, cur, asOf) },
		func() error { return historySheet(f, st, ps) },
		func() error { return chartSheet(f, len(ps)) },
	}
	if len(t.Members) > 0 {
		steps = append(steps, func() error { return membersSheet(f, st, t, j.members, cur) })
	}
	steps = append(steps, func() error { return eventsSheet(f, st, cur, loc, j.events, j.skipped) })
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
		if st.err != nil {
			return st.err
		}
	}
	for _, p := range []struct {
		sheet, orientation string
		grid               bool
	}{{SheetPlan, "portrait", false}, {SheetCurrent, "portrait", false}, {SheetHistory, "landscape", true},
		{SheetChart, "landscape", false}} {
		if err := printSetup(f, p.sheet, p.orientation, p.grid); err != nil {
			return err
		}
	}
	if len(t.Members) > 0 {
		if err := printSetup(f, SheetMembers, "portrait", true); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	name := t.Name
	if name == "" {
		name = t.ID
	}
	if err := setProps(f, "AI credits: "+name, "AI-credit usage of "+t.ID, docTime); err != nil {
		return err
	}
	return save(f, j.path)
}

// periodLabel is a period as the workbook names it, marked when its numbers are to date.
func periodLabel(p period) string {
	s := periodText(p.Start, p.End)
	if p.Current && !p.Final {
		s += toDate
	}
	return s
}

// periodStatus words a period's state: final, open and to date (the one containing the
// run's clock), or open (ended, final once its grace period has passed).
func periodStatus(p period) string {
	switch {
	case p.Final:
		return "final"
	case p.Current:
		return "open, to date"
	}
	return "open"
}

func planSheet(f *excelize.File, st *styles, t *schemas.Tenant, cur period, used map[string]decimal.Decimal, asOf string) error {
	w := &sheetWriter{f: f, sheet: SheetPlan}
	name := t.Name
	if name == "" {
		name = t.ID
	}
	bold := st.get("", true)
	credits := st.left(fmtCredits)
	w.set("A", 1, "AI credits: "+name, st.title())
	w.set("A", 2, "Data as of "+asOf, st.note())
	row := 3
	kv := func(label string, v any, style int) {
		w.set("A", row, label, bold)
		w.set("B", row, v, style)
		row++
	}
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	kv("Customer", name, 0)
	kv("Tenant ID", t.ID, 0)
	kv("Service period", humanDate(t.ServiceStart.String())+" – "+humanDate(t.ServiceEnd.String()), 0)
	kv("Billing period", fmt.Sprintf("%s from day %d, %s", t.Period, t.AnchorDay, t.Timezone), 0)
	kv("Currency", t.Currency, 0)
	kv("Credits plan per period", num(t.CreditsPlan), credits)
	if t.Overage.Policy == schemas.PolicyBill {
		kv("Overage policy", "Overage: exceeding credits are invoiced", 0)
		kv("Price per credit", num(t.Overage.PricePerCredit), st.left(fmtPrice(t.Currency)))
	} else {
		kv("Overage policy", "Hard stop: usage past the balance is blocked", 0)
	}
	purchased := decimal.Zero
	for _, d := range t.Bank {
		purchased = purchased.Add(d.Credits)
	}
	kv("Credits bank purchased", num(purchased), credits)
	kv("Credits bank remaining", num(cur.BankRemaining), credits)
	kv("As of period", periodLabel(cur), 0)

	// the forecast of the period (issue 11): as of the latest usage counted, never the clock
	row++
	w.set("A", row, "Forecast", st.header())
	w.set("B", row, periodLabel(cur), st.headerLine())
	row++
	if fc := cur.Forecast; fc == nil {
		kv("Projected", "none: the period is final", 0)
	} else {
		kv("Days elapsed", fmt.Sprintf("%d of %d", fc.Elapsed, fc.Days), 0)
		kv("Daily burn", num(fc.Burn), credits)
		kv("Projected credits at end", num(fc.Projected), credits)
		kv("Plan runs out", runoutText(fc.PlanRunsOut, fc.PlanRanOut, fc.PlanNone), 0)
		kv("Plan and bank run out", runoutText(fc.CreditsRunOut, fc.CreditsRanOut, fc.CreditsNone), 0)
		w.set("A", row, forecastNote, st.note())
		row++
	}

	row++
	hdr := st.header()
	for i, h := range []string{"Bank deposit", "Credits", "Dated"} {
		hs := hdr
		if i == 1 {
			hs = st.headerRight()
		}
		w.set(string(rune('A'+i)), row, h, hs)
	}
	row++
	if len(t.Bank) == 0 {
		w.set("A", row, "none", 0)
		row++
	}
	for _, d := range t.Bank {
		w.set("A", row, d.ID, 0)
		w.set("B", row, num(d.Credits), st.get(fmtCredits, false))
		if d.At.IsDate {
			w.set("C", row, humanDate(d.At.Date.String()), 0)
		} else {
			w.set("C", row, d.At.Time.In(loc).Format("2 Jan 2006 15:04 MST"), 0)
		}
		row++
	}

	row++
	for i, h := range []string{"Allowance pool", "Allowance", "Units", "Units used", "Units remaining"} {
		hs := hdr
		if i >= 2 {
			hs = st.headerRight()
		}
		w.set(string(rune('A'+i)), row, h, hs)
	}
	row++
	if len(t.Allowances) == 0 {
		w.set("A", row, "none", 0)
	}
	// A pool's use is taken from its allowances in the order the contract lists them
	// (included before purchased), as funding does.
	left := map[string]decimal.Decimal{}
	for p, u := range used {
		left[p] = u
	}
	units := st.get(fmtUnits, false)
	for _, a := range t.Allowances {
		take := decimal.Min(a.Units, left[a.Pool])
		if take.IsNegative() {
			take = decimal.Zero
		}
		left[a.Pool] = left[a.Pool].Sub(take)
		w.set("A", row, a.Pool, 0)
		w.set("B", row, a.Name, 0)
		w.set("C", row, num(a.Units), units)
		w.set("D", row, num(take), units)
		w.set("E", row, num(a.Units.Sub(take)), units)
		row++
	}
	if w.err != nil {
		return w.err
	}
	if err := f.SetColWidth(SheetPlan, "A", "A", 26); err != nil {
		return err
	}
	if err := f.SetColWidth(SheetPlan, "B", "B", 30); err != nil {
		return err
	}
	return f.SetColWidth(SheetPlan, "C", "E", 18)
}

// forecastNote states the forecast's method on the Plan sheet (pipeline/forecast.Method in
// full; README "Forecast").
const forecastNote = "Forecast: the credits used per day so far (days in the tenant's time zone, through the day of the latest usage counted), projected over the days left."

// runoutText words a run-out day of a forecast.
func runoutText(day string, ran, none bool) string {
	switch {
	case none:
		return "n/a (nothing available)"
	case day == "":
		return "not within the period"
	case ran:
		return "ran out on " + humanDate(day)
	}
	return "projected " + humanDate(day)
}

// utilization is BILLING.md section 6's ratio for a period: (plan used + bank used +
// exceeding) / (credits plan + bank balance at the period's start + deposits inside it); the
// bank part is bank used + bank remaining at the end. ok is false for a zero denominator.
func utilization(p period) (u decimal.Decimal, ok bool) {
	den := p.CreditsPlan.Add(p.BankUsed).Add(p.BankRemaining)
	if den.IsZero() {
		return decimal.Zero, false
	}
	return p.CreditsUsed.DivRound(den, 4), true
}

func currentSheet(f *excelize.File, st *styles, t *schemas.Tenant, p period, asOf string) error {
	w := &sheetWriter{f: f, sheet: SheetCurrent}
	bold := st.get("", true)
	credits := st.left(fmtCredits)
	w.set("A", 1, "Current period", st.title())
	w.set("A", 2, "Data as of "+asOf, st.note())
	row := 3
	kv := func(label string, v any, style int) {
		w.set("A", row, label, bold)
		w.set("B", row, v, style)
		row++
	}
	status := "Open: numbers to date"
	switch {
	case p.Final:
		status = "Final"
	case !p.Current:
		status = "Open: final once its grace period has passed"
	}
	kv("Period", periodLabel(p), 0)
	kv("Status", status, 0)
	kv("Credits plan", num(p.CreditsPlan), credits)
	kv("Plan credits used", num(p.PlanUsed), credits)
	kv("Plan credits left", num(decimal.Max(p.CreditsPlan.Sub(p.PlanUsed), decimal.Zero)), credits)
	kv("Bank credits used", num(p.BankUsed), credits)
	kv("Bank credits remaining", num(p.BankRemaining), credits)
	kv("Exceeding credits", num(p.Exceeding), credits)
	kv("Blocked credits", num(p.Blocked), credits)
	kv("Total credits used", num(p.CreditsUsed), credits)
	u, ok := utilization(p)
	// The contract's notify.thresholds, as pipeline/notify reads them (BILLING.md section 6):
	// reached when the period's utilization is at or above one; with a zero denominator the
	// first rated credit crosses every threshold.
	var crossed []string
	for _, th := range t.Notify.Thresholds {
		if (ok && u.GreaterThanOrEqual(th)) || (!ok && p.Rated.IsPositive()) {
			crossed = append(crossed, th.Shift(2).String()+"%")
		}
	}
	if ok {
		kv("Utilization", num(u), st.left(fmtPercent))
	} else {
		kv("Utilization", "n/a (no plan or bank credits)", 0)
	}
	if len(t.Notify.Thresholds) == 0 {
		kv("Thresholds crossed", "no thresholds configured", 0)
	} else if len(crossed) == 0 {
		kv("Thresholds crossed", "none", 0)
	} else {
		kv("Thresholds crossed", strings.Join(crossed, ", "), 0)
	}
	kv("Events", p.Events, st.left(fmtInt))
	kv("Allowance units used", num(p.AllowanceUsed), st.left(fmtUnits))
	if t.Overage.Policy == schemas.PolicyBill {
		kv("What happens next", fmt.Sprintf("Usage past the plan and the bank keeps working; exceeding credits are invoiced at %s %s per credit once the period is final.", t.Currency, t.Overage.PricePerCredit.String()), st.wrap())
	} else {
		kv("What happens next", "Usage past the plan and the bank is blocked and never invoiced: buy bank credits to keep using AI features.", st.wrap())
	}
	if w.err != nil {
		return w.err
	}
	if err := f.SetRowHeight(SheetCurrent, row-1, 45); err != nil { // the wrapped last line
		return err
	}
	if err := f.SetColWidth(SheetCurrent, "A", "A", 24); err != nil {
		return err
	}
	return f.SetColWidth(SheetCurrent, "B", "B", 50)
}

func historySheet(f *excelize.File, st *styles, ps []period) error {
	w := &sheetWriter{f: f, sheet: SheetHistory}
	hdr := st.header()
	for i, h := range historyHeader {
		hs := st.headerRight()
		switch i {
		case 0:
			hs = hdr
		case 3: // between two dates: centred, so that neither runs into it
			hs = st.headerAligned("center")
		}
		w.set(colName(i), 1, h, hs)
	}
	day := st.get(fmtDay, false)
	credits := st.get(fmtCredits, false)
	for i, p := range ps {
		r := i + 2
		w.set("A", r, periodLabel(p), 0)
		for j, s := range []string{p.Start, lastDay(p.End)} {
			d, err := date(s)
			if err != nil {
				return err
			}
			w.set(colName(1+j), r, d, day)
		}
		w.set("D", r, periodStatus(p), st.aligned("", false, "center"))
		for j, d := range []decimal.Decimal{p.CreditsPlan, p.PlanUsed, p.BankUsed, p.BankRemaining, p.Exceeding, p.Blocked, p.CreditsUsed} {
			w.set(colName(4+j), r, num(d), credits)
		}
		w.set("L", r, p.Events, st.get(fmtInt, false))
		if p.Forecast != nil {
			w.set("M", r, num(p.Forecast.Projected), credits)
		}
	}
	if w.err != nil {
		return w.err
	}
	last := fmt.Sprintf("M%d", len(ps)+1)
	stripes := true
	if err := f.AddTable(SheetHistory, &excelize.Table{Range: "A1:" + last, Name: "PeriodHistory",
		StyleName: "TableStyleMedium2", ShowRowStripes: &stripes}); err != nil {
		return err
	}
	if err := f.SetPanes(SheetHistory, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := f.SetRowHeight(SheetHistory, 1, 30); err != nil {
		return err
	}
	if err := f.SetColWidth(SheetHistory, "A", "A", 34); err != nil {
		return err
	}
	if err := f.SetColWidth(SheetHistory, "B", "D", 13); err != nil {
		return err
	}
	return f.SetColWidth(SheetHistory, "E", "M", 14)
}

// Chart colours: one per bucket, the plan a dark dashed line over the columns.
const (
	colorPlan      = "4472C4"
	colorBank      = "70AD47"
	colorExceeding = "ED7D31"
	colorBlocked   = "C00000"
	colorPlanLine  = "262626"
	colorProjected = "7030A0"
)

// chartSheet draws, per period (a History row), the credits used stacked by bucket: plan
// (History F), bank (G), exceeding (I) and blocked (J), so that blocked demand under a hard
// stop shows above what was funded, with the credits plan (E) as a line. The categories are
// the period labels (A): the open period says it is to date, so a short column reads as a
// month not over yet rather than a drop. An open period's projected credits at its end (M,
// the forecast) are a marker above its column.
func chartSheet(f *excelize.File, n int) error {
	if err := f.SetCellValue(SheetChart, "A1", "Credits per period by bucket (plan, bank, exceeding, blocked) against the credits plan; data: sheet History. The period marked \"to date\" is not over; its marker is the credits projected at its end (sheet Plan, Forecast)."); err != nil {
		return err
	}
	last := n + 1
	axisFont := excelize.Font{Color: "262626", Size: 9}
	xAxis := excelize.ChartAxis{Font: axisFont}
	yAxis := excelize.ChartAxis{Font: axisFont, MajorGridLines: true, Title: excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Credits"}}},
		NumFmt: excelize.ChartNumFmt{CustomNumFmt: fmtInt}}
	cats := fmt.Sprintf("%s!$A$2:$A$%d", SheetHistory, last)
	col := func(c, color string) excelize.ChartSeries {
		return excelize.ChartSeries{Name: fmt.Sprintf("%s!$%s$1", SheetHistory, c), Categories: cats,
			Values: fmt.Sprintf("%s!$%s$2:$%s$%d", SheetHistory, c, c, last),
			Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}}}
	}
	gap, overlap := uint(60), 100
	columns := &excelize.Chart{
		Type:      excelize.ColStacked,
		Series:    []excelize.ChartSeries{col("F", colorPlan), col("G", colorBank), col("I", colorExceeding), col("J", colorBlocked)},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "AI credits per period against the credits plan"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 880, Height: 440},
		XAxis:     xAxis,
		YAxis:     yAxis,
		GapWidth:  &gap,
		Overlap:   &overlap,
	}
	plan := &excelize.Chart{
		Type: excelize.Line,
		Series: []excelize.ChartSeries{{Name: SheetHistory + "!$E$1", Categories: cats,
			Values: fmt.Sprintf("%s!$E$2:$E$%d", SheetHistory, last),
			Line:   excelize.LineOptions{Width: 2.25, Dash: excelize.LineDashDash},
			Fill:   excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{colorPlanLine}},
			Marker: excelize.ChartMarker{Symbol: "none"}}, {
			Name: SheetHistory + "!$M$1", Categories: cats,
			Values: fmt.Sprintf("%s!$M$2:$M$%d", SheetHistory, last),
			Line:   excelize.LineOptions{Type: excelize.LineNone},
			Marker: excelize.ChartMarker{Symbol: "diamond", Size: 9,
				Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{colorProjected}}}}},
		// excelize takes the axes of a combined chart from its last part: the same ones
		XAxis: xAxis,
		YAxis: yAxis,
	}
	return f.AddChart(SheetChart, "A3", columns, plan)
}

// membersSheet lists the contract's member caps (BILLING.md section 3): each capped
// member's cap over the whole contract, the credits funded so far, what is left, and the
// credits blocked in the current period.
func membersSheet(f *excelize.File, st *styles, t *schemas.Tenant, use map[string]memberUse, cur period) error {
	w := &sheetWriter{f: f, sheet: SheetMembers}
	w.set("A", 1, "Member caps", st.title())
	w.set("A", 2, "A cap limits the credits funded for one member over the whole contract; past it, the member's usage is blocked. A cap of 0 blocks the member.", st.note())
	hdr := []string{"User ID", "Cap (credits)", "Funded to date", "Cap left", "Blocked: " + periodLabel(cur)}
	for i, h := range hdr {
		hs := st.header()
		if i > 0 {
			hs = st.headerRight()
		}
		w.set(colName(i), 4, h, hs)
	}
	credits := st.get(fmtCredits, false)
	for i, m := range t.Members {
		r := 5 + i
		u := use[m.UserID]
		funded, blocked := decimal.Zero, decimal.Zero
		if u.funded != "" {
			funded = decimal.RequireFromString(u.funded)
		}
		if u.blocked != "" {
			blocked = decimal.RequireFromString(u.blocked)
		}
		w.set("A", r, m.UserID, 0)
		w.set("B", r, num(m.Cap), credits)
		w.set("C", r, num(funded), credits)
		w.set("D", r, num(decimal.Max(m.Cap.Sub(funded), decimal.Zero)), credits)
		w.set("E", r, num(blocked), credits)
	}
	if w.err != nil {
		return w.err
	}
	if err := f.SetRowHeight(SheetMembers, 4, 30); err != nil {
		return err
	}
	if err := f.SetColWidth(SheetMembers, "A", "A", 24); err != nil {
		return err
	}
	if err := f.SetColWidth(SheetMembers, "B", "D", 16); err != nil {
		return err
	}
	return f.SetColWidth(SheetMembers, "E", "E", 30)
}

// eventsSheet streams the current period's anonymized events (read by readEvents) with
// excelize's StreamWriter, times in the tenant's zone.
func eventsSheet(f *excelize.File, st *styles, cur period, loc *time.Location, events []eventRow, skipped int) error {
	hdr := st.header()
	timeSt := st.get(fmtTime, false)
	units := st.get(fmtUnits, false)
	credits := st.get(fmtCredits, false)
	// Page setup before streaming: the stream writer keeps what the sheet holds when it opens.
	if err := printSetup(f, SheetEvents, "landscape", true); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetEvents)
	if err != nil {
		return err
	}
	widths := []float64{24, 24, 16, 22, 11, 10, 12, 12, 12, 12, 12, 12, 7, 38}
	for i, wd := range widths {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	header := eventsHeader(loc.String())
	head := make([]any, len(header))
	for i, h := range header {
		hs := hdr
		if i == 0 || i == 4 || (i >= 6 && i <= 11) {
			hs = st.headerRight()
		}
		head[i] = excelize.Cell{StyleID: hs, Value: h}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 30}); err != nil {
		return err
	}
	r := 1
	for _, e := range events {
		r++
		vals := []any{excelize.Cell{StyleID: timeSt, Value: localWall(e.at, loc)}, e.typ, e.user, e.domain, nil, e.unit}
		v, err := numText(e.value)
		if err != nil {
			return err
		}
		vals[4] = excelize.Cell{StyleID: units, Value: v}
		for _, s := range e.credits {
			c, err := numText(s)
			if err != nil {
				return err
			}
			vals = append(vals, excelize.Cell{StyleID: credits, Value: c})
		}
		a, err := numText(e.allowance)
		if err != nil {
			return err
		}
		vals = append(vals, excelize.Cell{StyleID: units, Value: a})
		lateText := ""
		if e.late {
			lateText = "late"
		}
		vals = append(vals, lateText, e.event)
		if err := sw.SetRow(fmt.Sprintf("A%d", r), vals); err != nil {
			return err
		}
	}
	if skipped > 0 {
		note := fmt.Sprintf("%d more events of this period are not listed (the sheet's row limit): see %s_ai_credits_usage.csv", skipped, cur.Start)
		if err := sw.SetRow(fmt.Sprintf("A%d", r+1), []any{note}); err != nil {
			return err
		}
	}
	if r > 1 {
		if err := sw.AddTable(&excelize.Table{Range: fmt.Sprintf("A1:N%d", r), Name: "PeriodEvents", StyleName: "TableStyleLight9"}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// colName is the column letter of a zero-based index below 26.
func colName(i int) string { return string(rune('A' + i)) }
