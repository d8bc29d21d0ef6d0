package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/creditmeter/creditmeter/jobs"
	"github.com/creditmeter/creditmeter/schemas"
)

// DefaultListen is the address of /healthz, /readyz and /metrics without `listen:`.
const DefaultListen = "127.0.0.1:9464"

// cmdServe runs the pipeline on the configuration's cron schedules (or once, --once),
// serving /healthz, /readyz and /metrics meanwhile.
func cmdServe(ctx context.Context, args []string, _, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	once := fs.Bool("once", false, "run once and exit with the run's status (Kubernetes CronJob); no HTTP listener")
	listen := fs.String("listen", "", "address of /healthz, /readyz and /metrics (overrides the configuration's listen:)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines (the default when standard error is not a terminal)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "creditmeter serve: --config is required and takes no arguments")
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel, *logJSON || !isTerminal(stderr))
	if err != nil {
		return exitCode(stderr, err)
	}
	cfg, err := schemas.LoadConfig(*cfgPath)
	if err != nil {
		return exitCode(stderr, err)
	}
	runner, err := jobs.New(jobs.Config{Config: cfg, Log: log, Clock: time.Now, Stores: storeOptions(cfg, log)})
	if err != nil {
		return exitCode(stderr, err)
	}
	metrics := jobs.NewMetrics(time.Now)
	ids := make([]string, 0, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		ids = append(ids, t.ID)
	}
	metrics.SetTenants(ids)
	sc := jobs.SchedulerConfig{
		Job:             runner,
		Location:        time.Local,
		Log:             log,
		RunTimeout:      cfg.Serve.RunTimeout.Duration,
		ShutdownTimeout: cfg.Serve.ShutdownTimeout.Duration,
		OnStart:         func(time.Time) { metrics.Started() },
		OnDone:          metrics.Observe,
		OnSkip:          metrics.Skipped,
	}
	if *once {
		s, err := jobs.NewScheduler(sc)
		if err != nil {
			return exitCode(stderr, usageError{err})
		}
		return exitCode(stderr, s.Once(ctx))
	}
	if len(cfg.Schedule) == 0 {
		return exitCode(stderr, usageError{errors.New("serve: the configuration has no schedule: (use --once to run a single time)")})
	}
	sc.Schedules = cfg.Schedule
	s, err := jobs.NewScheduler(sc)
	if err != nil {
		return exitCode(stderr, usageError{err})
	}
	maxAge := readyMaxAge(cfg, s)
	addr := *listen
	if addr == "" {
		addr = cfg.Listen
	}
	if addr == "" {
		addr = DefaultListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return exitCode(stderr, fmt.Errorf("serve: listen on %s: %w", addr, err))
	}
	srv := &http.Server{Handler: metrics.Handler(maxAge), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "ready_max_age", maxAge)

	err = s.Serve(ctx)

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("http shutdown", "err", serr)
	}
	if herr := <-served; herr != nil && !errors.Is(herr, http.ErrServerClosed) {
		log.Error("http server", "err", herr)
	}
	return exitCode(stderr, err)
}

// readyMaxAge is the configured serve.ready_max_age, or twice the longest gap between the
// scheduled runs of the coming weeks plus the run timeout.
func readyMaxAge(cfg *schemas.Config, s *jobs.Scheduler) time.Duration {
	if d := cfg.Serve.ReadyMaxAge.Duration; d > 0 {
		return d
	}
	rt := cfg.Serve.RunTimeout.Duration
	if rt <= 0 {
		rt = jobs.DefaultRunTimeout
	}
	gap := s.LongestGap(time.Now(), 200)
	if gap <= 0 {
		gap = 24 * time.Hour
	}
	return 2*gap + rt
}
