package pull_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/pull"
)

// source is a local store in a temporary directory.
type source struct {
	t     *testing.T
	local *objstore.Local
}

func newSource(t *testing.T) *source {
	t.Helper()
	l, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &source{t: t, local: l}
}

// put writes an object and returns it as planned for reading.
func (s *source) put(key string, data []byte) pull.Todo {
	s.t.Helper()
	p := s.local.Path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	listing, err := s.local.List(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, o := range listing {
		if o.Key == key {
			return pull.Todo{Object: o, Display: pull.DisplayKey(key), Format: pull.FormatOf(key)}
		}
	}
	s.t.Fatalf("%s is not listed", key)
	return pull.Todo{}
}

// gz compresses each part as one gzip member, members one after the other.
func gz(t testing.TB, parts ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&b)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// zeros is a gzip stream of n zero bytes, written a chunk at a time (a bomb: 50 MB
// compress to about 50 KB).
func zeros(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// text is some lines of object text.
func text(lines int) []byte {
	var b bytes.Buffer
	for i := range lines {
		fmt.Fprintf(&b, `{"event_id":"ev-%06d","tenant_id":"acme","event_value":%d}`+"\n", i, i)
	}
	return b.Bytes()
}

// readAll opens an object, reads it whole and finishes it.
func readAll(t *testing.T, store objstore.Store, o pull.Todo, limit int64) (plain []byte, sum string, err error) {
	t.Helper()
	s, err := pull.Open(context.Background(), store, o, limit)
	if err != nil {
		return nil, "", err
	}
	defer s.Close()
	plain, err = io.ReadAll(s)
	if err != nil {
		return plain, "", err
	}
	if n := s.Size(); n != int64(len(plain)) {
		t.Errorf("%s: Size() = %d after reading %d bytes", o.Key, n, len(plain))
	}
	sum, err = s.Finish()
	return plain, sum, err
}

// TestStreamReadsText: a plain object is read as it is and a gzip one undone on the fly,
// every member of a multi-member gzip included; Finish returns the SHA-256 of the bytes as
// stored (the compressed ones for gzip), also when the text was not read to the end.
func TestStreamReadsText(t *testing.T) {
	src := newSource(t)
	plain := text(5000)
	half := len(plain) / 2
	cases := []struct {
		key    string
		stored []byte
	}{
		{"a.jsonl", plain},
		{"b.jsonl.gz", gz(t, plain)},
		{"c.csv.gz", gz(t, plain[:half], plain[half:])}, // two members, as `cat a.gz b.gz` makes
		{"d.jsonl.gz", gz(t, plain, nil)},               // an empty member at the end
		{"e.jsonl", nil},                                // empty object
		{"f.jsonl.gz", gz(t, nil)},                      // gzip of nothing
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			o := src.put(c.key, c.stored)
			want := plain
			if len(c.stored) == 0 || c.key == "f.jsonl.gz" {
				want = nil
			}
			got, sum, err := readAll(t, src.local, o, 0)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("read %d bytes, want the %d bytes of text", len(got), len(want))
			}
			if sum != sha(c.stored) {
				t.Errorf("Finish = %s, want the SHA-256 of the stored bytes %s", sum, sha(c.stored))
			}
			// only a few bytes read: Finish still covers every stored byte
			s, err := pull.Open(context.Background(), src.local, o, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Read(make([]byte, 7)); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if sum, err := s.Finish(); err != nil || sum != sha(c.stored) {
				t.Errorf("Finish after a partial read = %s, %v; want %s", sum, err, sha(c.stored))
			}
		})
	}
}

// TestStreamUnreadable: gzip that cannot be undone (a corrupt header, an empty file, a body
// or trailer cut short, a wrong checksum, garbage after the last member) fails with
// ErrUnreadable, never with a SourceError: the object is quarantined, the run goes on.
func TestStreamUnreadable(t *testing.T) {
	src := newSource(t)
	plain := text(20000)
	good := gz(t, plain)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 of the trailer
	badSize := bytes.Clone(good)
	badSize[len(badSize)-1] ^= 0xff // ISIZE of the trailer
	cases := []struct {
		name   string
		stored []byte
	}{
		{"not gzip at all", []byte(`{"event_id":"plain text named .gz"}` + "\n")},
		{"empty file", nil},
		{"header cut short", good[:5]},
		{"corrupt header", append([]byte{0x1f, 0x8b, 99}, good[3:]...)}, // compression method 99
		{"body cut short", good[:len(good)/2]},
		{"trailer cut short", good[:len(good)-3]},
		{"wrong CRC", badCRC},
		{"wrong size", badSize},
		{"garbage after the last member", append(bytes.Clone(good), "trailing garbage"...)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := src.put(fmt.Sprintf("bad-%d.jsonl.gz", i), c.stored)
			_, _, err := readAll(t, src.local, o, 0)
			if !errors.Is(err, pull.ErrUnreadable) {
				t.Fatalf("err = %v, want ErrUnreadable", err)
			}
			var se *pull.SourceError
			if errors.As(err, &se) {
				t.Errorf("err = %v is a SourceError: a defect of the content is not a failure of the store", err)
			}
			if !strings.Contains(err.Error(), o.Key) {
				t.Errorf("err = %v does not name the object", err)
			}
		})
	}
}

// countingStore counts the Gets of a store and the stored bytes read through them.
type countingStore struct {
	objstore.Store
	gets atomic.Int64
	read atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.gets.Add(1)
	rc, err := c.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc, &c.read}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// TestStreamBomb: a gzip object that expands past the limit (50 MB of zeros, about 50 KB
// stored, limit 1 MB) fails with ErrUnreadable after exactly limit bytes of text, and is
// never expanded whole: what the read allocates is a small fraction of the text.
func TestStreamBomb(t *testing.T) {
	src := newSource(t)
	const size, limit = 50 << 20, 1 << 20
	stored := zeros(t, size)
	o := src.put("bomb.jsonl.gz", stored)
	if o.Size >= limit {
		t.Fatalf("the bomb is %d bytes stored: it must list below the limit", o.Size)
	}
	store := &countingStore{Store: src.local}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s, err := pull.Open(context.Background(), store, o, limit)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	n, err := io.Copy(io.Discard, s)
	got := s.Size()
	_ = s.Close()
	runtime.ReadMemStats(&after)

	if !errors.Is(err, pull.ErrUnreadable) {
		t.Fatalf("read the bomb: err = %v after %d bytes, want ErrUnreadable", err, n)
	}
	if n != limit || got != limit {
		t.Errorf("read %d bytes (Size %d) before failing, want exactly the limit %d", n, got, limit)
	}
	// the gzip window, the read buffers and the decoder's tables: about 100 KB, never the
	// 50 MB of text, nor even the limit's 1 MB
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes, read %d stored bytes of %d", alloc, store.read.Load(), len(stored))
	if alloc > limit {
		t.Errorf("reading the bomb allocated %d bytes: the text is being held", alloc)
	}
	if r := store.read.Load(); r > int64(len(stored)) {
		t.Errorf("read %d stored bytes of %d", r, len(stored))
	}
}

// TestStreamLimit: the limit is on the text. Exactly limit bytes read fine; one more fails
// with ErrUnreadable, for gzip and for a plain object whose listing understated its size
// (it grew after it was listed).
func TestStreamLimit(t *testing.T) {
	src := newSource(t)
	const limit = 64 << 10
	exact := bytes.Repeat([]byte("x"), limit)
	over := bytes.Repeat([]byte("x"), limit+1)
	cases := []struct {
		name   string
		key    string
		stored []byte
		listed int64 // 0: as listed
		ok     bool
	}{
		{"gzip of exactly the limit", "a.jsonl.gz", gz(t, exact), 0, true},
		{"gzip one byte over", "b.jsonl.gz", gz(t, over), 0, false},
		{"gzip over in a second member", "c.jsonl.gz", gz(t, exact[:10], exact), 0, false},
		{"plain of exactly the limit", "d.jsonl", exact, 0, true},
		{"plain that grew past the limit after listing", "e.jsonl", over, 100, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := src.put(c.key, c.stored)
			if c.listed > 0 {
				o.Size = c.listed
			}
			got, _, err := readAll(t, src.local, o, limit)
			switch {
			case c.ok && err != nil:
				t.Fatalf("read: %v", err)
			case c.ok && len(got) != limit:
				t.Errorf("read %d bytes, want %d", len(got), limit)
			case !c.ok && !errors.Is(err, pull.ErrUnreadable):
				t.Errorf("err = %v, want ErrUnreadable", err)
			}
		})
	}
}

// TestStreamListedSizeRefused: an object listed larger than the limit is refused with
// ErrUnreadable before any byte is read (the store is not even asked for it).
func TestStreamListedSizeRefused(t *testing.T) {
	src := newSource(t)
	for _, key := range []string{"big.jsonl", "big.jsonl.gz", "big.parquet"} {
		o := src.put(key, bytes.Repeat([]byte("y"), 2000))
		store := &countingStore{Store: src.local}
		s, err := pull.Open(context.Background(), store, o, 1999)
		if err == nil {
			_ = s.Close()
		}
		if !errors.Is(err, pull.ErrUnreadable) {
			t.Errorf("%s: err = %v, want ErrUnreadable", key, err)
		}
		if g, r := store.gets.Load(), store.read.Load(); g != 0 || r != 0 {
			t.Errorf("%s: %d Get(s) and %d bytes read before refusing", key, g, r)
		}
	}
}

// errNetwork stands for a connection lost mid-object.
var errNetwork = errors.New("read tcp 10.0.0.1:443: connection reset by peer")

// failingStore is a store whose Get fails, or whose readers fail after after bytes: a
// network failure (the S3 store has its own tests).
type failingStore struct {
	objstore.Store
	getErr error
	after  int
}

func (f *failingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	rc, err := f.Store.Get(ctx, key)
	if err != nil {
		return nil, err
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
		err = errNetwork // the object is longer than what arrived
	}
	return n, err
}

func (r *failingReader) Close() error { return r.rc.Close() }

// TestStreamSourceError: a store that fails (Get itself, or a reader mid-way, before or
// after a gzip header) gives a *SourceError wrapping the store's error, never
// ErrUnreadable: the run fails and the next one reads the object again.
func TestStreamSourceError(t *testing.T) {
	src := newSource(t)
	plain := text(20000)
	stored := gz(t, plain)
	cases := []struct {
		name  string
		key   string
		data  []byte
		store *failingStore
	}{
		{"Get fails", "a.jsonl", plain, &failingStore{getErr: errNetwork}},
		{"plain: fails at once", "b.jsonl", plain, &failingStore{after: 0}},
		{"plain: fails mid-way", "c.jsonl", plain, &failingStore{after: 100_000}},
		{"gzip: fails in the header", "d.jsonl.gz", stored, &failingStore{after: 4}},
		{"gzip: fails mid-way", "e.jsonl.gz", stored, &failingStore{after: len(stored) / 2}},
		{"gzip: fails in the trailer", "f.jsonl.gz", stored, &failingStore{after: len(stored) - 2}},
		{"parquet: fails mid-way", "g.parquet", plain, &failingStore{after: 1000}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := src.put(c.key, c.data)
			c.store.Store = src.local
			_, _, err := readAll(t, c.store, o, 0)
			var se *pull.SourceError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want a *SourceError", err, err)
			}
			if !errors.Is(err, errNetwork) {
				t.Errorf("err = %v does not wrap the store's error", err)
			}
			if errors.Is(err, pull.ErrUnreadable) {
				t.Errorf("err = %v is ErrUnreadable: a network failure would quarantine the object", err)
			}
		})
	}
}

// TestStreamFinishSourceError: a store that fails while Finish reads the rest of the object
// gives a *SourceError, not a checksum of part of the object.
func TestStreamFinishSourceError(t *testing.T) {
	src := newSource(t)
	plain := text(20000)
	o := src.put("a.jsonl", plain)
	store := &failingStore{Store: src.local, after: 1000}
	s, err := pull.Open(context.Background(), store, o, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := io.ReadFull(s, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Finish()
	var se *pull.SourceError
	if !errors.As(err, &se) {
		t.Errorf("Finish = %q, %v; want a *SourceError", sum, err)
	}
}
