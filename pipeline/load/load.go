// Package load puts source objects into the warehouse. Each object is streamed (pull) and
// parsed in Go (pipeline/parse) into Arrow record batches on several cores at once; each
// worker writes its object's batches to a Parquet file in the staging directory. A batch of
// objects then commits in one transaction: DuckDB reads the staged files with its parallel
// reader and finds every line its place in the identity index (sql/load_*.sql). A line is
// read and parsed once, when its object is loaded.
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
	"sync/atomic"

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
	// StageDir holds the parsed objects (Parquet) until their batch commits.
	StageDir string
}

// Loader loads batches of objects on one warehouse connection.
type Loader struct {
	cfg     Config
	mem     memory.Allocator
	scratch *scratch
	// staged numbers the staged files: a path is never used twice, so that no reader can
	// take a new file for an earlier one of the same name (DuckDB caches file contents)
	staged atomic.Int64
}

// batchLines is the number of lines per Arrow record batch.
const batchLines = 32768

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
	return &Loader{cfg: cfg, mem: memory.NewGoAllocator(), scratch: &scratch{}}, nil
}

// Close releases the loader's scratch database.
func (l *Loader) Close() error { return l.scratch.close() }

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
	Lines      int64 // event lines loaded
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
	bytes  int64
	file   string      // the staged Parquet file of its lines ("" when none)
	users  [][4]string // a user directory's rows
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
	defer func() {
		for _, o := range objs {
			if o.file != "" {
				_ = os.Remove(o.file)
			}
		}
	}()
	if err := l.readAll(ctx, store, objs, progress); err != nil {
		return res, fmt.Errorf("load batch: %w", err)
	}
	for _, o := range objs {
		res.Lines += o.lines
		res.Bytes += o.bytes
		if o.status == "unreadable" {
			res.Unreadable++
		}
	}
	res.Objects = len(objs)
	err := warehouse.InTx(ctx, l.cfg.Conn, func() error { return l.commit(ctx, objs) })
	if err != nil {
		return Result{}, fmt.Errorf("load batch: %w", err)
	}
	return res, nil
}

// readAll reads and parses the objects on the workers; each ends read (its lines staged)
// or unreadable. The first failure of the store stops them all.
func (l *Loader) readAll(ctx context.Context, store objstore.Store, objs []*object, progress func(int, int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *object)
	var mu sync.Mutex
	var done int
	var lines int64
	var wg sync.WaitGroup
	for range l.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				if err := l.read(ctx, store, o); err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				done++
				lines += o.lines
				if progress != nil {
					progress(done, lines)
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(next)
		for _, o := range objs {
			if o.status == "skipped" {
				continue
			}
			select {
			case next <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// read streams one object, parses it and stages its lines. Content that cannot be read
// makes the object unreadable (nil error); a failure of the store is returned.
func (l *Loader) read(ctx context.Context, store objstore.Store, o *object) error {
	err := l.parse(ctx, store, o)
	var se *pull.SourceError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se), ctx.Err() != nil:
		return err
	case errors.Is(err, pull.ErrUnreadable), errors.Is(err, errUnreadable):
		l.cfg.Log.Warn("object quarantined as unreadable", "key", o.Display, "err", err)
		if o.file != "" {
			_ = os.Remove(o.file)
		}
		o.status, o.detail, o.lines, o.file, o.users = "unreadable", err.Error(), 0, "", nil
		return nil
	default:
		return fmt.Errorf("load object %s: %w", o.Display, err)
	}
}

// errUnreadable marks a Parquet or user-directory object that cannot be read.
var errUnreadable = errors.New("unreadable object")

// parse reads an object into a staged Parquet file of parsed lines (or, for a user
// directory, its rows).
func (l *Loader) parse(ctx context.Context, store objstore.Store, o *object) error {
	s, err := pull.Open(ctx, store, o.Todo, l.cfg.MaxObjectBytes)
	if err != nil {
		return err
	}
	defer s.Close()
	src := parse.Source{ObjNo: o.no, LineIDBase: int64(o.no) << 32}
	// batches go to the object's staged file as they come: memory holds one at a time
	var pw *warehouse.ParquetWriter
	defer func() {
		if pw != nil {
			_ = pw.Close()
		}
	}()
	keep := func(rec arrow.RecordBatch) error { // the record is ours (parse's contract)
		defer rec.Release()
		if pw == nil {
			o.file = filepath.Join(l.cfg.StageDir, fmt.Sprintf("lines-%d-%d-%d.parquet", l.cfg.RunSeq, o.no, l.staged.Add(1)))
			var err error
			if pw, err = warehouse.NewParquetWriter(o.file, parse.Schema); err != nil {
				return err
			}
		}
		return pw.Write(rec)
	}
	var st parse.Stats
	switch o.Format {
	case pull.FormatJSON:
		st, err = parse.JSONLines(ctx, s, src, l.cfg.Limits, l.mem, batchLines, keep)
	case pull.FormatCSV:
		st, err = parse.CSV(ctx, s, src, l.cfg.Limits, l.mem, batchLines, keep)
	case pull.FormatParquet, pull.FormatUsers:
		var path string
		path, err = stageFile(l.cfg.StageDir, o.no, s)
		if err == nil {
			defer os.Remove(path)
			if o.Format == pull.FormatParquet {
				st, err = l.scratch.parquet(ctx, path, src, l.cfg.Limits, l.mem, o.Display, keep)
			} else {
				o.users, err = l.scratch.users(ctx, path, o.Display)
			}
		}
		st.Bytes = s.Size()
	}
	if err != nil {
		return err
	}
	if o.sha, err = s.Finish(); err != nil {
		return err
	}
	o.lines, o.bytes = st.Lines, st.Bytes
	if pw != nil {
		err, pw = pw.Close(), nil
		return err
	}
	return nil
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

// commit records the batch's objects and lines and finds each line its place in its
// identity; it runs inside the batch's transaction.
func (l *Loader) commit(ctx context.Context, objs []*object) error {
	conn := l.cfg.Conn
	err := warehouse.Append(ctx, conn, "stage_objects", func(add func(...driver.Value) error) error {
		for _, o := range objs {
			var sha, reason, detail any
			if o.sha != "" {
				sha = o.sha
			}
			if o.status == "unreadable" {
				reason, detail = "unreadable_object", o.detail
			}
			if err := add(o.no, o.Display, o.ETag, o.Size, sha, o.Format, o.status, reason, detail, o.lines); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var files []string
	for _, o := range objs {
		if o.file != "" {
			files = append(files, o.file)
		}
	}
	// stage_lines: a view over the staged files for the statements below
	if len(files) > 0 {
		if err := warehouse.ParquetView(ctx, conn, "stage_lines", files...); err != nil {
			return err
		}
	} else if err := warehouse.Exec(ctx, conn, "load_stage_empty.sql"); err != nil {
		return err
	}
	if err := l.commitUsers(ctx, objs); err != nil {
		return err
	}
	var n int64
	if err := warehouse.QueryRow(ctx, conn, "load_replaces.sql", &n); err != nil {
		return err
	}
	steps := []string{"load_rank.sql"}
	if n > 0 {
		steps = []string{"load_replace.sql", "load_rank.sql"}
	}
	for _, s := range steps {
		if err := warehouse.Exec(ctx, conn, s); err != nil {
			return err
		}
	}
	if err := warehouse.QueryRow(ctx, conn, "load_earlier.sql", &n); err != nil {
		return err
	}
	if n > 0 {
		if err := warehouse.Exec(ctx, conn, "load_moved.sql", l.cfg.RunSeq); err != nil {
			return err
		}
	}
	if err := warehouse.Exec(ctx, conn, "load_commit.sql", l.cfg.RunSeq); err != nil {
		return err
	}
	// the staged files go with the batch: stage_lines must not outlive them
	return warehouse.Exec(ctx, conn, "load_stage_empty.sql")
}

// commitUsers records the rows of the batch's user directories.
func (l *Loader) commitUsers(ctx context.Context, objs []*object) error {
	rows := 0
	for _, o := range objs {
		rows += len(o.users)
	}
	if rows == 0 {
		return nil
	}
	err := warehouse.Append(ctx, l.cfg.Conn, "stage_users", func(add func(...driver.Value) error) error {
		for _, o := range objs {
			for _, u := range o.users {
				var v [3]any
				for i, s := range u[1:] {
					if s != "" {
						v[i] = s
					}
				}
				if err := add(o.no, o.Display, u[0], v[0], v[1], v[2]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return warehouse.Exec(ctx, l.cfg.Conn, "load_users.sql")
}
