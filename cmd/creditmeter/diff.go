package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// cmdDiff answers "what changed since that run, and why?": per tenant and period, every
// ledger column whose value at the second run differs from its value at the first, with the
// causes the runs in between recorded for the tenant. The warehouse is opened read-only.
func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file: its warehouse: when --warehouse is not given")
	wh := fs.String("warehouse", "", "DuckDB warehouse file (overrides the configuration)")
	from := fs.String("from", "", "the earlier run: its id (20260406T000000Z-000007) or number")
	to := fs.String("to", "", "the later run: its id or number")
	tenant := fs.String("tenant", "", "only this tenant")
	asCSV := fs.Bool("csv", false, "print CSV instead of an aligned table")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, usageError{fmt.Errorf("diff: unexpected argument %q", fs.Arg(0))})
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(stderr, "creditmeter diff: --from and --to are required")
		return exitUsage
	}
	path := *wh
	if path == "" && *cfgPath != "" {
		cfg, err := schemas.LoadConfig(*cfgPath)
		if err != nil {
			return exitCode(stderr, usageError{err})
		}
		path = cfg.Resolve(cfg.Warehouse)
	}
	if path == "" {
		fmt.Fprintln(stderr, "creditmeter diff: --warehouse (or --config) is required")
		return exitUsage
	}
	db, conn, err := openReadOnly(ctx, path)
	if err != nil {
		return exitCode(stderr, err)
	}
	defer db.Close()
	defer conn.Close()
	d, err := diffRuns(ctx, conn, *from, *to, *tenant)
	if err != nil {
		return exitCode(stderr, err)
	}
	if *asCSV {
		return exitCode(stderr, d.writeCSV(stdout))
	}
	return exitCode(stderr, d.writeText(stdout))
}

// runRef is one run of the warehouse.
type runRef struct {
	Seq    int
	ID     string
	Now    time.Time
	Status string
}

// diffChange is one ledger column that changed.
type diffChange struct {
	Tenant, Start, End string
	New                bool // the row has no version at the first run
	Column             string
	From, To, Change   string // From is "" for a new row; Change (to - from) is "" for text columns
	Runs               []int  // the runs in (from, to] that wrote a version of the row
}

// diffCause is one cause a run recorded for a tenant.
type diffCause struct {
	Seq    int
	RunID  string
	Tenant string
	Cause  string
	N      int64
}

// ledgerDiff is what `creditmeter diff` prints.
type ledgerDiff struct {
	From, To runRef
	Changes  []diffChange
	// causes by tenant, then run number
	causes map[string]map[int][]diffCause
	ids    map[int]string
}

// diffRuns compares the ledger at two runs (diff_rows.sql) and gathers the causes of the
// runs in between (diff_causes.sql).
func diffRuns(ctx context.Context, conn *sql.Conn, from, to, tenant string) (*ledgerDiff, error) {
	a, err := findRun(ctx, conn, from, "--from")
	if err != nil {
		return nil, err
	}
	b, err := findRun(ctx, conn, to, "--to")
	if err != nil {
		return nil, err
	}
	if a.Seq > b.Seq {
		return nil, usageError{fmt.Errorf("diff: --from %s is later than --to %s", a.ID, b.ID)}
	}
	d := &ledgerDiff{From: a, To: b, causes: map[string]map[int][]diffCause{}, ids: map[int]string{}}
	rows, err := warehouse.Query(ctx, conn, "diff_rows.sql", a.Seq, b.Seq, tenant)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c diffChange
		var fromV, toV, change sql.NullString
		var runs string
		if err := rows.Scan(&c.Tenant, &c.Start, &c.End, &c.New, &c.Column, &fromV, &toV, &change, &runs); err != nil {
			return nil, fmt.Errorf("diff: read changes: %w", err)
		}
		c.From, c.To = plainDec(fromV.String), plainDec(toV.String)
		if c.Column == "status" || c.Column == "period_end" {
			c.From, c.To = fromV.String, toV.String
		} else if change.Valid {
			c.Change = plainDec(change.String)
		}
		for _, f := range strings.Fields(runs) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("diff: read changes: run %q: %w", f, err)
			}
			c.Runs = append(c.Runs, n)
		}
		d.Changes = append(d.Changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("diff: read changes: %w", err)
	}
	crows, err := warehouse.Query(ctx, conn, "diff_causes.sql", a.Seq, b.Seq, tenant)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var c diffCause
		if err := crows.Scan(&c.Seq, &c.RunID, &c.Tenant, &c.Cause, &c.N); err != nil {
			return nil, fmt.Errorf("diff: read causes: %w", err)
		}
		if d.causes[c.Tenant] == nil {
			d.causes[c.Tenant] = map[int][]diffCause{}
		}
		d.causes[c.Tenant][c.Seq] = append(d.causes[c.Tenant][c.Seq], c)
		d.ids[c.Seq] = c.RunID
	}
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("diff: read causes: %w", err)
	}
	return d, nil
}

// findRun resolves a run id (or number); an unknown one is a bad argument.
func findRun(ctx context.Context, conn *sql.Conn, ref, flagName string) (runRef, error) {
	var r runRef
	var nowUS int64
	err := queryOne(ctx, conn, "diff_run.sql", []any{ref}, &r.Seq, &r.ID, &nowUS, &r.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return r, usageError{fmt.Errorf("diff: %s %s: no such run in the warehouse", flagName, ref)}
	}
	if err != nil {
		return r, fmt.Errorf("diff: %w", err)
	}
	r.Now = time.UnixMicro(nowUS).UTC()
	return r, nil
}

// causesText says why the runs that wrote a row's versions recomputed its tenant:
// "RUN: cause n, cause n; RUN: ...".
func (d *ledgerDiff) causesText(c diffChange) string {
	var parts []string
	for _, seq := range c.Runs {
		var cs []string
		for _, k := range d.causes[c.Tenant][seq] {
			cs = append(cs, fmt.Sprintf("%s %d", k.Cause, k.N))
		}
		id := d.ids[seq]
		if id == "" {
			id = "run " + strconv.Itoa(seq)
		}
		if len(cs) == 0 {
			cs = []string{"no cause recorded"}
		}
		parts = append(parts, id+": "+strings.Join(cs, ", "))
	}
	return strings.Join(parts, "; ")
}

// runIDs lists the runs that wrote a row's versions by id.
func (d *ledgerDiff) runIDs(c diffChange) string {
	var out []string
	for _, seq := range c.Runs {
		id := d.ids[seq]
		if id == "" {
			id = strconv.Itoa(seq)
		}
		out = append(out, id)
	}
	return strings.Join(out, " ")
}

// diffHeader is the CSV header of `creditmeter diff --csv`.
var diffHeader = []string{"tenant_id", "period_start", "period_end", "column", "from", "to", "change", "changed_by", "causes"}

// writeCSV prints one row per changed column; text cells are neutralised as in every CSV
// output (FORMATS.md, "Text cells").
func (d *ledgerDiff) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(diffHeader); err != nil {
		return err
	}
	for _, c := range d.Changes {
		rec := []string{documents.Cell(c.Tenant), c.Start, c.End, c.Column, c.From, c.To, c.Change,
			d.runIDs(c), documents.Cell(d.causesText(c))}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeText prints an aligned table, the tenant, period and causes once per ledger row.
func (d *ledgerDiff) writeText(w io.Writer) error {
	fmt.Fprintf(w, "ledger changes from run %s (now %s) to run %s (now %s)\n", d.From.ID,
		d.From.Now.Format(time.RFC3339), d.To.ID, d.To.Now.Format(time.RFC3339))
	if len(d.Changes) == 0 {
		_, err := fmt.Fprintln(w, "no ledger row changed")
		return err
	}
	fmt.Fprintln(w)
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tenant_id\tperiod_start\tcolumn\tfrom\tto\tchange\tcaused by")
	prev := ""
	for _, c := range d.Changes {
		tenant, start, causes := c.Tenant, c.Start, d.causesText(c)
		if key := c.Tenant + "\x00" + c.Start; key == prev {
			tenant, start, causes = "", "", ""
		} else {
			prev = key
			if c.New {
				causes = "new row; " + causes
			}
		}
		from := c.From
		if c.New {
			from = "-"
		}
		change := c.Change
		if change != "" && !strings.HasPrefix(change, "-") {
			change = "+" + change
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(tenant), start, c.Column, from, c.To, change, printable(causes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeTrimmed(w, buf.Bytes())
}
