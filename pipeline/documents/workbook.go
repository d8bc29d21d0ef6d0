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

// Sheet names of the tenant workbook, in order.
const (
	SheetPlan    = "Plan"
	SheetCurrent = "Current period"
	SheetHistory = "History"
	SheetChart   = "Chart"
	SheetEvents  = "Events"
)

// History columns: A period start ... K events; the chart reads D (plan) and J (used).
var historyHeader = []string{"Period start", "Period end (exclusive)", "Status", "Credits plan",
	"Plan credits used", "Bank credits used", "Bank credits remaining", "Exceeding credits",
	"Blocked credits", "Total credits used", "Events"}

// Events columns.
var eventsHeader = []string{"Datetime (UTC)", "Event type", "User ID", "Domain", "Event value",
	"Unit", "Credits consumed", "Plan credits", "Bank credits", "Exceeding credits",
	"Blocked credits", "Late", "Event ID"}

// workbookJob is everything one tenant's workbook shows, read from the warehouse before it
// is rendered (rendering runs on a pool, away from the connection).
type workbookJob struct {
	path    string
	t       *schemas.Tenant
	ps      []period
	used    map[string]decimal.Decimal
	events  []eventRow
	skipped int // events past the sheet's row limit
}

// eventRow is one row of the Events sheet (documents_events.sql), decimals as exact text.
type eventRow struct {
	at                             time.Time
	typ, user, domain, value, unit string
	credits                        [5]string // consumed, plan, bank, exceeding, blocked
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
			&e.credits[2], &e.credits[3], &e.credits[4], &e.late, &e.event); err != nil {
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

func writeWorkbook(j *workbookJob) error {
	t, ps, used := j.t, j.ps, j.used
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetPlan); err != nil {
		return err
	}
	for _, s := range []string{SheetCurrent, SheetHistory, SheetChart, SheetEvents} {
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
	// The Events sheet is streamed last; its page setup is done in eventsSheet.
	for _, step := range []func() error{
		func() error { return planSheet(f, st, t, cur, used) },
		func() error { return currentSheet(f, st, t, cur) },
		func() error { return historySheet(f, st, ps) },
		func() error { return chartSheet(f, len(ps)) },
		func() error { return eventsSheet(f, st, cur.Start, j.events, j.skipped) },
	} {
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

func planSheet(f *excelize.File, st *styles, t *schemas.Tenant, cur period, used map[string]decimal.Decimal) error {
	w := &sheetWriter{f: f, sheet: SheetPlan}
	name := t.Name
	if name == "" {
		name = t.ID
	}
	bold := st.get("", true)
	credits := st.left(fmtCredits)
	w.set("A", 1, "AI credits: "+name, st.title())
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
	kv("Service period", t.ServiceStart.String()+" to "+t.ServiceEnd.String(), 0)
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
	kv("As of period", cur.Start+" to "+lastDay(cur.End), 0)

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
			w.set("C", row, d.At.Date.String(), 0)
		} else {
			w.set("C", row, d.At.Time.In(loc).Format("2006-01-02 15:04 MST"), 0)
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
	if err := f.SetColWidth(SheetPlan, "B", "B", 22); err != nil {
		return err
	}
	return f.SetColWidth(SheetPlan, "C", "E", 16)
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

func currentSheet(f *excelize.File, st *styles, t *schemas.Tenant, p period) error {
	w := &sheetWriter{f: f, sheet: SheetCurrent}
	bold := st.get("", true)
	credits := st.left(fmtCredits)
	w.set("A", 1, "Current period", st.title())
	row := 3
	kv := func(label string, v any, style int) {
		w.set("A", row, label, bold)
		w.set("B", row, v, style)
		row++
	}
	status := "Open"
	if p.Final {
		status = "Final"
	}
	kv("Period", p.Start+" to "+lastDay(p.End), 0)
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
		hs := hdr
		if i != 2 {
			hs = st.headerRight()
		}
		w.set(colName(i), 1, h, hs)
	}
	dateSt := st.get(fmtDate, false)
	credits := st.get(fmtCredits, false)
	for i, p := range ps {
		r := i + 2
		for j, s := range []string{p.Start, p.End} {
			d, err := date(s)
			if err != nil {
				return err
			}
			w.set(colName(j), r, d, dateSt)
		}
		status := "open"
		if p.Final {
			status = "final"
		}
		w.set("C", r, status, 0)
		for j, d := range []decimal.Decimal{p.CreditsPlan, p.PlanUsed, p.BankUsed, p.BankRemaining, p.Exceeding, p.Blocked, p.CreditsUsed} {
			w.set(colName(3+j), r, num(d), credits)
		}
		w.set("K", r, p.Events, st.get(fmtInt, false))
	}
	if w.err != nil {
		return w.err
	}
	last := fmt.Sprintf("K%d", len(ps)+1)
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
	if err := f.SetColWidth(SheetHistory, "A", "C", 13); err != nil {
		return err
	}
	return f.SetColWidth(SheetHistory, "D", "K", 14)
}

// chartSheet draws credits used per period (History column J) against the credits plan
// (column D), one point per History row.
func chartSheet(f *excelize.File, n int) error {
	if err := f.SetCellValue(SheetChart, "A1", "Credits used per period against the credits plan (data: sheet History)"); err != nil {
		return err
	}
	last := n + 1
	axisFont := excelize.Font{Color: "404040", Size: 9}
	cats := fmt.Sprintf("%s!$A$2:$A$%d", SheetHistory, last)
	return f.AddChart(SheetChart, "A3", &excelize.Chart{
		Type: excelize.Line,
		Series: []excelize.ChartSeries{
			{Name: SheetHistory + "!$J$1", Categories: cats, Values: fmt.Sprintf("%s!$J$2:$J$%d", SheetHistory, last),
				Line: excelize.LineOptions{Width: 2.25}, Marker: excelize.ChartMarker{Symbol: "circle", Size: 6}},
			{Name: SheetHistory + "!$D$1", Categories: cats, Values: fmt.Sprintf("%s!$D$2:$D$%d", SheetHistory, last),
				Line: excelize.LineOptions{Width: 2.25, Dash: excelize.LineDashDash}, Marker: excelize.ChartMarker{Symbol: "none"}},
		},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Credits used vs credits plan"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 360},
		XAxis:     excelize.ChartAxis{Font: axisFont, Title: excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Period start"}}}, NumFmt: excelize.ChartNumFmt{CustomNumFmt: fmtDate}},
		YAxis:     excelize.ChartAxis{Font: axisFont, MajorGridLines: true, Title: excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Credits"}}}, NumFmt: excelize.ChartNumFmt{CustomNumFmt: fmtInt}},
		PlotArea:  excelize.ChartPlotArea{ShowVal: false},
	})
}

// eventsSheet streams the current period's anonymized events (read by readEvents) with
// excelize's StreamWriter.
func eventsSheet(f *excelize.File, st *styles, start string, events []eventRow, skipped int) error {
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
	widths := []float64{20, 24, 16, 22, 11, 10, 12, 12, 12, 12, 12, 7, 22}
	for i, wd := range widths {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	head := make([]any, len(eventsHeader))
	for i, h := range eventsHeader {
		hs := hdr
		if i == 0 || i == 4 || (i >= 6 && i <= 10) {
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
		vals := []any{excelize.Cell{StyleID: timeSt, Value: e.at}, e.typ, e.user, e.domain, nil, e.unit}
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
		note := fmt.Sprintf("%d more events of this period are not listed (the sheet's row limit): see %s_ai_credits_usage.csv", skipped, start)
		if err := sw.SetRow(fmt.Sprintf("A%d", r+1), []any{note}); err != nil {
			return err
		}
	}
	if r > 1 {
		if err := sw.AddTable(&excelize.Table{Range: fmt.Sprintf("A1:M%d", r), Name: "PeriodEvents", StyleName: "TableStyleLight9"}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// colName is the column letter of a zero-based index below 26.
func colName(i int) string { return string(rune('A' + i)) }
