// Package documents renders the finance and customer documents of a run into its staging
// directory: one workbook per tenant (usage/{tenant}/ai_credits.xlsx) and, for every issued
// invoice, invoices/{invoice_number}.xlsx and .csv (FORMATS.md, "Outputs"; issue 4).
//
// The numbers come from the run's temporary tables through sql/documents_*.sql, as exact
// decimal text. Money and credits stay shopspring/decimal values until the very moment a
// number is put into a spreadsheet cell, where excelize only takes float64 (see num); every
// sum and every rounding is done before that, in DuckDB DECIMAL arithmetic.
//
// Every document is byte-stable: the same data gives the same bytes, because document
// properties carry fixed timestamps (an invoice's issue date; a constant for the tenant
// workbooks) and nothing else in the files depends on the clock.
package documents

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"golang.org/x/sync/errgroup"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// WorkbookKey is the output key of a tenant's workbook.
func WorkbookKey(tenantID string) string { return "usage/" + tenantID + "/ai_credits.xlsx" }

// InvoiceKey is the output key of an invoice document; ext is "xlsx" or "csv".
func InvoiceKey(number, ext string) string { return "invoices/" + number + "." + ext }

// DraftKey is the output key of a draft invoice document (issue 11); ext is "xlsx" or "csv".
func DraftKey(tenantID, periodStart, ext string) string {
	return "invoices/drafts/" + tenantID + "_" + periodStart + "." + ext
}

// DraftNumber is what a draft invoice shows where an issued one has its number.
const DraftNumber = "DRAFT"

// WriteDrafts renders into dir the draft invoices of the recomputed tenants (the temp table
// dirty; documents_drafts.sql): one per open period that would be invoiced if it closed now,
// marked DRAFT, without a number, an issue date or a due date. Nothing in them depends on
// the clock, so a draft is published again only when its figures change. It returns the
// keys rendered and the keys of the drafts published before for those tenants that are no
// longer drafted (the period is final and its invoice issued, or nothing is left to
// invoice): the caller removes those.
func WriteDrafts(ctx context.Context, conn *sql.Conn, dir string) (rendered, stale []string, err error) {
	drafts, err := readInvoiceLines(ctx, conn, "documents_drafts.sql")
	if err != nil {
		return nil, nil, err
	}
	if len(drafts) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "invoices", "drafts"), 0o700); err != nil {
			return nil, nil, fmt.Errorf("documents: %w", err)
		}
	}
	for _, inv := range drafts {
		inv.Draft, inv.Number = true, DraftNumber
		rendered = append(rendered, DraftKey(inv.TenantID, inv.PeriodStart, "csv"), DraftKey(inv.TenantID, inv.PeriodStart, "xlsx"))
	}
	if err := parallel(drafts, func(inv *invoice) error {
		if err := writeInvoice(dir, inv); err != nil {
			return fmt.Errorf("documents: draft invoice of %s %s: %w", inv.TenantID, inv.PeriodStart, err)
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	cur := map[string]bool{}
	for _, k := range rendered {
		cur[k] = true
	}
	rows, err := warehouse.Query(ctx, conn, "documents_drafts_published.sql")
	if err != nil {
		return nil, nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, nil, fmt.Errorf("documents: read published drafts: %w", err)
		}
		if !cur[k] {
			stale = append(stale, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("documents: read published drafts: %w", err)
	}
	return rendered, stale, nil
}

// Write renders into dir the workbooks of the tenants this run recomputed (the temp table
// dirty; period_calc, rated_events, usage_rows, cfg_*) and the documents of the invoices
// this run issued (invoices, invoice_lines), on the run's connection inside its result
// transaction. An invoice's documents are rendered once, from the data as it stands when it
// is issued, and kept in the warehouse (table documents); Write returns their keys, which
// never change again. now picks each tenant's current period; it is never written into a
// document, so re-runs with no new input give the same bytes.
func Write(ctx context.Context, conn *sql.Conn, dir string, cfg *schemas.Config, now time.Time, runSeq int) ([]string, error) {
	periods, err := readPeriods(ctx, conn, now)
	if err != nil {
		return nil, err
	}
	used, err := readAllowanceUse(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := readForecasts(ctx, conn, periods); err != nil {
		return nil, err
	}
	var asOf map[string]time.Time
	var members map[string]map[string]memberUse
	// Workbooks render on a pool: the connection reads one tenant's data at a time, and
	// excelize builds the files on every core (the bytes do not depend on the order).
	jobs := make(chan *workbookJob, renderers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var renderErr error
	for range renderers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := writeWorkbook(j); err != nil {
					mu.Lock()
					if renderErr == nil {
						renderErr = fmt.Errorf("documents: workbook of %s: %w", j.t.ID, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	// one query streams every workbook's events, grouped by tenant; a tenant's workbook goes
	// to the pool as soon as its rows are read
	type pending struct {
		j   *workbookJob
		cur string
	}
	var order []pending
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		ps := periods[t.ID]
		if len(ps) == 0 {
			continue
		}
		cur := ps[len(ps)-1]
		for _, p := range ps {
			if p.Current {
				cur = p
			}
		}
		path := filepath.Join(dir, filepath.FromSlash(WorkbookKey(t.ID)))
		order = append(order, pending{&workbookJob{path: path, t: t, ps: ps, used: used[t.ID], members: map[string]memberUse{}}, cur.Start})
	}
	sort.Slice(order, func(i, j int) bool { return order[i].j.t.ID < order[j].j.t.ID })
	feed := func() error {
		defer close(jobs)
		if len(order) == 0 {
			return nil
		}
		if err := warehouse.Exec(ctx, conn, "documents_current.sql"); err != nil {
			return err
		}
		err := warehouse.Append(ctx, conn, "doc_current", func(add func(...driver.Value) error) error {
			for _, p := range order {
				d, err := time.Parse(time.DateOnly, p.cur)
				if err != nil {
					return err
				}
				if err := add(p.j.t.ID, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		// what every workbook shows besides its events: the latest usage counted, the
		// members' use of their caps
		if asOf, err = readAsOf(ctx, conn); err != nil {
			return fmt.Errorf("documents: %w", err)
		}
		if members, err = readMembers(ctx, conn, runSeq); err != nil {
			return fmt.Errorf("documents: %w", err)
		}
		for _, p := range order {
			if at, ok := asOf[p.j.t.ID]; ok {
				p.j.asOf = &at
			}
			if m := members[p.j.t.ID]; m != nil {
				p.j.members = m
			}
		}
		next := 0
		send := func(upTo string) error { // the workbooks of tenants up to this one are complete
			for next < len(order) && order[next].j.t.ID <= upTo {
				if err := os.MkdirAll(filepath.Dir(order[next].j.path), 0o700); err != nil {
					return fmt.Errorf("documents: %w", err)
				}
				jobs <- order[next].j
				next++
			}
			return nil
		}
		err = readEvents(ctx, conn, runSeq, func(tenant string, e eventRow) error {
			for next < len(order) && order[next].j.t.ID < tenant {
				if err := send(order[next].j.t.ID); err != nil {
					return err
				}
			}
			if next < len(order) && order[next].j.t.ID == tenant {
				j := order[next].j
				if len(j.events) >= excelize.TotalRows-2 {
					j.skipped++
				} else {
					j.events = append(j.events, e)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("documents: %w", err)
		}
		return send("\U0010FFFF")
	}
	ferr := feed()
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	if renderErr != nil {
		return nil, renderErr
	}
	invoices, err := readInvoices(ctx, conn, runSeq)
	if err != nil {
		return nil, err
	}
	if len(invoices) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "invoices"), 0o700); err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	var keys []string
	if err := parallel(invoices, func(inv *invoice) error {
		if err := writeInvoice(dir, inv); err != nil {
			return fmt.Errorf("documents: invoice %s: %w", inv.Number, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, inv := range invoices {
		keys = append(keys, InvoiceKey(inv.Number, "csv"), InvoiceKey(inv.Number, "xlsx"))
	}
	return keys, keep(ctx, conn, dir, keys, runSeq)
}

// renderers is how many documents render at once.
const renderers = 4

// parallel runs fn for every item on renderers goroutines and returns the first error.
func parallel[T any](items []T, fn func(T) error) error {
	var g errgroup.Group
	g.SetLimit(renderers)
	for _, it := range items {
		g.Go(func() error { return fn(it) })
	}
	return g.Wait()
}

// keep stores the documents rendered once in the warehouse (table documents), in one
// statement.
func keep(ctx context.Context, conn *sql.Conn, dir string, keys []string, runSeq int) error {
	if err := warehouse.Exec(ctx, conn, "documents_stage.sql"); err != nil {
		return err
	}
	err := warehouse.Append(ctx, conn, "documents_new", func(add func(...driver.Value) error) error {
		for _, key := range keys {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
			if err != nil {
				return fmt.Errorf("documents: keep %s: %w", key, err)
			}
			sum := sha256.Sum256(b)
			if err := add(key, hex.EncodeToString(sum[:]), b, int32(runSeq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return warehouse.Exec(ctx, conn, "documents_store.sql")
}

// period is one row of documents_periods.sql.
type period struct {
	Start, End         string // YYYY-MM-DD, End exclusive
	Final, Current     bool
	CreditsPlan        decimal.Decimal
	PlanUsed, BankUsed decimal.Decimal
	BankRemaining      decimal.Decimal
	Exceeding, Blocked decimal.Decimal
	AllowanceUsed      decimal.Decimal
	CreditsUsed        decimal.Decimal // plan + bank + exceeding
	Rated              decimal.Decimal // this run's rated credits of the period's events
	Events             int64
	// Forecast is the open period's forecast (pipeline/forecast); nil for a final one.
	Forecast *forecastFig
}

// forecastFig is one row of documents_forecast.sql: an open period's forecast.
type forecastFig struct {
	Days, Elapsed              int
	Burn, Projected            decimal.Decimal
	PlanRunsOut, CreditsRunOut string // YYYY-MM-DD; "" when not within the period
	PlanRanOut, CreditsRanOut  bool   // the day is when they ran out, not a projection
	PlanNone, CreditsNone      bool   // nothing to run out of
}

// readForecasts attaches the run's forecasts (documents_forecast.sql) to the open periods.
func readForecasts(ctx context.Context, conn *sql.Conn, periods map[string][]period) error {
	rows, err := warehouse.Query(ctx, conn, "documents_forecast.sql")
	if err != nil {
		return fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tenant, start, burn, projected string
		var f forecastFig
		if err := rows.Scan(&tenant, &start, &f.Days, &f.Elapsed, &burn, &projected, &f.PlanRunsOut,
			&f.CreditsRunOut, &f.PlanRanOut, &f.CreditsRanOut, &f.PlanNone, &f.CreditsNone); err != nil {
			return fmt.Errorf("documents: read forecasts: %w", err)
		}
		if f.Burn, err = decimal.NewFromString(burn); err != nil {
			return fmt.Errorf("documents: read forecasts: %w", err)
		}
		if f.Projected, err = decimal.NewFromString(projected); err != nil {
			return fmt.Errorf("documents: read forecasts: %w", err)
		}
		ps := periods[tenant]
		for i := range ps {
			if ps[i].Start == start {
				fc := f
				ps[i].Forecast = &fc
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("documents: read forecasts: %w", err)
	}
	return nil
}

func readPeriods(ctx context.Context, conn *sql.Conn, now time.Time) (map[string][]period, error) {
	rows, err := warehouse.Query(ctx, conn, "documents_periods.sql", now.UTC())
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	out := map[string][]period{}
	for rows.Next() {
		var tenant string
		var p period
		var d [9]string
		if err := rows.Scan(&tenant, &p.Start, &p.End, &p.Final, &p.Current,
			&d[0], &d[1], &d[2], &d[3], &d[4], &d[5], &d[6], &d[7], &d[8], &p.Events); err != nil {
			return nil, fmt.Errorf("documents: read periods: %w", err)
		}
		dst := []*decimal.Decimal{&p.CreditsPlan, &p.PlanUsed, &p.BankUsed, &p.BankRemaining,
			&p.Exceeding, &p.Blocked, &p.AllowanceUsed, &p.CreditsUsed, &p.Rated}
		for i, s := range d {
			if *dst[i], err = decimal.NewFromString(s); err != nil {
				return nil, fmt.Errorf("documents: read periods: %w", err)
			}
		}
		out[tenant] = append(out[tenant], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("documents: read periods: %w", err)
	}
	return out, nil
}

func readAllowanceUse(ctx context.Context, conn *sql.Conn) (map[string]map[string]decimal.Decimal, error) {
	rows, err := warehouse.Query(ctx, conn, "documents_allowances.sql")
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]decimal.Decimal{}
	for rows.Next() {
		var tenant, pool, units string
		if err := rows.Scan(&tenant, &pool, &units); err != nil {
			return nil, fmt.Errorf("documents: read allowance use: %w", err)
		}
		d, err := decimal.NewFromString(units)
		if err != nil {
			return nil, fmt.Errorf("documents: read allowance use: %w", err)
		}
		if out[tenant] == nil {
			out[tenant] = map[string]decimal.Decimal{}
		}
		out[tenant][pool] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("documents: read allowance use: %w", err)
	}
	return out, nil
}

// invoice is one issued invoice with its lines (documents_invoices.sql), as captured when
// it was issued. Money is exact text at 2 places.
type invoice struct {
	// Draft marks a draft invoice (WriteDrafts): Number is DraftNumber, Date and DueDate "".
	Draft                                              bool
	Number, Date, DueDate                              string // YYYY-MM-DD
	PaymentDays                                        int
	TenantID, Customer, CustomerAddress, CustomerTaxID string
	POReference                                        string
	PeriodStart, PeriodEnd, Currency                   string // PeriodEnd exclusive
	Net, TaxLabel, TaxRate, TaxNote, Tax, Total        string
	IssuerName, IssuerAddress, IssuerTaxID, IssuerBank string
	Lines                                              []invoiceLine
}

type invoiceLine struct {
	No                          int64
	Description                 string
	PeriodStart, PeriodEnd      string // PeriodEnd exclusive
	Quantity, UnitPrice, Amount string // plain decimals; Amount at 2 places
}

func readInvoices(ctx context.Context, conn *sql.Conn, runSeq int) ([]*invoice, error) {
	return readInvoiceLines(ctx, conn, "documents_invoices.sql", runSeq)
}

// readInvoiceLines reads invoices line by line from a query in the columns of
// documents_invoices.sql, sorted by invoice; an invoice's lines are those of one number,
// tenant and period (drafts have no number).
func readInvoiceLines(ctx context.Context, conn *sql.Conn, query string, args ...any) ([]*invoice, error) {
	rows, err := warehouse.Query(ctx, conn, query, args...)
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	defer rows.Close()
	var out []*invoice
	for rows.Next() {
		var h invoice
		var l invoiceLine
		if err := rows.Scan(&h.Number, &h.Date, &h.DueDate, &h.PaymentDays, &h.TenantID, &h.Customer,
			&h.CustomerAddress, &h.CustomerTaxID, &h.POReference, &h.PeriodStart, &h.PeriodEnd,
			&h.Currency, &l.No, &l.Description, &l.PeriodStart, &l.PeriodEnd, &l.Quantity, &l.UnitPrice,
			&l.Amount, &h.Net, &h.TaxLabel, &h.TaxRate, &h.TaxNote, &h.Tax, &h.Total,
			&h.IssuerName, &h.IssuerAddress, &h.IssuerTaxID, &h.IssuerBank); err != nil {
			return nil, fmt.Errorf("documents: read invoices: %w", err)
		}
		if n := len(out); n == 0 || out[n-1].Number != h.Number || out[n-1].TenantID != h.TenantID ||
			out[n-1].PeriodStart != h.PeriodStart {
			out = append(out, &h)
		}
		cur := out[len(out)-1]
		cur.Lines = append(cur.Lines, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("documents: read invoices: %w", err)
	}
	return out, nil
}

// num converts an exact decimal to the float64 that excelize stores in a cell. This is the
// one place where a money or credit amount becomes binary floating point, at the last
// moment, after every computation was done exactly; the values have at most 6 decimal places
// and well under 15 significant digits, so the cell shows exactly the decimal.
func num(d decimal.Decimal) float64 { return d.InexactFloat64() }

// numText is num for exact decimal text from SQL.
func numText(s string) (float64, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, err
	}
	return num(d), nil
}
