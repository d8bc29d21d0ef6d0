// Package load puts source objects into the warehouse: each object is streamed (pull),
// parsed in Go (pipeline/parse) into Arrow record batches on several cores, staged, and then
// committed with its place in the identity index (sql/load_*.sql). A line is read and parsed
// once, when its object is loaded; a batch of objects commits together with its manifest
// rows, or not at all.
package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// Config configures a Loader.
type Config struct {
	Conn   *sql.Conn
	Log    *slog.Logger
	RunSeq int
	// Limits bound each line (parse.Limits); MaxObjectBytes bounds an object's stored and
	// decompressed size (0: no bound).
	Limits         parse.Limits
	MaxObjectBytes int64
	// Workers parse objects at once (0: the number of CPUs).
	Workers int
	// StageDir holds Parquet and user-directory objects while DuckDB reads them.
	StageDir string
}

// Loader loads batches of objects on one warehouse connection.
type Loader struct {
	cfg Config
	mem memory.Allocator
}

// batchLines is the number of lines per Arrow record batch.
const batchLines = 16384

// New returns a Loader and creates the run's staging tables.
func New(ctx context.Context, cfg Config) (*Loader, error) {
	if cfg.Conn == nil {
		return nil, errors.New("new loader: no warehouse connection")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.StageDir == "" {
		return nil, errors.New("new loader: no staging directory")
	}
	if err := warehouse.Exec(ctx, cfg.Conn, "load_prepare.sql"); err != nil {
		return nil, err
	}
	return &Loader{cfg: cfg, mem: memory.NewGoAllocator()}, nil
}

// Known returns the objects read before (display key -> ETag of its current version) and
// the next object number.
func Known(ctx context.Context, conn *sql.Conn) (map[string]string, int32, error) {
	rows, err := warehouse.Query(ctx, conn, "load_known.sql")
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]string{}
	var next int32 = 1
	for rows.Next() {
		var k, e sql.NullString
		if err := rows.Scan(&k, &e, &next); err != nil {
			return nil, 0, fmt.Errorf("read objects read before: %w", err)
		}
		if k.Valid {
			out[k.String] = e.String
		}
	}
	return out, next, rows.Err()
}

// Result counts what a batch loaded.
type Result struct {
	Objects    int   // objects recorded (read, unreadable or skipped)
	Lines      int64 // event lines staged
	Unreadable int   // objects quarantined as unreadable_object
	Bytes      int64 // plain bytes read
}

// object is one object of a batch with the number it gets.
type object struct {
	pull.Todo
	no     int32
	status string // read | unreadable | skipped
	detail string
	sha    string
	lines  int64
	staged string // Parquet and users: the staged file
}

// message is what a parsing worker hands the loader: a record batch of an object, or the
// end of an object.
type message struct {
	obj  int
	rec  arrow.RecordBatch
	done bool
	err  error
	st   parse.Stats
}

// Batch loads the objects, numbered from firstNo in order, in one transaction. progress,
// when set, hears of each object done. An object that cannot be read is recorded as
// unreadable_object and the batch goes on; a failure of the store fails the batch.
func (l *Loader) Batch(ctx context.Context, store objstore.Store, todo []pull.Todo, firstNo int32, progress func(objects int, lines int64)) (Result, error) {
	var res Result
	if len(todo) == 0 {
		return res, nil
	}
	objs := make([]*object, len(todo))
	for i, t := range todo {
		objs[i] = &object{Todo: t, no: firstNo + int32(i), status: "read"}
		if t.Format == pull.FormatSkipped {
			objs[i].status = "skipped"
		}
	}
	err := warehouse.InTx(ctx, l.cfg.Conn, func() error {
		var err error
		res, err = l.batch(ctx, store, objs, progress)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("load batch: %w", err)
	}
	return res, nil
}

func (l *Loader) batch(ctx context.Context, store objstore.Store, objs []*object, progress func(int, int64)) (Result, error) {
	var res Result
	// the workers' context: stopping them early must not cancel the commit below
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan message, 2*l.cfg.Workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l.read(wctx, store, i, objs[i], msgs)
			}
		}()
	}
	go func() {
		defer close(next)
		for i, o := range objs {
			if o.status == "skipped" {
				continue
			}
			select {
			case next <- i:
			case <-wctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(msgs)
	}()
	// drain keeps the workers from blocking when the loader stops early
	drain := func() {
		cancel()
		for m := range msgs {
			if m.rec != nil {
				m.rec.Release()
			}
		}
	}
	pending := 0
	for _, o := range objs {
		if o.status != "skipped" {
			pending++
		}
	}
	done := len(objs) - pending
	for pending > 0 {
		m, ok := <-msgs
		if !ok {
			break
		}
		o := objs[m.obj]
		if m.rec != nil {
			err := warehouse.ExecArrow(ctx, l.cfg.Conn, l.cfg.StageDir, "load_stage_insert.sql", "arrow_batch", parse.Schema, m.rec)
			m.rec.Release()
			if err != nil {
				drain()
				return res, err
			}
			continue
		}
		if !m.done {
			continue
		}
		pending--
		done++
		if err := l.finish(ctx, o, m); err != nil {
			drain()
			return res, err
		}
		res.Lines += o.lines
		res.Bytes += m.st.Bytes
		if progress != nil {
			progress(done, res.Lines)
		}
	}
	drain()
	if err := ctx.Err(); err != nil && pending > 0 {
		return res, err
	}
	for _, o := range objs {
		if o.status == "unreadable" {
			res.Unreadable++
		}
	}
	res.Objects = len(objs)
	if err := l.commit(ctx, objs); err != nil {
		return res, err
	}
	return res, nil
}

// read streams one object and parses it, handing record batches to the loader. Parquet
// and user directories are staged to a file for DuckDB instead.
func (l *Loader) read(ctx context.Context, store objstore.Store, i int, o *object, msgs chan<- message) {
	send := func(m message) bool {
		select {
		case msgs <- m:
			return true
		case <-ctx.Done():
			if m.rec != nil {
				m.rec.Release()
			}
			return false
		}
	}
	s, err := pull.Open(ctx, store, o.Todo, l.cfg.MaxObjectBytes)
	if err != nil {
		send(message{obj: i, done: true, err: err})
		return
	}
	defer s.Close()
	src := parse.Source{ObjNo: o.no, LineIDBase: int64(o.no) << 32}
	flush := func(rec arrow.RecordBatch) error { // the record is ours: the loader releases it
		if !send(message{obj: i, rec: rec}) {
			return ctx.Err()
		}
		return nil
	}
	var st parse.Stats
	switch o.Format {
	case pull.FormatJSON:
		st, err = parse.JSONLines(ctx, s, src, l.cfg.Limits, l.mem, batchLines, flush)
	case pull.FormatCSV:
		st, err = parse.CSV(ctx, s, src, l.cfg.Limits, l.mem, batchLines, flush)
	case pull.FormatParquet, pull.FormatUsers:
		o.staged, err = stageFile(l.cfg.StageDir, o.no, s)
		st.Bytes = s.Size()
	}
	if err == nil {
		o.sha, err = s.Finish()
	}
	send(message{obj: i, done: true, err: err, st: st})
}

// stageFile copies a stream into the staging directory.
func stageFile(dir string, no int32, r io.Reader) (path string, err error) {
	path = filepath.Join(dir, "obj-"+strconv.Itoa(int(no)))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("stage object: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stage object: %w", cerr)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return "", err
	}
	return path, nil
}

// finish records the end of an object: its staged lines stay, or go when it turned out
// unreadable half way. A failure of the store fails the batch.
func (l *Loader) finish(ctx context.Context, o *object, m message) error {
	if m.err == nil && o.staged != "" {
		defer os.Remove(o.staged)
		switch o.Format {
		case pull.FormatParquet:
			m.st, m.err = l.parquet(ctx, o)
		case pull.FormatUsers:
			m.err = l.users(ctx, o)
		}
	}
	var se *pull.SourceError
	switch {
	case m.err == nil:
		o.lines = m.st.Lines
		return nil
	case errors.As(m.err, &se):
		return m.err
	case errors.Is(m.err, pull.ErrUnreadable), errors.Is(m.err, errUnreadable):
		l.cfg.Log.Warn("object quarantined as unreadable", "key", o.Display, "err", m.err)
		o.status, o.detail, o.lines = "unreadable", m.err.Error(), 0
		return warehouse.Exec(ctx, l.cfg.Conn, "load_stage_drop.sql", o.no)
	default:
		return fmt.Errorf("load object %s: %w", o.Display, m.err)
	}
}

// errUnreadable marks a Parquet or user-directory object DuckDB could not read.
var errUnreadable = errors.New("unreadable object")

// users reads a user directory object (users/*.csv).
func (l *Loader) users(ctx context.Context, o *object) error {
	err := warehouse.Exec(ctx, l.cfg.Conn, "load_users.sql", o.staged, o.Display, o.no)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: user directory %s: %v", errUnreadable, o.Display, err)
	}
	return err
}

// commit records the batch's objects and finds each staged line its place in its identity.
func (l *Loader) commit(ctx context.Context, objs []*object) error {
	replaces := false
	err := warehouse.Append(ctx, l.cfg.Conn, "stage_objects", func(add func(...driver.Value) error) error {
		for _, o := range objs {
			var sha, reason, detail any
			if o.sha != "" {
				sha = o.sha
			}
			if o.status == "unreadable" {
				reason, detail = "unreadable_object", o.detail
			}
			format := o.Format
			if err := add(o.no, o.Display, o.ETag, o.Size, sha, format, o.status, reason, detail, o.lines); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var n int64
	if err := warehouse.QueryRow(ctx, l.cfg.Conn, "load_replaces.sql", &n); err != nil {
		return err
	}
	replaces = n > 0
	steps := []string{"load_rank.sql"}
	if replaces {
		steps = []string{"load_replace.sql", "load_rank.sql"}
	}
	for _, s := range steps {
		if err := warehouse.Exec(ctx, l.cfg.Conn, s); err != nil {
			return err
		}
	}
	if err := warehouse.QueryRow(ctx, l.cfg.Conn, "load_earlier.sql", &n); err != nil {
		return err
	}
	if n > 0 {
		if err := warehouse.Exec(ctx, l.cfg.Conn, "load_moved.sql", l.cfg.RunSeq); err != nil {
			return err
		}
	}
	return warehouse.Exec(ctx, l.cfg.Conn, "load_commit.sql", l.cfg.RunSeq)
}
