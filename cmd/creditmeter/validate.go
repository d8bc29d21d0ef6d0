package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/history"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/schemas"
)

// cmdValidate makes every check a run makes of its configuration before it reads anything,
// without running: the schema and the semantic checks (schemas.LoadConfig, schedules
// included), the locations (output and warehouse outside the source, the warehouse a local
// file), the source reachable and listable, and the calendar against the periods earlier
// runs finalized (the warehouse opened read-only; one that does not exist yet has none).
// Exit 0 when everything holds, 2 with every problem listed otherwise.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	source := fs.String("source", "", "raw event source (overrides the configuration, as for run)")
	output := fs.String("output", "", "output location (overrides the configuration, as for run)")
	wh := fs.String("warehouse", "", "DuckDB warehouse file (overrides the configuration, as for run)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, usageError{fmt.Errorf("validate: unexpected argument %q", fs.Arg(0))})
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "creditmeter validate: --config is required")
		return exitUsage
	}
	cfg, err := schemas.LoadConfig(*cfgPath)
	if err != nil {
		return exitCode(stderr, usageError{err})
	}
	rep, cerr := validate(ctx, cfg, *cfgPath, locations{Source: *source, Output: *output, Warehouse: *wh})
	if cerr != nil {
		return exitCode(stderr, cerr)
	}
	for _, l := range rep {
		fmt.Fprintln(stdout, l)
	}
	return exitOK
}

// locations are where a run would read and write.
type locations struct{ Source, Output, Warehouse string }

// validate checks a loaded configuration as a run would before it starts. It returns what
// it checked, one line each, or every problem found.
func validate(ctx context.Context, cfg *schemas.Config, file string, loc locations) ([]string, *schemas.ConfigError) {
	if loc.Source == "" {
		loc.Source = cfg.Resolve(cfg.Source)
	}
	if loc.Output == "" {
		loc.Output = cfg.Resolve(cfg.Output)
	}
	if loc.Warehouse == "" {
		loc.Warehouse = cfg.Resolve(cfg.Warehouse)
	}
	cards := map[string]bool{}
	for _, rc := range cfg.RateCards {
		cards[rc.ID] = true
	}
	report := []string{
		fmt.Sprintf("configuration %s is valid", file),
		fmt.Sprintf("  schema and contracts: %d tenants, %d rate cards (%d versions), grace period %s", len(cfg.Tenants), len(cards), len(cfg.RateCards), cfg.GracePeriod.Duration),
		fmt.Sprintf("  schedules: %d (%s)", len(cfg.Schedule), strings.Join(cfg.Schedule, "; ")),
	}
	var probs []schemas.Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, schemas.Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
	}
	for _, l := range []struct{ name, v string }{{"source", loc.Source}, {"output", loc.Output}, {"warehouse", loc.Warehouse}} {
		if l.v == "" {
			add(l.name, "not set (in the configuration or with --%s)", l.name)
		}
	}
	if len(probs) > 0 {
		return nil, &schemas.ConfigError{File: file, Problems: probs}
	}

	// The locations, as a run checks them before it starts.
	probs = append(probs, jobs.LocationProblems(loc.Source, loc.Output, loc.Warehouse)...)

	// The source: reachable and listable (a missing one is a mistake, never an empty source).
	opts := storeOptions(cfg, nil)
	if src, err := objstore.Open(ctx, loc.Source, opts); err != nil {
		add("source", "%v", err)
	} else if objs, err := src.List(ctx); err != nil {
		if errors.Is(err, objstore.ErrMissing) {
			add("source", "%s does not exist (a missing source is a mistake, never an empty one)", loc.Source)
		} else {
			add("source", "cannot be listed: %v", err)
		}
	} else {
		report = append(report, fmt.Sprintf("  source: %s, %d objects", src.String(), len(objs)))
	}
	if out, err := objstore.Open(ctx, loc.Output, opts); err != nil {
		add("output", "%v", err)
	} else {
		report = append(report, fmt.Sprintf("  output: %s", out.String()))
	}

	// The calendar against the periods earlier runs finalized (BILLING.md section 4).
	switch _, err := os.Stat(loc.Warehouse); {
	case errors.Is(err, fs.ErrNotExist):
		report = append(report, fmt.Sprintf("  warehouse: %s does not exist yet: no final period to check the calendar against", loc.Warehouse))
	case err != nil:
		add("warehouse", "%v", err)
	default:
		line, cerr, err := checkCalendar(ctx, cfg, file, loc.Warehouse)
		switch {
		case err != nil:
			add("warehouse", "cannot check the calendar against final periods: %v", err)
		case cerr != nil:
			probs = append(probs, cerr.Problems...)
		default:
			report = append(report, "  warehouse: "+line)
		}
	}
	if len(probs) > 0 {
		return nil, &schemas.ConfigError{File: file, Problems: probs}
	}
	return report, nil
}

// checkCalendar reads the final periods of the warehouse, opened read-only, and checks the
// configuration against them as a run does (history.State.Check).
func checkCalendar(ctx context.Context, cfg *schemas.Config, file, path string) (string, *schemas.ConfigError, error) {
	db, conn, err := openReadOnly(ctx, path)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	defer conn.Close()
	st, err := history.Read(ctx, conn)
	if err != nil {
		return "", nil, err
	}
	if cerr := st.Check(cfg, file); cerr != nil {
		return "", cerr, nil
	}
	n := 0
	for _, f := range st.Final {
		n += len(f)
	}
	return fmt.Sprintf("%s: the calendar agrees with its %d final periods of %d tenants", path, n, len(st.Final)), nil, nil
}
