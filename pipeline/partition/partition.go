// Package partition is the first step of a sharded round (README, "Past one machine"): it
// lists the source, reads every object version not read before exactly once, parses its
// lines (pipeline/parse, through pipeline/load's workers) and writes, per batch, one Parquet
// file per shard holding that shard's lines (pipeline/shard decides by tenant) and one
// object list that every shard receives. The shards then load those files instead of the
// raw objects, so that no shard reads another shard's lines and no raw object is read twice.
//
// Its state is small and lives in the shared state store: the ledger of the keys read so far
// and the object numbers handed out, one per round, and round.json, which is written last
// and is what the shards and the close step wait for. A round that is not closed yet is
// resumed, never replaced: partition then does nothing.
package partition

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/shard"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// Config configures a Partitioner.
type Config struct {
	Config *schemas.Config
	Log    *slog.Logger
	// Clock gives the round's instant when Options.Now is zero, and durations.
	Clock func() time.Time
	// Stores opens the source and the state store.
	Stores objstore.Options
	// StageDir is a local scratch directory (created, and emptied).
	StageDir string
	// BatchObjects caps the objects per batch (0: 512, as a run's).
	BatchObjects int
	// LockTTL is the partition lock's lease (0: the configuration's lock_ttl).
	LockTTL time.Duration
	// PeakRSS reports the process's peak resident set size in MiB for the round (nil: 0).
	PeakRSS func() int64
}

// Partitioner runs the partition step.
type Partitioner struct {
	cfg Config
}

// New checks a partition step's configuration.
func New(c Config) (*Partitioner, error) {
	if c.Config == nil {
		return nil, errors.New("new partitioner: no configuration")
	}
	if c.StageDir == "" {
		return nil, errors.New("new partitioner: no staging directory")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.BatchObjects <= 0 {
		c.BatchObjects = 512
	}
	if c.LockTTL == 0 {
		c.LockTTL = c.Config.LockTTL.Duration
	}
	return &Partitioner{cfg: c}, nil
}

// Options are one partition step's choices.
type Options struct {
	Source string         // the raw objects (default: the configuration's source)
	State  objstore.Store // the shared state store
	Shards int            // N
	Now    time.Time      // the round's instant (zero: the clock)
}

// ErrShardCount is returned when a fleet is asked to change its number of shards: the
// shards' warehouses hold their tenants, and moving tenants between them is not supported.
var ErrShardCount = errors.New("the fleet has another number of shards")

// Run partitions what is new into a new round, or returns the round not closed yet
// (resumed true: nothing was read).
func (p *Partitioner) Run(ctx context.Context, o Options) (r *Round, resumed bool, err error) {
	began := p.cfg.Clock()
	if o.Shards < 1 {
		return nil, false, fmt.Errorf("partition: %d shards", o.Shards)
	}
	if o.Source == "" {
		o.Source = p.cfg.Config.Resolve(p.cfg.Config.Source)
	}
	lease, err := objstore.Lock(ctx, o.State, "partition", objstore.LockOptions{Key: "locks/partition.lock", TTL: p.cfg.LockTTL, Log: p.cfg.Log})
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = rerr
		}
	}()
	prev, version, err := ReadRound(ctx, o.State)
	if err != nil {
		return nil, false, err
	}
	if prev != nil && prev.Shards != o.Shards {
		return nil, false, fmt.Errorf("partition: %w: %d, not %d (start a new state store to reshard)", ErrShardCount, prev.Shards, o.Shards)
	}
	if prev != nil && prev.Phase != PhaseClosed {
		p.cfg.Log.Info("round not closed yet: resumed, nothing partitioned", "round", prev.ID, "phase", prev.Phase)
		return prev, true, nil
	}
	now := o.Now
	if now.IsZero() {
		now = p.cfg.Clock()
	}
	now = now.UTC().Truncate(time.Microsecond)
	r = &Round{Seq: 1, Now: now, Shards: o.Shards, Phase: PhasePartitioned, Source: o.Source,
		ShardLines: make([]int64, o.Shards), ShardBytes: make([]int64, o.Shards)}
	led := Ledger{Next: 1, Objects: map[string]string{}}
	if prev != nil {
		r.Seq = prev.Seq + 1
		if err := GetJSON(ctx, o.State, LedgerKey(prev.ID), &led); err != nil {
			return nil, false, err
		}
		if !now.After(prev.Now) {
			return nil, false, fmt.Errorf("partition: the round's instant %s is not after the last round's (%s)", now.Format(time.RFC3339), prev.Now.Format(time.RFC3339))
		}
	}
	r.ID = RoundID(now, r.Seq)
	log := p.cfg.Log.With("round", r.ID)

	src, err := objstore.Open(ctx, o.Source, p.cfg.Stores)
	if err != nil {
		return nil, false, err
	}
	listing, err := src.List(ctx)
	if err != nil {
		return nil, false, err
	}
	lim := p.cfg.Config.Limits
	todo, deferred, collisions := pull.Plan(listing, led.Objects, lim.MaxObjectsPerRun)
	r.Objects.Listed, r.Objects.Deferred = len(listing), deferred
	if collisions > 0 {
		log.Warn("objects whose names are not valid UTF-8 and read like another object's were skipped", "objects", collisions)
	}
	if err := p.batches(ctx, src, o.State, r, &led, todo, log); err != nil {
		return nil, false, err
	}
	if err := PutJSON(ctx, o.State, LedgerKey(r.ID), led); err != nil {
		return nil, false, err
	}
	r.Seconds = p.cfg.Clock().Sub(began).Seconds()
	if p.cfg.PeakRSS != nil {
		r.PeakRSSMiB = p.cfg.PeakRSS()
	}
	// round.json last: the round exists for the shards once it is there
	if err := WriteRound(ctx, o.State, r, version); err != nil {
		return nil, false, err
	}
	log.Info("partitioned", "objects", r.Objects.Ingested, "lines", r.Objects.Lines, "batches", r.Batches,
		"shard_lines", r.ShardLines, "shard_bytes", r.ShardBytes, "duration_s", r.Seconds, "peak_rss_mib", r.PeakRSSMiB)
	return r, false, nil
}

// batches reads the new objects batch by batch, as a run loads them, and writes each
// batch's object list and per-shard lines.
func (p *Partitioner) batches(ctx context.Context, src, state objstore.Store, r *Round, led *Ledger, todo []pull.Todo, log *slog.Logger) error {
	stage := filepath.Join(p.cfg.StageDir, "partition")
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("clean staging %s: %w", stage, err)
	}
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return fmt.Errorf("create staging %s: %w", stage, err)
	}
	defer os.RemoveAll(stage)
	db, err := warehouse.Open(ctx, "")
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("partition: connect scratch database: %w", err)
	}
	defer conn.Close()
	if err := warehouse.Exec(ctx, conn, "partition_prepare.sql"); err != nil {
		return err
	}
	lim := p.cfg.Config.Limits
	ld, err := load.New(ctx, load.Config{Conn: conn, Log: log, Limits: parse.Limits{MaxLineBytes: int(lim.MaxLineBytes), MaxAttributes: lim.MaxAttributes},
		MaxObjectBytes: int64(lim.MaxObjectBytes), StageDir: stage})
	if err != nil {
		return err
	}
	defer ld.Close()
	const maxBatchBytes = 256 << 20 // as a run's ingest
	for len(todo) > 0 {
		n, size := 0, int64(0)
		for n < len(todo) && n < p.cfg.BatchObjects && (n == 0 || size+todo[n].Size <= maxBatchBytes) {
			size += todo[n].Size
			n++
		}
		objs, err := ld.Read(ctx, src, todo[:n], led.Next, nil)
		if err != nil {
			return err
		}
		err = p.split(ctx, conn, state, stage, r, r.Batches+1, objs)
		for _, o := range objs {
			if o.File != "" {
				_ = os.Remove(o.File)
			}
		}
		if err != nil {
			return err
		}
		r.Batches++
		for _, o := range objs {
			led.Objects[o.Key] = o.ETag
			switch o.Status {
			case "skipped":
				r.Objects.Skipped++
			case "unreadable":
				r.Objects.Unreadable++
			}
			r.Objects.Lines += o.Lines
			r.Objects.Bytes += o.Bytes
		}
		r.Objects.Ingested += n
		led.Next += int32(n)
		todo = todo[n:]
	}
	return nil
}

// split writes a batch's per-shard line files and its object list.
func (p *Partitioner) split(ctx context.Context, conn *sql.Conn, state objstore.Store, stage string, r *Round, b int, objs []load.Prepared) error {
	batch := Batch{Objects: objs, Lines: map[string]int64{}}
	var files []string
	for _, o := range objs {
		if o.File != "" {
			files = append(files, o.File)
		}
	}
	if len(files) > 0 {
		if err := warehouse.ParquetView(ctx, conn, "part_lines", files...); err != nil {
			return err
		}
		rows, err := warehouse.Query(ctx, conn, "partition_tenants.sql")
		if err != nil {
			return err
		}
		var tenants []string
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				_ = rows.Close()
				return fmt.Errorf("partition: read tenants: %w", err)
			}
			tenants = append(tenants, t)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("partition: read tenants: %w", err)
		}
		if err := warehouse.Exec(ctx, conn, "partition_prepare.sql"); err != nil { // empties part_shards
			return err
		}
		err = warehouse.Append(ctx, conn, "part_shards", func(add func(...driver.Value) error) error {
			for _, t := range tenants {
				if err := add(t, int32(shard.Of(t, r.Shards))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		crows, err := warehouse.Query(ctx, conn, "partition_count.sql")
		if err != nil {
			return err
		}
		for crows.Next() {
			var i int
			var n int64
			if err := crows.Scan(&i, &n); err != nil {
				_ = crows.Close()
				return fmt.Errorf("partition: count lines: %w", err)
			}
			batch.Lines[strconv.Itoa(i)] = n
		}
		if err := errors.Join(crows.Err(), crows.Close()); err != nil {
			return fmt.Errorf("partition: count lines: %w", err)
		}
		for i := 0; i < r.Shards; i++ {
			n := batch.Lines[strconv.Itoa(i)]
			if n == 0 {
				continue
			}
			path := filepath.Join(stage, "shard-"+strconv.Itoa(i)+".parquet")
			if err := warehouse.ExecTemplate(ctx, conn, "partition_write.sql", map[string]string{"shard": strconv.Itoa(i), "file": filepath.ToSlash(path)}); err != nil {
				return err
			}
			fi, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("partition: %w", err)
			}
			if err := PutFile(ctx, state, ShardFileKey(r.ID, b, i), path); err != nil {
				return err
			}
			_ = os.Remove(path)
			r.ShardLines[i] += n
			r.ShardBytes[i] += fi.Size()
		}
	}
	return PutJSON(ctx, state, BatchKey(r.ID, b), batch)
}
