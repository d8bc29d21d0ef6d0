package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/partition"
	"github.com/creditmeter/creditmeter/pipeline/shard"
	"github.com/creditmeter/creditmeter/schemas"
)

// The three phases of a sharded round (README, "Past one machine"): partition, then
// run --shard I/N for every I, then close.

// loadShardConfig reads the configuration and makes a logger for a phase (JSON logs: these
// phases run as batch jobs).
func loadShardConfig(cfgPath, logLevel string, stderr io.Writer) (*schemas.Config, *jobs.Runner, error) {
	log, err := newLogger(stderr, logLevel, true)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := schemas.LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, usageError{err}
	}
	r, err := jobs.New(jobs.Config{Config: cfg, File: cfgPath, Log: log, Clock: time.Now, Stores: storeOptions(cfg, log)})
	if err != nil {
		return nil, nil, err
	}
	return cfg, r, nil
}

func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, usageError{fmt.Errorf("parse --now %q: want RFC 3339", s)}
	}
	return t, nil
}

func cmdPartition(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("partition", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	state := fs.String("state", "", "the sharded fleet's state store: directory or s3://bucket/prefix")
	shards := fs.Int("shards", 0, "the number of shards N (fixed for the life of the state store)")
	source := fs.String("source", "", "raw event source (overrides the configuration)")
	nowFlag := fs.String("now", "", "the round's clock, RFC 3339")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" || *state == "" || *shards < 1 {
		fmt.Fprintln(stderr, "creditmeter partition: --config, --state and --shards N (N >= 1) are required")
		return exitUsage
	}
	now, err := parseNow(*nowFlag)
	if err != nil {
		return exitCode(stderr, err)
	}
	cfg, _, err := loadShardConfig(*cfgPath, *logLevel, stderr)
	if err != nil {
		return exitCode(stderr, err)
	}
	log, _ := newLogger(stderr, *logLevel, true)
	stores := storeOptions(cfg, log)
	st, err := objstore.Open(ctx, *state, stores)
	if err != nil {
		return exitCode(stderr, err)
	}
	// scratch space beside the warehouse, the partition step's own (two fleets may share a
	// configuration)
	parent := filepath.Dir(cfg.Resolve(cfg.Warehouse))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return exitCode(stderr, fmt.Errorf("create staging: %w", err))
	}
	stage, err := os.MkdirTemp(parent, "partition-")
	if err != nil {
		return exitCode(stderr, fmt.Errorf("create staging: %w", err))
	}
	defer os.RemoveAll(stage)
	p, err := partition.New(partition.Config{Config: cfg, Log: log, Clock: time.Now, Stores: stores, StageDir: stage, PeakRSS: jobs.PeakRSSMiB})
	if err != nil {
		return exitCode(stderr, err)
	}
	r, resumed, err := p.Run(ctx, partition.Options{Source: *source, State: st, Shards: *shards, Now: now})
	if err != nil {
		return exitCode(stderr, err)
	}
	if resumed {
		fmt.Fprintf(stdout, "round %s is not closed yet (phase %s): nothing partitioned; run the shards and close\n", r.ID, r.Phase)
		return exitOK
	}
	fmt.Fprintf(stdout, "round %s: %d objects, %d lines partitioned into %d shards; lines per shard %v, bytes per shard %v\n",
		r.ID, r.Objects.Ingested, r.Objects.Lines, r.Shards, r.ShardLines, r.ShardBytes)
	return exitOK
}

// shardArgs are run's flags for one shard.
type shardArgs struct {
	cfgPath, shard, state, source, output, warehouse, now, logLevel string
}

func cmdRunShard(ctx context.Context, a shardArgs, stdout, stderr io.Writer) int {
	spec, err := shard.ParseSpec(a.shard, os.Getenv)
	if err != nil {
		return exitCode(stderr, usageError{err})
	}
	if a.state == "" {
		return exitCode(stderr, usageError{fmt.Errorf("--shard %s needs --state", a.shard)})
	}
	now, err := parseNow(a.now)
	if err != nil {
		return exitCode(stderr, err)
	}
	_, r, err := loadShardConfig(a.cfgPath, a.logLevel, stderr)
	if err != nil {
		return exitCode(stderr, err)
	}
	st, err := r.RunShard(ctx, jobs.ShardOptions{Options: jobs.Options{Source: a.source, Output: a.output, Warehouse: a.warehouse, Now: now},
		Shard: spec, State: a.state})
	if err != nil {
		return exitCode(stderr, err)
	}
	if st.Skipped != "" {
		fmt.Fprintf(stdout, "shard %s: %s\n", spec, st.Skipped)
		return exitOK
	}
	m := st.Manifest
	fmt.Fprintf(stdout, "shard %s of round %s: %d lines read, %d accepted, %d quarantined, %d duplicates; %d bytes read\n",
		spec, st.Round, m.Counts.LinesRead, m.Counts.Accepted, m.Counts.Quarantined, m.Counts.Duplicates, st.Done.BytesRead)
	return exitOK
}

func cmdClose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("close", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	state := fs.String("state", "", "the sharded fleet's state store: directory or s3://bucket/prefix")
	output := fs.String("output", "", "output location (overrides the configuration)")
	wh := fs.String("warehouse", "", "local copy of the close step's database (default: close/fleet.duckdb beside the warehouse)")
	wait := fs.Duration("wait", 0, "how long to wait for shards that have not completed (0: fail at once)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" || *state == "" {
		fmt.Fprintln(stderr, "creditmeter close: --config and --state are required")
		return exitUsage
	}
	_, r, err := loadShardConfig(*cfgPath, *logLevel, stderr)
	if err != nil {
		return exitCode(stderr, err)
	}
	cs, err := r.Close(ctx, jobs.CloseOptions{Output: *output, State: *state, Warehouse: *wh, Wait: *wait})
	if err != nil {
		return exitCode(stderr, err)
	}
	if cs.Skipped != "" {
		fmt.Fprintf(stdout, "close: %s\n", cs.Skipped)
		return exitOK
	}
	m := cs.Manifest
	fmt.Fprintf(stdout, "round %s closed: %d lines read, %d accepted, %d quarantined, %d duplicates; outputs in %s\n",
		m.RunID, m.Counts.LinesRead, m.Counts.Accepted, m.Counts.Quarantined, m.Counts.Duplicates, m.Output)
	return exitOK
}
