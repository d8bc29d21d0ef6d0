package load_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/load"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/parse"
	"github.com/creditmeter/creditmeter/pipeline/pull"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// env is a real DuckDB warehouse (the persistent tables of sql/schema.sql) and a local
// source directory, loaded the way a run loads: list, plan against the objects read
// before, one Loader per run, one batch.
type env struct {
	t      testing.TB
	ctx    context.Context
	db     *sql.DB
	conn   *sql.Conn
	local  *objstore.Local
	stage  string
	runSeq int
	mtime  time.Time
	// Limits and MaxObjectBytes of the next loads.
	limits         parse.Limits
	maxObjectBytes int64
}

// newEnv opens a warehouse at path (":memory:" or a file) and an empty source.
func newEnv(t testing.TB, path string) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	if path == "" {
		path = ":memory:"
	}
	db, err := warehouse.Open(ctx, path)
	if err != nil {
		t.Fatalf("open warehouse: %v", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		t.Fatalf("connect warehouse: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		_ = db.Close()
	})
	src, stage := filepath.Join(dir, "src"), filepath.Join(dir, "stage")
	for _, d := range []string{src, stage} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	local, err := objstore.NewLocal(src)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, db: db, conn: conn, local: local, stage: stage,
		mtime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// put writes an object. Every write gets a new modification time, so that a rewritten
// object always has a new ETag (the local store's ETag is size and mtime).
func (e *env) put(key string, data []byte) {
	e.t.Helper()
	p := e.local.Path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.mtime = e.mtime.Add(time.Second)
	if err := os.Chtimes(p, e.mtime, e.mtime); err != nil {
		e.t.Fatal(err)
	}
}

// load runs the next run's ingest from store (nil: the source itself) in one batch.
func (e *env) load(store objstore.Store) (load.Result, error) {
	e.t.Helper()
	if store == nil {
		store = e.local
	}
	e.runSeq++
	listing, err := store.List(e.ctx)
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	known, next, err := load.Known(e.ctx, e.conn)
	if err != nil {
		e.t.Fatalf("known: %v", err)
	}
	todo, _, _ := pull.Plan(listing, known, 0)
	ld, err := load.New(e.ctx, load.Config{Conn: e.conn, RunSeq: e.runSeq, StageDir: e.stage,
		Limits: e.limits, MaxObjectBytes: e.maxObjectBytes})
	if err != nil {
		e.t.Fatalf("new loader: %v", err)
	}
	return ld.Batch(e.ctx, store, todo, next, nil)
}

// mustLoad is load that fails the test on an error.
func (e *env) mustLoad() load.Result {
	e.t.Helper()
	res, err := e.load(nil)
	if err != nil {
		e.t.Fatalf("load (run %d): %v", e.runSeq, err)
	}
	return res
}

// exec runs statements on the warehouse (to stand for what later stages of a run do).
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.conn.ExecContext(e.ctx, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// rows runs a query and returns each row as its columns joined by "|", NULL as "∅", a BLOB
// in hex and a time in RFC 3339 UTC.
func (e *env) rows(query string, args ...any) []string {
	e.t.Helper()
	rs, err := e.conn.QueryContext(e.ctx, query, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		e.t.Fatal(err)
	}
	out := []string{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			e.t.Fatalf("%s: %v", query, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = cell(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return out
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "∅"
	case []byte:
		return hex.EncodeToString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// one runs a query of one value.
func (e *env) one(query string, args ...any) string {
	e.t.Helper()
	r := e.rows(query, args...)
	if len(r) != 1 {
		e.t.Fatalf("%s: %d rows, want 1", query, len(r))
	}
	return r[0]
}

// want checks a query's rows.
func (e *env) want(what, query string, want ...string) {
	e.t.Helper()
	if want == nil {
		want = []string{}
	}
	got := e.rows(query)
	if !slices.Equal(got, want) {
		e.t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// Queries of the identity index, by key and line number.
const (
	qLines   = `SELECT o.key, l.line_no, l.tenant_id, l.event_id, l.status, l.reason, l.field FROM lines l JOIN objects o USING (obj_no) ORDER BY o.obj_no, l.line_no`
	qPending = `SELECT key, line_no, tenant_id, event_id FROM pending ORDER BY key, line_no`
	qDups    = `SELECT key, line_no, tenant_id, event_id FROM dup_lines ORDER BY key, line_no`
	qQlog    = `SELECT o.key, q.line_no, q.tenant_id, q.event_id, q.reason, q.field, q.logged_run FROM qlog q JOIN objects o USING (obj_no) ORDER BY q.logged_run, o.obj_no, q.line_no`
	qDirty   = `SELECT tenant_id FROM dirty_tenants ORDER BY 1`
)

// ev is a valid event line of a chat attempt.
func ev(id, tenant, value string) string {
	return fmt.Sprintf(`{"event_id":"%s","occurred_at":"2026-01-12T09:00:00Z","tenant_id":"%s","user_id":"u-1","event_type":"ai_coaching_chat","event_value":%s,"event_unit":"attempt"}`, id, tenant, value)
}

// jsonl makes object text of lines.
func jsonl(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// gzipped compresses data as one gzip member.
func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// parquetOf has DuckDB write the rows of a query as Parquet and returns the file's bytes.
func (e *env) parquetOf(query string) []byte {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), "out.parquet")
	e.exec("COPY (" + query + ") TO " + warehouse.Literal(p) + " (FORMAT parquet)")
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// failingStore fails a reader of key after after bytes, as a lost connection does (the S3
// store has its own tests); other keys read normally.
type failingStore struct {
	objstore.Store
	key   string
	after int
}

// errNetwork stands for the store's failure.
var errNetwork = fmt.Errorf("read tcp 10.0.0.1:443: connection reset by peer")

func (f *failingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := f.Store.Get(ctx, key)
	if err != nil || key != f.key {
		return rc, err
	}
	return &failingReader{rc: rc, left: f.after}, nil
}

type failingReader struct {
	rc   io.ReadCloser
	left int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errNetwork
	}
	n, err := r.rc.Read(p[:min(len(p), r.left)])
	r.left -= n
	if err == io.EOF {
		err = errNetwork
	}
	return n, err
}

func (r *failingReader) Close() error { return r.rc.Close() }
