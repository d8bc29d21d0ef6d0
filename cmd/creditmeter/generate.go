package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/creditmeter/creditmeter/fixtures/generator"
)

// cmdGenerate writes a synthetic data set: a configuration and raw event objects
// (FORMATS.md, "Command line").
func cmdGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	events := fs.Int("events", 100000, "number of event lines to write (about 1% of them bad lines or duplicates)")
	tenants := fs.Int("tenants", 20, "number of tenants (contracts) in the configuration")
	out := fs.String("out", "", "directory to write: creditmeter.yaml and raw/ (required)")
	seed := fs.Int64("seed", 1, "random seed: the same flags give byte-identical files")
	perObject := fs.Int("events-per-object", 0, "event lines per raw object (0: 100000, or events/10 below 1M events)")
	start := fs.String("start", generator.DefaultStart.Format(time.DateOnly), "first day of event time, YYYY-MM-DD (UTC)")
	months := fs.Int("months", generator.DefaultMonths, "months of event time")
	gzipJSONL := fs.Bool("gzip-jsonl", false, "write every object as gzipped JSON Lines (large data sets on little disk)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		return exitCode(stderr, usageError{fmt.Errorf("generate: unexpected argument %q", fs.Arg(0))})
	}
	if *out == "" {
		fmt.Fprintln(stderr, "creditmeter generate: --out is required")
		return exitUsage
	}
	if *events < 0 || *tenants < 1 || *perObject < 0 || *months < 1 {
		return exitCode(stderr, usageError{fmt.Errorf("generate: want --events >= 0, --tenants >= 1, --events-per-object >= 0 and --months >= 1")})
	}
	day, err := time.Parse(time.DateOnly, *start)
	if err != nil {
		return exitCode(stderr, usageError{fmt.Errorf("parse --start %q: want YYYY-MM-DD", *start)})
	}
	log, err := newLogger(stderr, *logLevel, *logJSON || !isTerminal(stderr))
	if err != nil {
		return exitCode(stderr, err)
	}
	began := time.Now()
	s, err := generator.Generate(ctx, generator.Config{
		Events:          *events,
		Tenants:         *tenants,
		Out:             *out,
		Seed:            *seed,
		EventsPerObject: *perObject,
		Start:           day,
		Months:          *months,
		GzipJSONL:       *gzipJSONL,
		Log:             log,
	})
	if errors.Is(err, generator.ErrInvalidConfig) {
		err = usageError{err}
	}
	if err != nil {
		return exitCode(stderr, err)
	}
	d := time.Since(began)
	fmt.Fprintf(stdout, "generated %d event lines (%d bad, %d duplicates, %d conflicting) for %d tenants in %d objects, %.1f MB in %s (%.0f lines/s); config %s, raw data %s\n",
		s.Lines, s.BadLines, s.Duplicates, s.ConflictingDuplicates, s.Tenants, s.Objects,
		float64(s.TextBytes)/1e6, d.Round(time.Millisecond), float64(s.Lines)/max(d.Seconds(), 1e-9),
		s.ConfigPath, s.RawDir)
	return exitOK
}
