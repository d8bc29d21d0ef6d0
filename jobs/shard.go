package jobs

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/partition"
	"github.com/creditmeter/creditmeter/pipeline/publish"
	"github.com/creditmeter/creditmeter/pipeline/shard"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
	"github.com/creditmeter/creditmeter/schemas"
)

// A shard of a sharded round (README, "Past one machine") is the same run as a single
// machine's, on the tenants hash(tenant_id) mod N = I and its own warehouse, with four
// differences, each a method of shardRun below that a single-machine run (a nil *shardRun)
// skips:
//
//   - it loads the partition step's per-shard Parquet files instead of raw objects (ingest);
//   - it numbers no invoice: the invoices finalize.sql issues become provisional
//     (provisional), numbered by the close step across every shard;
//   - the fleet-wide files it renders (the ledger, the register, the notification outbox,
//     the quarantine files, the analysts' database) are diverted from its outbox (divert)
//     and handed to the close step, with typed exports of its tables (finish);
//   - its warehouse is a generation in the state store, taken at start and put back at the
//     end with a compare-and-swap, so that any machine can run any shard and two runs of
//     the same shard cannot both commit (RunShard).

// shardRun is the state of one shard's run.
type shardRun struct {
	spec      shard.Spec
	state     objstore.Store
	round     *partition.Round
	exportDir string
	// what the done marker reports
	rated           string
	ratedChanged    bool
	snapshotChanged bool
	exports         map[string]string
	bytesRead       int64
}

// ShardDone is a shard's completion marker of a round (rounds/{id}/shards/{i}/done.json),
// written last: the close step waits for every shard's.
type ShardDone struct {
	Round      string `json:"round"`
	Shard      int    `json:"shard"`
	Shards     int    `json:"shards"`
	RunID      string `json:"run_id"`
	Generation string `json:"generation"` // the state prefix of the warehouse it committed
	// Rated is the state key of its latest slice of ledger/rated_events.parquet ("" when it
	// has none); RatedChanged says this round wrote it.
	Rated        string `json:"rated_events"`
	RatedChanged bool   `json:"rated_events_changed"`
	// Snapshot is its analysts' snapshot database in the state store; SnapshotChanged says
	// this round changed it.
	Snapshot        string            `json:"snapshot"`
	SnapshotChanged bool              `json:"snapshot_changed"`
	Exports         map[string]string `json:"exports"`
	BytesRead       int64             `json:"bytes_read"`
	Seconds         float64           `json:"seconds"`
	PeakRSSMiB      int64             `json:"peak_rss_mib"`
}

// generation is a shard's (or the close step's) current.json: its committed database.
type generation struct {
	Gen    int    `json:"gen"`
	Prefix string `json:"prefix"`
	Round  string `json:"round"`
}

// lockKey is the run lock of a shard under the output ("": the run lock).
func (s *shardRun) lockKey() string {
	if s == nil {
		return ""
	}
	return "locks/shard-" + strconv.Itoa(s.spec.Index) + "-of-" + strconv.Itoa(s.spec.Count) + ".lock"
}

// list lists the source; a shard reads no source (the partition step did).
func (s *shardRun) list(ctx context.Context, src objstore.Store) ([]objstore.Object, error) {
	if s == nil {
		return src.List(ctx)
	}
	return nil, nil
}

// fleetWide reports whether an output holds every tenant's rows (or names runs): a shard
// hands it to the close step instead of publishing it.
func fleetWide(key string) bool {
	if strings.HasPrefix(key, "invoices/drafts/") { // per tenant, unnumbered: the shard's own
		return false
	}
	switch key {
	case "ledger/period_usage.csv", "ledger/rated_events.parquet", "notifications/outbox.jsonl", "analytics/warehouse.duckdb":
		return true
	}
	for _, p := range []string{"invoices/", "analytics/parquet/invoices/", "quarantine/", "restricted/quarantine/"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// divert sets a shard's outbox to set its fleet-wide files aside for the close step.
func (s *shardRun) divert(ob *publish.Outbox, warehousePath string) error {
	if s == nil {
		return nil
	}
	s.exportDir = warehousePath + ".export"
	if err := os.RemoveAll(s.exportDir); err != nil {
		return fmt.Errorf("clean export %s: %w", s.exportDir, err)
	}
	if err := os.MkdirAll(s.exportDir, 0o700); err != nil {
		return fmt.Errorf("create export %s: %w", s.exportDir, err)
	}
	ob.Divert, ob.DivertDir = fleetWide, s.exportDir
	return nil
}

// provisional takes the invoices this run issued out of the numbered ones.
func (s *shardRun) provisional(ctx context.Context, x *run) error {
	if s == nil {
		return nil
	}
	return warehouse.Exec(ctx, x.conn, "shard_provisional.sql", x.m.RunSeq, s.round.ID)
}

// ingest loads the round's batches: every object of each, and the shard's lines of it.
func (s *shardRun) ingest(ctx context.Context, x *run) (int64, error) {
	_, next, err := load.Known(ctx, x.conn)
	if err != nil {
		return 0, err
	}
	lim := x.cfg.Limits
	ld, err := load.New(ctx, load.Config{Conn: x.conn, Log: x.log, RunSeq: x.m.RunSeq,
		Limits: parseLimits(lim), MaxObjectBytes: int64(lim.MaxObjectBytes), StageDir: x.stageDir})
	if err != nil {
		return 0, err
	}
	defer ld.Close()
	x.m.Objects.Listed = s.round.Objects.Listed
	x.m.Objects.Deferred = s.round.Objects.Deferred
	var lines int64
	idx := strconv.Itoa(s.spec.Index)
	for b := 1; b <= s.round.Batches; b++ {
		var batch partition.Batch
		if err := partition.GetJSON(ctx, s.state, partition.BatchKey(s.round.ID, b), &batch); err != nil {
			return lines, err
		}
		if len(batch.Objects) == 0 || batch.Objects[len(batch.Objects)-1].No < next {
			continue // loaded already
		}
		var files []string
		if batch.Lines[idx] > 0 {
			p := filepath.Join(x.stageDir, "batch-"+strconv.Itoa(b)+".parquet")
			n, err := partition.GetFile(ctx, s.state, partition.ShardFileKey(s.round.ID, b, s.spec.Index), p)
			if err != nil {
				return lines, err
			}
			s.bytesRead += n
			files = append(files, p)
		}
		res, err := ld.CommitPrepared(ctx, batch.Objects, files)
		for _, f := range files {
			_ = os.Remove(f)
		}
		if err != nil {
			return lines, err
		}
		for _, o := range batch.Objects {
			if o.Status == "skipped" {
				x.m.Objects.Skipped++
			}
		}
		lines += batch.Lines[idx]
		x.m.Objects.Ingested += res.Objects
		x.m.Objects.Unreadable += res.Unreadable
		x.m.Objects.Bytes += res.Bytes
		if x.progress != nil {
			x.progress.Stage("ingest", int64(b), int64(s.round.Batches))
		}
	}
	x.m.Objects.Lines = lines
	return lines, nil
}

// finish hands the run's results to the close step: typed exports of its tables, its
// diverted files and its manifest, under the round's shard prefix. It writes nothing under
// the output's runs/: the close step writes the round's manifest and index.
func (s *shardRun) finish(ctx context.Context, x *run) error {
	if err := x.summarize(ctx); err != nil {
		return err
	}
	s.exports = map[string]string{}
	if err := warehouse.ExecTemplate(ctx, x.conn, "shard_export.sql", map[string]string{"dir": filepath.ToSlash(s.exportDir)}, s.round.ID); err != nil {
		return err
	}
	put := func(name, path string) error {
		key := partition.ShardKey(s.round.ID, s.spec.Index, name)
		if err := partition.PutFile(ctx, s.state, key, path); err != nil {
			return err
		}
		s.exports[name] = key
		return nil
	}
	for _, name := range []string{"periods.parquet", "notifications.parquet", "invoices.parquet", "invoice_lines.parquet", "outputs.parquet"} {
		if err := put(name, filepath.Join(s.exportDir, name)); err != nil {
			return err
		}
	}
	// its slice of the per-event ledger, when the run rendered one; else the last one stands.
	// What changed in the round is kept in the warehouse with it: a shard that dies after
	// committing its warehouse and before its done marker runs again with nothing left to
	// render, and must still report what the round changed.
	rated := filepath.Join(s.exportDir, "ledger", "rated_events.parquet")
	if _, err := os.Stat(rated); err == nil {
		if err := put("rated_events.parquet", rated); err != nil {
			return err
		}
		if err := errors.Join(metaSet(ctx, x, "shard_rated_events", s.exports["rated_events.parquet"]),
			metaSet(ctx, x, "shard_rated_round", s.round.ID)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(s.exportDir, "analytics", "warehouse.duckdb")); err == nil {
		if err := metaSet(ctx, x, "shard_snapshot_round", s.round.ID); err != nil {
			return err
		}
	}
	var ratedRound, snapRound string
	for _, m := range []struct {
		name string
		v    *string
	}{{"shard_rated_events", &s.rated}, {"shard_rated_round", &ratedRound}, {"shard_snapshot_round", &snapRound}} {
		v, err := metaGet(ctx, x, m.name)
		if err != nil {
			return err
		}
		*m.v = v
	}
	s.ratedChanged, s.snapshotChanged = ratedRound == s.round.ID, snapRound == s.round.ID
	for _, q := range []struct{ dir, name string }{{"quarantine", "quarantine.jsonl"}, {"restricted/quarantine", "restricted_quarantine.jsonl"}} {
		path, err := concat(filepath.Join(s.exportDir, filepath.FromSlash(q.dir)), filepath.Join(s.exportDir, q.name))
		if err != nil {
			return err
		}
		if path != "" {
			if err := put(q.name, path); err != nil {
				return err
			}
		}
	}
	x.m.Status = "succeeded"
	data, err := json.MarshalIndent(x.m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode shard manifest: %w", err)
	}
	mp := filepath.Join(s.exportDir, "manifest.json")
	if err := os.WriteFile(mp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write shard manifest: %w", err)
	}
	if err := put("manifest.json", mp); err != nil {
		return err
	}
	return warehouse.Exec(ctx, x.conn, "run_status.sql", x.m.RunSeq, "succeeded")
}

// metaSet keeps a value in the shard's warehouse (meta), committed with it.
func metaSet(ctx context.Context, x *run, name, value string) error {
	return warehouse.Exec(ctx, x.conn, "shard_meta_set.sql", name, value)
}

// metaGet reads a value metaSet kept ("" when unset).
func metaGet(ctx context.Context, x *run, name string) (string, error) {
	rows, err := warehouse.Query(ctx, x.conn, "shard_meta_get.sql", name)
	if err != nil {
		return "", err
	}
	var v string
	if rows.Next() {
		err = rows.Scan(&v)
	}
	if err := errors.Join(err, rows.Err(), rows.Close()); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

// concat joins the files of a directory (the quarantine files a shard's run diverted) into
// one file at dst; "" when there were none.
func concat(dir, dst string) (string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ents) == 0) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			_ = out.Close()
			return "", err
		}
		_, err = io.Copy(out, in)
		_ = in.Close()
		if err != nil {
			_ = out.Close()
			return "", err
		}
	}
	return dst, out.Close()
}

// ShardOptions locate a shard's run.
type ShardOptions struct {
	Options
	Shard shard.Spec
	// State is the shared state store's location (--state).
	State string
}

// ShardStatus says what RunShard did.
type ShardStatus struct {
	Round    string
	Skipped  string // why nothing was done ("" when the shard ran)
	Manifest *Manifest
	Done     *ShardDone
}

// RunShard runs one shard of the current round: it takes the shard's warehouse generation
// from the state store (or the local copy, when it is that generation), takes back the
// invoice numbers of earlier rounds, runs the round's batches with the tenants it owns, puts
// the warehouse back as the next generation with a compare-and-swap and writes its done
// marker last. A shard whose round is closed, or that is done with it, does nothing.
func (r *Runner) RunShard(ctx context.Context, o ShardOptions) (st ShardStatus, err error) {
	began := r.clock()
	state, err := objstore.Open(ctx, o.State, r.stores)
	if err != nil {
		return st, err
	}
	round, _, err := partition.ReadRound(ctx, state)
	if err != nil {
		return st, err
	}
	if round == nil {
		return st, errors.New("run shard: no round in the state store: run creditmeter partition first")
	}
	st.Round = round.ID
	if round.Shards != o.Shard.Count {
		return st, &schemas.ConfigError{File: r.file, Problems: []schemas.Problem{{Path: "--shard",
			Reason: fmt.Sprintf("the round has %d shards, not %d", round.Shards, o.Shard.Count)}}}
	}
	if round.Phase == partition.PhaseClosed {
		st.Skipped = "round " + round.ID + " is closed: run creditmeter partition to start the next one"
		return st, nil
	}
	var done ShardDone
	if err := partition.GetJSON(ctx, state, partition.DoneKey(round.ID, o.Shard.Index), &done); err == nil {
		st.Skipped, st.Done = "shard "+o.Shard.String()+" is done with round "+round.ID, &done
		return st, nil
	} else if !errors.Is(err, objstore.ErrNotFound) {
		return st, err
	}
	log := r.log.With("round", round.ID, "shard", o.Shard.String())
	lease, err := objstore.Lock(ctx, state, lockOwner(), objstore.LockOptions{
		Key: "locks/shard-" + strconv.Itoa(o.Shard.Index) + ".lock", TTL: r.lockTTLOr(), Now: r.clock, Log: log})
	if err != nil {
		return st, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = rerr
		}
	}()

	if done, err := committedPending(ctx, state, round.ID, o.Shard); err != nil {
		return st, err
	} else if done != nil {
		st.Skipped, st.Done = "shard "+o.Shard.String()+" had committed round "+round.ID+": its done marker is written now", done
		return st, nil
	}

	// the shard's own configuration: its tenants, no local analytics copy (a partial one)
	cfg := *r.cfg
	cfg.Tenants = nil
	for _, t := range r.cfg.Tenants {
		if o.Shard.Owns(t.ID) {
			cfg.Tenants = append(cfg.Tenants, t)
		}
	}
	cfg.Analytics.LocalCopy = ""
	sr := *r
	sr.cfg = &cfg
	sr.log = log

	if o.Warehouse == "" {
		o.Warehouse = filepath.Join(filepath.Dir(r.cfg.Resolve(r.cfg.Warehouse)), "shard-"+strconv.Itoa(o.Shard.Index)+"-of-"+strconv.Itoa(o.Shard.Count), "warehouse.duckdb")
	}
	if o.Source == "" {
		o.Source = o.State
	}
	if o.Now.IsZero() || !o.Now.Equal(round.Now) {
		o.Now = round.Now // the round's instant, whatever the clock says
	}
	gens := &generations{state: state, prefix: shardPrefix(o.Shard),
		files: []string{"warehouse.duckdb", "analytics.duckdb"}, local: []string{o.Warehouse, o.Warehouse + ".analytics.duckdb"}, log: log}
	cur, version, err := gens.take(ctx)
	if err != nil {
		return st, err
	}
	if err := importNumbers(ctx, state, o.Warehouse); err != nil {
		return st, err
	}
	sh := &shardRun{spec: o.Shard, state: state, round: round}
	o.Options.shard = sh
	m, err := sr.Run(ctx, o.Options)
	st.Manifest = m
	if err != nil {
		return st, err
	}
	// The done marker is written twice: as pending before the generation is made current,
	// as done after. A shard that dies in between finds, when it runs again, its pending
	// marker naming the current generation: the round's work is committed, and only the
	// done marker is left to write (a rerun would find nothing left to render or report).
	d := ShardDone{Round: round.ID, Shard: o.Shard.Index, Shards: o.Shard.Count, RunID: m.RunID,
		Rated: sh.rated, RatedChanged: sh.ratedChanged, SnapshotChanged: sh.snapshotChanged, Exports: sh.exports,
		BytesRead: sh.bytesRead}
	next, err := gens.commit(ctx, cur, version, round.ID, func(next generation) error {
		d.Generation, d.Snapshot = next.Prefix, next.Prefix+"analytics.duckdb"
		d.Seconds, d.PeakRSSMiB = r.clock().Sub(began).Seconds(), PeakRSSMiB()
		return partition.PutJSON(ctx, state, partition.PendingKey(round.ID, o.Shard.Index), d)
	})
	if err != nil {
		return st, err
	}
	if err := partition.PutJSON(ctx, state, partition.DoneKey(round.ID, o.Shard.Index), d); err != nil {
		return st, err
	}
	st.Done = &d
	log.Info("shard done", "bytes_read", d.BytesRead, "duration_s", d.Seconds, "peak_rss_mib", d.PeakRSSMiB, "generation", next.Prefix)
	return st, nil
}

// shardPrefix is where a shard's generations live in the state store.
func shardPrefix(s shard.Spec) string {
	return "shards/" + strconv.Itoa(s.Index) + "-of-" + strconv.Itoa(s.Count) + "/"
}

// committedPending completes the done marker of a shard that committed its generation for
// the round and died before writing it: its pending marker names the current generation.
// It returns nil when there is nothing to complete.
func committedPending(ctx context.Context, state objstore.Store, round string, s shard.Spec) (*ShardDone, error) {
	var p ShardDone
	if err := partition.GetJSON(ctx, state, partition.PendingKey(round, s.Index), &p); errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	data, _, err := objstore.ReadVersioned(ctx, state, shardPrefix(s)+"current.json")
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cur generation
	if err := json.Unmarshal(data, &cur); err != nil {
		return nil, fmt.Errorf("read %scurrent.json: %w", shardPrefix(s), err)
	}
	if cur.Prefix != p.Generation {
		return nil, nil // that generation never became current: run the round again
	}
	if err := partition.PutJSON(ctx, state, partition.DoneKey(round, s.Index), p); err != nil {
		return nil, err
	}
	return &p, nil
}

// lockTTLOr is the run lock's lease.
func (r *Runner) lockTTLOr() time.Duration {
	if r.lockTTL != 0 {
		return r.lockTTL
	}
	return r.cfg.LockTTL.Duration
}

// generations keeps a database (a shard's warehouse and snapshot, the close step's fleet
// database) in the state store between runs: each committed state is a generation under
// prefix/gen/, and prefix/current.json names the current one. A run takes the current one
// (the local copy when it is that generation and was left clean, else a download) and
// commits the next with a compare-and-swap of current.json on the version it read, so that
// of two runs that took the same generation only one commits.
type generations struct {
	state  objstore.Store
	prefix string
	files  []string // names in a generation
	local  []string // their local paths
	log    interface {
		Info(msg string, args ...any)
	}
}

// marker is the local file that says which generation the local copy is (absent: none, or
// a run changed it since).
func (g *generations) marker() string { return g.local[0] + ".generation" }

// take makes the local files the current generation and marks them dirty.
func (g *generations) take(ctx context.Context) (generation, string, error) {
	var cur generation
	data, version, err := objstore.ReadVersioned(ctx, g.state, g.prefix+"current.json")
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		version = ""
	case err != nil:
		return cur, "", err
	default:
		if err := json.Unmarshal(data, &cur); err != nil {
			return cur, "", fmt.Errorf("read %scurrent.json: %w", g.prefix, err)
		}
	}
	have, _ := os.ReadFile(g.marker())
	if err := os.Remove(g.marker()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cur, "", err
	}
	if cur.Prefix != "" && string(have) == cur.Prefix {
		g.log.Info("local copy is the current generation", "generation", cur.Prefix)
		return cur, version, nil
	}
	for _, l := range g.local {
		for _, f := range []string{l, l + ".wal"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return cur, "", err
			}
		}
	}
	if cur.Prefix == "" {
		return cur, version, nil // the first generation: a new database
	}
	var bytes int64
	for i, name := range g.files {
		if err := os.MkdirAll(filepath.Dir(g.local[i]), 0o700); err != nil {
			return cur, "", err
		}
		n, err := partition.GetFile(ctx, g.state, cur.Prefix+name, g.local[i])
		if errors.Is(err, objstore.ErrNotFound) {
			_ = os.Remove(g.local[i])
			continue
		}
		if err != nil {
			return cur, "", err
		}
		bytes += n
	}
	g.log.Info("generation downloaded", "generation", cur.Prefix, "bytes", bytes)
	return cur, version, nil
}

// commit uploads the local files as the next generation and makes it current, unless
// another run committed since take. before, when set, runs once the files are uploaded and
// before the generation is made current.
func (g *generations) commit(ctx context.Context, cur generation, version, round string, before func(next generation) error) (generation, error) {
	var id [6]byte
	_, _ = rand.Read(id[:])
	next := generation{Gen: cur.Gen + 1, Round: round}
	next.Prefix = g.prefix + "gen/" + fmt.Sprintf("%08d", next.Gen) + "-" + hex.EncodeToString(id[:]) + "/"
	for i, name := range g.files {
		if _, err := os.Stat(g.local[i]); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := partition.PutFile(ctx, g.state, next.Prefix+name, g.local[i]); err != nil {
			return next, err
		}
	}
	if before != nil {
		if err := before(next); err != nil {
			return next, err
		}
	}
	data, err := json.Marshal(next)
	if err != nil {
		return next, err
	}
	if _, err := objstore.Swap(ctx, g.state, g.prefix+"current.json", data, version); err != nil {
		if errors.Is(err, objstore.ErrConflict) {
			return next, fmt.Errorf("commit %s: another run committed generation %d first: %w", g.prefix, next.Gen, err)
		}
		return next, err
	}
	g.log.Info("generation committed", "generation", next.Prefix)
	if err := os.WriteFile(g.marker(), []byte(next.Prefix), 0o600); err != nil {
		return next, err
	}
	return next, nil
}

// Assignment is one invoice number the close step assigned (assignments.json).
type Assignment struct {
	Round         string `json:"round"`
	TenantID      string `json:"tenant_id"`
	PeriodStart   string `json:"period_start"`
	InvoiceNumber string `json:"invoice_number"`
	Year          int    `json:"year"`
	Seq           int    `json:"seq"`
}

// importNumbers gives a shard's provisional invoices of earlier rounds the numbers their
// close step assigned.
func importNumbers(ctx context.Context, state objstore.Store, path string) (err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := warehouse.Open(ctx, path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("import invoice numbers: %w", err)
	}
	defer conn.Close()
	if err := warehouse.Exec(ctx, conn, "shard_assign.sql"); err != nil {
		return err
	}
	rows, err := warehouse.Query(ctx, conn, "shard_rounds.sql")
	if err != nil {
		return err
	}
	var rounds []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return fmt.Errorf("import invoice numbers: %w", err)
		}
		rounds = append(rounds, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("import invoice numbers: %w", err)
	}
	if len(rounds) == 0 {
		return nil
	}
	var all []Assignment
	for _, id := range rounds {
		var as []Assignment
		if err := partition.GetJSON(ctx, state, partition.AssignmentsKey(id), &as); err != nil {
			return fmt.Errorf("import invoice numbers of round %s (is it closed?): %w", id, err)
		}
		all = append(all, as...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].InvoiceNumber < all[j].InvoiceNumber })
	return warehouse.InTx(ctx, conn, func() error {
		err := warehouse.Append(ctx, conn, "shard_assign", func(add func(...driver.Value) error) error {
			for _, a := range all {
				d, err := time.Parse(time.DateOnly, a.PeriodStart)
				if err != nil {
					return err
				}
				if err := add(a.Round, a.TenantID, d, a.InvoiceNumber, int32(a.Year), int32(a.Seq)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return warehouse.Exec(ctx, conn, "shard_import.sql")
	})
}
