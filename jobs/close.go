package jobs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/aggregate"
	"github.com/creditmeter/creditmeter/pipeline/documents"
	"github.com/creditmeter/creditmeter/pipeline/history"
	"github.com/creditmeter/creditmeter/pipeline/notify"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/partition"
	"github.com/creditmeter/creditmeter/pipeline/publish"
	"github.com/creditmeter/creditmeter/pipeline/rate"
	"github.com/creditmeter/creditmeter/pipeline/snapshot"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// CloseOptions locate the close step of a sharded round.
type CloseOptions struct {
	Output string // default: the configuration's output
	State  string // the shared state store
	// Warehouse is the local copy of the close step's own database (default: close/fleet.duckdb
	// beside the configuration's warehouse); its home is the state store.
	Warehouse string
	// Wait is how long to wait for shards that have not completed (0: not at all);
	// Poll how often to look meanwhile.
	Wait, Poll time.Duration
}

// CloseStatus says what Close did.
type CloseStatus struct {
	Round    string
	Skipped  string // why nothing was done
	Manifest *Manifest
}

// ErrShardsPending is returned when a shard of the round has not completed: nothing is
// numbered nor published, and a later close (after the shard is run again) completes it.
var ErrShardsPending = errors.New("shards of the round have not completed")

// Close completes the current round of a sharded fleet (README, "Past one machine"): once
// every shard's done marker is there, it numbers the invoices the shards issued gap-free in
// the order of BILLING.md section 7 across every shard, renders their documents and the
// fleet-wide files (the ledger, the register, the notification outbox, the quarantine
// files, the analysts' snapshot) from the shards' exports, publishes them, writes the output
// index and the round's manifest last, hands the numbers to the shards and closes the
// round. Its own database (invoices, documents, the output index) is a generation in the
// state store like a shard's. Running it again on a round it completed does nothing; after
// a crash it completes the round with the same numbers and bytes (the numbering depends
// only on its database before the round and on the shards' exports).
func (r *Runner) Close(ctx context.Context, o CloseOptions) (cs CloseStatus, err error) {
	began := r.clock()
	if o.Output == "" {
		o.Output = r.cfg.Resolve(r.cfg.Output)
	}
	if o.Warehouse == "" {
		o.Warehouse = filepath.Join(filepath.Dir(r.cfg.Resolve(r.cfg.Warehouse)), "close", "fleet.duckdb")
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	state, err := objstore.Open(ctx, o.State, r.stores)
	if err != nil {
		return cs, err
	}
	round, roundVersion, err := partition.ReadRound(ctx, state)
	if err != nil {
		return cs, err
	}
	if round == nil {
		return cs, errors.New("close: no round in the state store: run creditmeter partition first")
	}
	cs.Round = round.ID
	if round.Phase == partition.PhaseClosed {
		cs.Skipped = "round " + round.ID + " is closed already"
		return cs, nil
	}
	log := r.log.With("round", round.ID, "run_id", round.ID)
	dones, err := waitShards(ctx, state, round, o.Wait, o.Poll, log)
	if err != nil {
		return cs, err
	}
	lease, err := objstore.Lock(ctx, state, lockOwner(), objstore.LockOptions{Key: "locks/close.lock", TTL: r.lockTTLOr(), Now: r.clock, Log: log})
	if err != nil {
		return cs, err
	}
	defer func() {
		if rerr := lease.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = rerr
		}
	}()
	out, err := objstore.Open(ctx, o.Output, r.stores)
	if err != nil {
		return cs, err
	}
	gens := &generations{state: state, prefix: "close/", files: []string{"fleet.duckdb"}, local: []string{o.Warehouse}, log: log}
	cur, version, err := gens.take(ctx)
	if err != nil {
		return cs, err
	}
	c := &closer{Runner: r, o: o, round: round, dones: dones, state: state, out: out, log: log, began: began}
	if err := c.run(ctx); err != nil {
		return cs, err
	}
	cs.Manifest = c.m
	if _, err := gens.commit(ctx, cur, version, round.ID, nil); err != nil {
		return cs, err
	}
	closed := *round
	closed.Phase = partition.PhaseClosed
	if err := partition.WriteRound(ctx, state, &closed, roundVersion); err != nil {
		return cs, err
	}
	log.Info("round closed", "invoices", len(c.assigned), "outputs_written", len(c.m.Outputs), "duration_s", r.clock().Sub(began).Seconds())
	return cs, nil
}

// waitShards reads every shard's done marker of the round, waiting up to wait for the
// missing ones.
func waitShards(ctx context.Context, state objstore.Store, round *partition.Round, wait, poll time.Duration, log interface{ Info(string, ...any) }) ([]ShardDone, error) {
	deadline := time.Now().Add(wait)
	dones := make([]ShardDone, round.Shards)
	have := make([]bool, round.Shards)
	for {
		var missing []string
		for i := range dones {
			if have[i] {
				continue
			}
			err := partition.GetJSON(ctx, state, partition.DoneKey(round.ID, i), &dones[i])
			switch {
			case err == nil:
				have[i] = true
			case errors.Is(err, objstore.ErrNotFound):
				missing = append(missing, strconv.Itoa(i))
			default:
				return nil, err
			}
		}
		if len(missing) == 0 {
			return dones, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("close round %s: %w: shard(s) %s of %d (run them again; nothing was numbered or published)",
				round.ID, ErrShardsPending, strings.Join(missing, ", "), round.Shards)
		}
		log.Info("waiting for shards", "missing", missing)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// closer is the state of one close step.
type closer struct {
	*Runner
	o        CloseOptions
	round    *partition.Round
	dones    []ShardDone
	state    objstore.Store
	out      objstore.Store
	log      interface{ Info(string, ...any) }
	began    time.Time
	m        *Manifest
	conn     *sql.Conn
	stage    string
	assigned []Assignment
	shardMs  []Manifest
}

func (c *closer) run(ctx context.Context) (err error) {
	c.m = &Manifest{RunID: c.round.ID, RunSeq: c.round.Seq, Now: c.round.Now.Format(time.RFC3339Nano), Status: "failed",
		Source: c.round.Source, Output: c.o.Output}
	db, err := warehouse.Open(ctx, c.o.Warehouse)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close fleet database: %w", cerr)
		}
	}()
	if c.conn, err = db.Conn(ctx); err != nil {
		return fmt.Errorf("connect fleet database: %w", err)
	}
	defer c.conn.Close()
	c.stage = c.o.Warehouse + ".stage"
	if err := os.RemoveAll(c.stage); err != nil {
		return err
	}
	if err := os.MkdirAll(c.stage, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(c.stage)
	if err := warehouse.Exec(ctx, c.conn, "notify_schema.sql"); err != nil {
		return err
	}
	// The database is the last committed generation (take): a close that failed before
	// committing left nothing of the round in it, one that committed but did not close the
	// round left it succeeded.
	status, err := c.roundStatus(ctx)
	if err != nil {
		return err
	}
	switch status {
	case "":
	case "succeeded":
		// only the hand-over and closing the round are left
		return c.handOver(ctx)
	default:
		return fmt.Errorf("close round %s: the fleet database says %q of it: a generation was committed unfinished", c.round.ID, status)
	}
	if err := warehouse.Exec(ctx, c.conn, "run_record.sql", c.round.Seq, c.round.ID, c.round.Now, c.clock().UTC()); err != nil {
		return err
	}
	hist, err := history.Read(ctx, c.conn)
	if err != nil {
		return err
	}
	cal, err := rate.NewCalendar(c.cfg, hist)
	if err != nil {
		return err
	}
	if err := rate.Prepare(ctx, c.conn, c.cfg, cal, c.round.Now); err != nil {
		return err
	}
	if err := c.fetch(ctx); err != nil {
		return err
	}
	root := c.o.Warehouse + ".outbox"
	outbox, err := publish.NewOutbox(ctx, c.conn, root, c.round.Seq)
	if err != nil {
		return err
	}
	pub := &publish.Publisher{Store: c.out, Conn: c.conn, Root: root}
	if done, err := pub.Upload(ctx); err != nil { // a close that died after committing
		return err
	} else {
		c.m.Outputs = append(c.m.Outputs, done...)
	}
	err = c.timed("merge", func() (int64, error) {
		var n int64
		err := warehouse.InTx(ctx, c.conn, func() error {
			files, err := c.render(ctx, outbox)
			n = int64(len(files))
			if err != nil {
				return err
			}
			return warehouse.Exec(ctx, c.conn, "run_status.sql", c.round.Seq, "committed")
		})
		return n, err
	})
	if err != nil {
		return err
	}
	if err := c.timed("publish", func() (int64, error) {
		done, err := pub.Upload(ctx)
		c.m.Outputs = append(c.m.Outputs, done...)
		return int64(len(done)), err
	}); err != nil {
		return err
	}
	if err := c.finish(ctx, pub); err != nil {
		return err
	}
	return c.handOver(ctx)
}

// roundStatus is the fleet database's status of the round ("": none).
func (c *closer) roundStatus(ctx context.Context) (string, error) {
	rows, err := warehouse.Query(ctx, c.conn, "close_round.sql", c.round.Seq)
	if err != nil {
		return "", err
	}
	var s string
	if rows.Next() {
		err = rows.Scan(&s)
	}
	if err := errors.Join(err, rows.Err(), rows.Close()); err != nil {
		return "", fmt.Errorf("close: read the round's status: %w", err)
	}
	return s, nil
}

// timed runs a stage of the close step into the manifest.
func (c *closer) timed(name string, f func() (int64, error)) error {
	start := c.clock()
	n, err := f()
	d := c.clock().Sub(start)
	c.m.Stages = append(c.m.Stages, StageTiming{Stage: "close-" + name, Rows: n, Seconds: d.Seconds(), PeakRSSMiB: PeakRSSMiB()})
	if err != nil {
		return err
	}
	c.log.Info("stage done", "stage", "close-"+name, "rows", n, "duration_s", d.Seconds(), "peak_rss_mib", PeakRSSMiB())
	return nil
}

// local is where a shard's export is downloaded.
func (c *closer) local(i int, name string) string {
	return filepath.Join(c.stage, "shard-"+strconv.Itoa(i)+"-"+name)
}

// fetch downloads the shards' exports of the round and names them as views.
func (c *closer) fetch(ctx context.Context) error {
	views := map[string][]string{}
	for i, d := range c.dones {
		for _, name := range []string{"periods.parquet", "notifications.parquet", "invoices.parquet", "invoice_lines.parquet", "outputs.parquet"} {
			key, ok := d.Exports[name]
			if !ok {
				return fmt.Errorf("close: shard %d of round %s exported no %s", i, c.round.ID, name)
			}
			p := c.local(i, name)
			if _, err := partition.GetFile(ctx, c.state, key, p); err != nil {
				return err
			}
			views[name] = append(views[name], p)
		}
		var m Manifest
		if err := partition.GetJSON(ctx, c.state, d.Exports["manifest.json"], &m); err != nil {
			return err
		}
		c.shardMs = append(c.shardMs, m)
	}
	for name, view := range map[string]string{"periods.parquet": "close_periods", "notifications.parquet": "close_notifications",
		"invoices.parquet": "close_invoices", "invoice_lines.parquet": "close_invoice_lines", "outputs.parquet": "close_shard_outputs"} {
		if err := warehouse.ParquetView(ctx, c.conn, view, views[name]...); err != nil {
			return err
		}
	}
	return nil
}

// render numbers the round's invoices and renders the fleet-wide outputs into the outbox,
// inside the transaction of the fleet database.
func (c *closer) render(ctx context.Context, outbox *publish.Outbox) ([]publish.File, error) {
	if err := warehouse.Exec(ctx, c.conn, "close_apply.sql", c.round.Seq); err != nil {
		return nil, err
	}
	dir := outbox.Dir()
	for _, sub := range []string{"ledger", "invoices"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create outbox %s: %w", sub, err)
		}
	}
	// the ledger and the register exactly as a single machine renders them
	if err := warehouse.ExecTemplate(ctx, c.conn, "render_fleet.sql", map[string]string{"out": filepath.ToSlash(dir)}); err != nil {
		return nil, err
	}
	// ... and the per-event ledger from the shards' slices
	rated := filepath.Join(dir, "ledger", "rated_events.parquet")
	var slices []string
	changed := false
	for i, d := range c.dones {
		if d.Rated == "" {
			continue
		}
		changed = changed || d.RatedChanged
		p := c.local(i, "rated_events.parquet")
		if _, err := partition.GetFile(ctx, c.state, d.Rated, p); err != nil {
			return nil, err
		}
		slices = append(slices, p)
	}
	switch {
	case len(slices) > 0 && changed:
		if err := warehouse.ParquetView(ctx, c.conn, "close_rated_slices", slices...); err != nil {
			return nil, err
		}
		if err := warehouse.ExecTemplate(ctx, c.conn, "close_rated.sql", map[string]string{"file": filepath.ToSlash(rated)}); err != nil {
			return nil, err
		}
	case len(slices) > 0:
		_ = os.Remove(rated) // no shard's slice changed: the published file stands
	}
	keys, err := documents.WriteInvoices(ctx, c.conn, dir, c.round.Seq)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		outbox.MarkFinal(k)
	}
	if err := notify.Render(ctx, c.conn, dir); err != nil {
		return nil, err
	}
	if err := c.quarantine(ctx, dir, outbox); err != nil {
		return nil, err
	}
	if err := c.assignments(ctx); err != nil {
		return nil, err
	}
	if err := c.snapshot(ctx, dir); err != nil {
		return nil, err
	}
	return outbox.Collect(ctx, c.conn)
}

// quarantine merges the shards' quarantine files of the round into the round's, sorted by
// object key and line (an unreadable object, which every shard lists, once).
func (c *closer) quarantine(ctx context.Context, dir string, outbox *publish.Outbox) error {
	for _, q := range []struct{ name, key string }{
		{"quarantine.jsonl", "quarantine/" + c.round.ID + ".jsonl"},
		{"restricted_quarantine.jsonl", "restricted/quarantine/" + c.round.ID + ".jsonl"},
	} {
		type entry struct {
			key  string
			line int64
			null bool
			text string
		}
		seen := map[string]bool{}
		var es []entry
		for i, d := range c.dones {
			k, ok := d.Exports[q.name]
			if !ok {
				continue
			}
			p := c.local(i, q.name)
			if _, err := partition.GetFile(ctx, c.state, k, p); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				t := sc.Text()
				if t == "" || seen[t] {
					continue
				}
				seen[t] = true
				var v struct {
					Key  string `json:"object_key"`
					Line *int64 `json:"line"`
				}
				if err := json.Unmarshal([]byte(t), &v); err != nil {
					_ = f.Close()
					return fmt.Errorf("close: read %s of shard %d: %w", q.name, i, err)
				}
				e := entry{key: v.Key, text: t, null: v.Line == nil}
				if v.Line != nil {
					e.line = *v.Line
				}
				es = append(es, e)
			}
			err = sc.Err()
			_ = f.Close()
			if err != nil {
				return err
			}
		}
		if len(es) == 0 {
			continue
		}
		sort.SliceStable(es, func(a, b int) bool {
			if es[a].key != es[b].key {
				return es[a].key < es[b].key
			}
			if es[a].null != es[b].null {
				return !es[a].null // NULLS LAST, as DuckDB orders them
			}
			return es[a].line < es[b].line
		})
		var buf bytes.Buffer
		for _, e := range es {
			buf.WriteString(e.text)
			buf.WriteByte('\n')
		}
		p := filepath.Join(dir, filepath.FromSlash(q.key))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			return err
		}
		outbox.MarkFinal(q.key)
	}
	return nil
}

// assignments reads the numbers the round gave its invoices.
func (c *closer) assignments(ctx context.Context) error {
	rows, err := warehouse.Query(ctx, c.conn, "close_assignments.sql", c.round.Seq)
	if err != nil {
		return err
	}
	defer rows.Close()
	c.assigned = nil
	for rows.Next() {
		a := Assignment{Round: c.round.ID}
		if err := rows.Scan(&a.TenantID, &a.PeriodStart, &a.InvoiceNumber, &a.Year, &a.Seq); err != nil {
			return fmt.Errorf("close: read assignments: %w", err)
		}
		c.assigned = append(c.assigned, a)
	}
	return rows.Err()
}

// snapshot merges the shards' analysts' snapshots when one of them changed or invoices
// were issued (or there is none published yet).
func (c *closer) snapshot(ctx context.Context, dir string) error {
	changed := len(c.assigned) > 0
	for _, d := range c.dones {
		changed = changed || d.SnapshotChanged
	}
	if !changed {
		rows, err := warehouse.Query(ctx, c.conn, "close_published.sql", snapshot.DBKey)
		if err != nil {
			return err
		}
		published := rows.Next()
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		if published {
			return nil
		}
	}
	var dbs []string
	for i, d := range c.dones {
		p := c.local(i, "analytics.duckdb")
		if _, err := partition.GetFile(ctx, c.state, d.Snapshot, p); err != nil {
			if errors.Is(err, objstore.ErrNotFound) {
				continue
			}
			return err
		}
		dbs = append(dbs, p)
	}
	inv := filepath.Join(c.stage, "invoices.parquet")
	if err := warehouse.ExecTemplate(ctx, c.conn, "close_snapshot_invoices.sql", map[string]string{"file": filepath.ToSlash(inv)}); err != nil {
		return err
	}
	path := c.o.Warehouse + ".analytics.duckdb"
	if _, err := snapshot.Merge(ctx, snapshot.MergeOptions{Shards: dbs, Invoices: inv, Path: path, OutDir: dir, StageDir: c.stage,
		RunSeq: c.round.Seq, RunID: c.round.ID, InvoiceFiles: true}); err != nil {
		return err
	}
	if p := c.cfg.Analytics.LocalCopy; p != "" {
		if err := snapshot.Install(path, c.cfg.Resolve(p)); err != nil {
			c.log.Info("analytics local copy not replaced", "err", err)
		}
	}
	return nil
}

// finish writes the output index and the round's manifest, last.
func (c *closer) finish(ctx context.Context, pub *publish.Publisher) error {
	rows, err := warehouse.Query(ctx, c.conn, "close_index.sql")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"key", "sha256", "bytes", "run_id"})
	for rows.Next() {
		var key, sum, id string
		var n int64
		if err := rows.Scan(&key, &sum, &n, &id); err != nil {
			_ = rows.Close()
			return fmt.Errorf("close: read the output index: %w", err)
		}
		_ = w.Write([]string{key, sum, strconv.FormatInt(n, 10), id})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("close: read the output index: %w", err)
	}
	w.Flush()
	sum := sha256.Sum256(buf.Bytes())
	c.m.Index = publish.File{Key: publish.IndexKey, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(buf.Len())}
	var prev string
	if err := warehouse.QueryRow(ctx, c.conn, "outputs_index_sum.sql", &prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if prev != c.m.Index.SHA256 {
		if err := pub.PutBytes(ctx, publish.IndexKey, buf.Bytes()); err != nil {
			return err
		}
		if err := warehouse.Exec(ctx, c.conn, "outputs_index_record.sql", c.m.Index.SHA256); err != nil {
			return err
		}
	}
	c.summarize()
	c.m.Status = "succeeded"
	data, err := json.MarshalIndent(c.m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode run manifest: %w", err)
	}
	if err := pub.PutBytes(ctx, manifestKey(c.m.RunID), append(data, '\n')); err != nil {
		return err
	}
	return warehouse.Exec(ctx, c.conn, "run_status.sql", c.round.Seq, "succeeded")
}

// summarize fills the round's manifest from the partition step, the shards' manifests and
// the close step's numbering.
func (c *closer) summarize() {
	m := c.m
	o := c.round.Objects
	m.Objects = ObjectCounts{Listed: o.Listed, Ingested: o.Ingested, Unreadable: o.Unreadable, Skipped: o.Skipped,
		Deferred: o.Deferred, Lines: o.Lines, Bytes: o.Bytes}
	m.QuarantineBy = map[string]int64{}
	rec := aggregate.Reconciliation{OK: true}
	stages := []StageTiming{{Stage: "partition", Rows: o.Lines, Seconds: c.round.Seconds, PeakRSSMiB: c.round.PeakRSSMiB}}
	for i, sm := range c.shardMs {
		for k, v := range sm.QuarantineBy {
			if k == "unreadable_object" { // every shard lists every unreadable object
				m.QuarantineBy[k] = max(m.QuarantineBy[k], v)
			} else {
				m.QuarantineBy[k] += v
			}
		}
		rec.LinesRead += sm.Reconciliation.LinesRead
		rec.Accepted += sm.Reconciliation.Accepted
		rec.Quarantined += sm.Reconciliation.Quarantined
		rec.Duplicates += sm.Reconciliation.Duplicates
		rec.OK = rec.OK && sm.Reconciliation.OK
		rec.Problems = append(rec.Problems, sm.Reconciliation.Problems...)
		m.Recomputed += sm.Recomputed
		m.Tenants = append(m.Tenants, sm.Tenants...)
		for _, f := range sm.Finalized {
			if f.Kind == "period" {
				m.Finalized = append(m.Finalized, f)
			}
		}
		m.Outputs = append(m.Outputs, sm.Outputs...)
		stages = append(stages, StageTiming{Stage: "shard-" + strconv.Itoa(i), Rows: sm.Objects.Lines,
			Seconds: c.dones[i].Seconds, PeakRSSMiB: c.dones[i].PeakRSSMiB})
	}
	for _, a := range c.assigned {
		m.Finalized = append(m.Finalized, Finalized{Kind: "invoice", TenantID: a.TenantID, PeriodStart: a.PeriodStart, Invoice: a.InvoiceNumber})
	}
	sort.Slice(m.Finalized, func(i, j int) bool {
		a, b := m.Finalized[i], m.Finalized[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.TenantID != b.TenantID {
			return a.TenantID < b.TenantID
		}
		return a.PeriodStart < b.PeriodStart
	})
	sort.SliceStable(m.Tenants, func(i, j int) bool { return m.Tenants[i].TenantID < m.Tenants[j].TenantID })
	sort.Slice(m.Outputs, func(i, j int) bool { return m.Outputs[i].Key < m.Outputs[j].Key })
	m.Reconciliation = rec
	m.Counts = Counts{LinesRead: rec.LinesRead, Accepted: rec.Accepted, Quarantined: rec.Quarantined, Duplicates: rec.Duplicates}
	m.Stages = append(stages, m.Stages...)
	m.Stages = append(m.Stages, StageTiming{Stage: "close", Seconds: c.clock().Sub(c.began).Seconds(), PeakRSSMiB: PeakRSSMiB()})
}

// handOver writes the numbers of the round's invoices for the shards to take back.
func (c *closer) handOver(ctx context.Context) error {
	if err := c.assignments(ctx); err != nil {
		return err
	}
	if c.assigned == nil {
		c.assigned = []Assignment{}
	}
	return partition.PutJSON(ctx, c.state, partition.AssignmentsKey(c.round.ID), c.assigned)
}
