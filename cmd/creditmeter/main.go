// Command creditmeter turns raw AI-usage event logs into AI-credit balances, usage reports
// and invoices. See README.md for the subcommands.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/shard"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Exit statuses (FORMATS.md, "Command line").
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// CREDITMETER_CPU_PROFILE=FILE writes a Go CPU profile of the command (a debugging aid).
	if p := os.Getenv("CREDITMETER_CPU_PROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
			}
		}
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code != exitOK {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}

const usage = `creditmeter: AI-credit metering, reports and invoices

usage:
  creditmeter run      --config FILE [--source S] [--output O] [--warehouse W] [--now RFC3339]
                       [--dry-run [--report-dir DIR]]
  creditmeter partition --config FILE --state S --shards N [--source S] [--now RFC3339]
  creditmeter run      --config FILE --state S --shard I/N [--warehouse W]   (one shard of the round)
  creditmeter close    --config FILE --state S [--output O] [--wait DURATION]
  creditmeter serve    --config FILE [--once]
  creditmeter query    --warehouse W [--format table|csv] "SQL"
  creditmeter invoices --config FILE [--output O] [--period YYYY-MM] [--tenant ID] --out DIR [--format xlsx|csv|both] [--drafts]
  creditmeter generate --events N --tenants T --out DIR [--seed S]
  creditmeter explain  --config FILE [--warehouse W] --tenant ID --event ID [--json] [--restricted]
  creditmeter diff     --config FILE | --warehouse W  --from RUN --to RUN [--tenant ID] [--csv]
  creditmeter validate --config FILE [--source S] [--output O] [--warehouse W]
  creditmeter version  (or --version)

Exit status: 0 done, 1 the run failed and published nothing new, 2 bad arguments or configuration.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "partition":
		return cmdPartition(ctx, args[1:], stdout, stderr)
	case "close":
		return cmdClose(ctx, args[1:], stdout, stderr)
	case "generate":
		return cmdGenerate(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "query":
		return cmdQuery(ctx, args[1:], stdout, stderr)
	case "invoices":
		return cmdInvoices(ctx, args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(ctx, args[1:], stdout, stderr)
	case "diff":
		return cmdDiff(ctx, args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return exitCode(stderr, printVersion(ctx, stdout))
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "creditmeter: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// version is set at build time: go build -ldflags "-X main.version=$(git describe --always --dirty)"
// (the Makefile's build target); "dev" otherwise.
var version = "dev"

// printVersion prints the version, the Go version it was built with and the DuckDB library
// it links (SELECT version() on an in-memory database).
func printVersion(ctx context.Context, w io.Writer) error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		// a plain go build inside the repository still records the commit
		var rev, dirty string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && len(s.Value) >= 12:
				rev = s.Value[:12]
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "-dirty"
			}
		}
		if rev != "" {
			v += " (" + rev + dirty + ")"
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("version: open duckdb: %w", err)
	}
	defer db.Close()
	var duck string
	if err := warehouse.QueryRow(ctx, db, "version.sql", &duck); err != nil {
		return fmt.Errorf("version: %w", err)
	}
	_, err = fmt.Fprintf(w, "creditmeter %s\ngo %s\nduckdb %s\n", v, runtime.Version(), duck)
	return err
}

// usageError marks errors in arguments or configuration (exit status 2).
type usageError struct{ err error }

// Error returns the wrapped error's text.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e usageError) Unwrap() error { return e.err }

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "creditmeter:", err)
	if errors.Is(err, jobs.ErrLocked) {
		return exitOK // another run is at work: nothing to do, nothing failed
	}
	var ue usageError
	var ce *schemas.ConfigError
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.Is(err, objstore.ErrMissing) {
		return exitUsage
	}
	return exitFailed
}

func newLogger(w io.Writer, level string, json bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("parse --log-level %q: %w", level, err)}
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	source := fs.String("source", "", "raw event source: directory or s3://bucket/prefix (overrides the configuration)")
	output := fs.String("output", "", "output location: directory or s3://bucket/prefix (overrides the configuration)")
	wh := fs.String("warehouse", "", "DuckDB warehouse file (overrides the configuration)")
	nowFlag := fs.String("now", "", "the run's clock, RFC 3339 (finalization, file names)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	dryRun := fs.Bool("dry-run", false, "do everything but commit, finalize, number, publish and send, against a copy of the warehouse; print what the run would finalize and invoice")
	reportDir := fs.String("report-dir", "", "with --dry-run: write the reports the run would publish into this directory")
	shardFlag := fs.String("shard", "", "run one shard of a sharded round: I/N, or N with I from $"+shard.IndexEnv+" (needs --state)")
	stateFlag := fs.String("state", "", "the sharded fleet's state store: directory or s3://bucket/prefix (with --shard)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "creditmeter run: --config is required")
		return exitUsage
	}
	if *reportDir != "" && !*dryRun {
		fmt.Fprintln(stderr, "creditmeter run: --report-dir needs --dry-run")
		return exitUsage
	}
	if *dryRun && *shardFlag != "" {
		fmt.Fprintln(stderr, "creditmeter run: --dry-run is for a single-machine run, not one shard of a round")
		return exitUsage
	}
	if *shardFlag == "" && *stateFlag != "" {
		fmt.Fprintln(stderr, "creditmeter run: --state is for one shard of a sharded round: give --shard I/N (or N with $"+shard.IndexEnv+")")
		return exitUsage
	}
	if *shardFlag != "" {
		return cmdRunShard(ctx, shardArgs{cfgPath: *cfgPath, shard: *shardFlag, state: *stateFlag, source: *source, output: *output,
			warehouse: *wh, now: *nowFlag, logLevel: *logLevel}, stdout, stderr)
	}
	prog := newProgress(stderr) // nil unless stderr is a terminal
	log, err := newLogger(prog.LogWriter(stderr), *logLevel, *logJSON || !isTerminal(stderr))
	if err != nil {
		return exitCode(stderr, err)
	}
	var now time.Time
	if *nowFlag != "" {
		now, err = time.Parse(time.RFC3339Nano, *nowFlag)
		if err != nil {
			return exitCode(stderr, usageError{fmt.Errorf("parse --now %q: want RFC 3339", *nowFlag)})
		}
	}
	cfg, err := schemas.LoadConfig(*cfgPath)
	if err != nil {
		return exitCode(stderr, usageError{err}) // a missing or unreadable file is a bad argument too
	}
	r, err := jobs.New(jobs.Config{Config: cfg, File: *cfgPath, Log: log, Clock: time.Now, Stores: storeOptions(cfg, log), Progress: prog.Jobs()})
	if err != nil {
		return exitCode(stderr, err)
	}
	if *dryRun {
		res, err := r.DryRun(ctx, jobs.Options{Source: *source, Output: *output, Warehouse: *wh, Now: now}, *reportDir)
		if err != nil {
			return exitCode(stderr, err)
		}
		printDryRun(stdout, res)
		return exitOK
	}
	m, err := r.Run(ctx, jobs.Options{Source: *source, Output: *output, Warehouse: *wh, Now: now})
	if err != nil {
		return exitCode(stderr, err)
	}
	fmt.Fprintf(stdout, "run %s: %d lines read, %d accepted, %d quarantined, %d duplicates; outputs in %s\n",
		m.RunID, m.Counts.LinesRead, m.Counts.Accepted, m.Counts.Quarantined, m.Counts.Duplicates, m.Output)
	return exitOK
}

// printDryRun says what a run would do (run --dry-run): the periods it would finalize, the
// invoices it would issue with their amounts, the notifications it would record and the
// outputs it would publish.
func printDryRun(w io.Writer, res *jobs.DryRunResult) {
	m := res.Manifest
	fmt.Fprintf(w, "dry run %s: nothing committed, published or sent\n", m.RunID)
	fmt.Fprintf(w, "  %d lines read, %d accepted, %d quarantined, %d duplicates; %d tenants recomputed\n",
		m.Counts.LinesRead, m.Counts.Accepted, m.Counts.Quarantined, m.Counts.Duplicates, m.Recomputed)
	var periods []string
	for _, f := range m.Finalized {
		if f.Kind == "period" {
			periods = append(periods, f.TenantID+" "+f.PeriodStart)
		}
	}
	fmt.Fprintf(w, "would finalize %d period(s)\n", len(periods))
	for _, p := range periods {
		fmt.Fprintf(w, "  %s\n", p)
	}
	fmt.Fprintf(w, "would issue %d invoice(s)\n", len(res.Invoices))
	for _, i := range res.Invoices {
		last := i.PeriodEnd // shown inclusive, as the invoice shows it
		if d, err := time.Parse(time.DateOnly, i.PeriodEnd); err == nil {
			last = d.AddDate(0, 0, -1).Format(time.DateOnly)
		}
		fmt.Fprintf(w, "  %s  %s  %s to %s  %s exceeding credits  net %s %s, tax %s, total %s\n",
			i.Number, i.TenantID, i.PeriodStart, last, i.ExceedingCredits, i.Currency, i.Net, i.Tax, i.Total)
	}
	fmt.Fprintf(w, "would record %d notification(s)\n", len(res.Notifications))
	for _, n := range res.Notifications {
		if n.Kind == "runout" {
			fmt.Fprintf(w, "  %s  %s  run-out forecast\n", n.TenantID, n.PeriodStart)
		} else {
			fmt.Fprintf(w, "  %s  %s  threshold %s\n", n.TenantID, n.PeriodStart, n.Threshold)
		}
	}
	where := "not kept (--report-dir DIR keeps them)"
	if res.ReportDir != "" {
		where = "written to " + res.ReportDir
	}
	var removed []string
	for _, o := range m.Outputs {
		if o.SHA256 == "" {
			removed = append(removed, o.Key)
		}
	}
	fmt.Fprintf(w, "would publish %d output(s): %s\n", len(m.Outputs)-len(removed), where)
	if len(removed) > 0 {
		fmt.Fprintf(w, "would remove %d output(s)\n", len(removed))
		for _, k := range removed {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
}
