// Package publish gets a run's outputs (FORMATS.md, "Outputs") to the output store, crash
// safe and in proportion to what changed:
//
//   - Renderers write files into the run's outbox, a directory beside the warehouse.
//   - Collect, inside the transaction of the run's results, keeps only the files whose bytes
//     differ from the output index (the table outputs) and records them there as not yet
//     published; an output marked final (an issued invoice, a final period's report) never
//     changes: rendering other bytes for it fails the run.
//   - After the commit, Upload copies every output not yet published from the outbox to the
//     store and marks it published; a run that died before that leaves its outbox for the
//     next run, which uploads it first (Recover).
//   - An output that is no longer current (a draft invoice once the real one is issued) is
//     removed: Outbox.Remove records its removal in the index with Collect (sha256 ""), and
//     Upload deletes it from the store, then from the index.
//   - The index of every current output (runs/outputs.csv) and the run manifest come last.
package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/warehouse"
)

// IndexKey is the output index: every current output with its checksum.
const IndexKey = "runs/outputs.csv"

// File is one published output.
type File struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Outbox is the directory a run renders its outputs into, beside the warehouse.
type Outbox struct {
	root    string
	runSeq  int
	final   map[string]bool
	removed map[string]bool
	// Divert, when set, takes the rendered files whose key it accepts out of the outbox
	// before Collect looks at them: they are moved under DivertDir by key, never recorded
	// nor published (a shard's fleet-wide files, which the close step merges).
	Divert    func(key string) bool
	DivertDir string
}

// NewOutbox prepares the outbox of run runSeq under root. Outboxes of runs whose outputs
// were all published, or that never committed, are removed.
func NewOutbox(ctx context.Context, conn *sql.Conn, root string, runSeq int) (*Outbox, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox %s: %w", root, err)
	}
	keep, err := pendingRuns(ctx, conn)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read outbox %s: %w", root, err)
	}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || !keep[n] {
			if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return nil, fmt.Errorf("clean outbox: %w", err)
			}
		}
	}
	o := &Outbox{root: root, runSeq: runSeq, final: map[string]bool{}, removed: map[string]bool{}}
	if err := os.MkdirAll(o.Dir(), 0o700); err != nil {
		return nil, fmt.Errorf("create outbox: %w", err)
	}
	return o, nil
}

// Dir is the directory the run renders into; a file's path under it is its output key.
func (o *Outbox) Dir() string { return filepath.Join(o.root, strconv.Itoa(o.runSeq)) }

// Path is the file of a key in the run's outbox, its directory created.
func (o *Outbox) Path(key string) (string, error) {
	p := filepath.Join(o.Dir(), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("create outbox directory for %s: %w", key, err)
	}
	return p, nil
}

// MarkFinal says that the output key, rendered by this run, is written once and never
// changes again.
func (o *Outbox) MarkFinal(key string) { o.final[key] = true }

// Remove says that the output key is no longer current: Collect records its removal and
// Upload deletes it from the store. A key the index does not hold, or one that is final, is
// left alone; a key rendered by this run is not removed.
func (o *Outbox) Remove(key string) { o.removed[key] = true }

// divert moves the files Divert accepts to DivertDir and returns the others.
func (o *Outbox) divert(paths []string) ([]string, error) {
	if o.Divert == nil {
		return paths, nil
	}
	kept := paths[:0]
	for _, p := range paths {
		rel, err := filepath.Rel(o.Dir(), p)
		if err != nil {
			return nil, err
		}
		key := filepath.ToSlash(rel)
		if !o.Divert(key) {
			kept = append(kept, p)
			continue
		}
		dst := filepath.Join(o.DivertDir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if err := os.Rename(p, dst); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// pendingRuns are the runs with outputs not yet published.
func pendingRuns(ctx context.Context, conn *sql.Conn) (map[int]bool, error) {
	files, err := Pending(ctx, conn)
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, f := range files {
		out[f.runSeq] = true
	}
	return out, nil
}

// current is a row of the output index.
type current struct {
	File
	runSeq    int
	published bool
	final     bool
}

// index reads the output index by key.
func index(ctx context.Context, conn *sql.Conn) (map[string]current, error) {
	rows, err := warehouse.Query(ctx, conn, "outputs_current.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]current{}
	for rows.Next() {
		var c current
		if err := rows.Scan(&c.Key, &c.SHA256, &c.Bytes, &c.runSeq, &c.published, &c.final); err != nil {
			return nil, fmt.Errorf("read output index: %w", err)
		}
		out[c.Key] = c
	}
	return out, rows.Err()
}

// ErrFinalChanged is returned when a run rendered other bytes for an output that is final.
var ErrFinalChanged = errors.New("a final output would change")

// Collect lists what the run rendered, drops the files whose bytes the index already has,
// and records the others as this run's, not yet published. It must run inside the
// transaction of the run's results. It returns the files to publish, by key.
func (o *Outbox) Collect(ctx context.Context, conn *sql.Conn) ([]File, error) {
	idx, err := index(ctx, conn)
	if err != nil {
		return nil, err
	}
	var out []File
	type rec struct {
		File
		final bool
	}
	var recs []rec
	var nowFinal []string
	var paths []string
	err = filepath.WalkDir(o.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("collect outputs: %w", err)
	}
	if paths, err = o.divert(paths); err != nil {
		return nil, fmt.Errorf("collect outputs: %w", err)
	}
	rendered := map[string]bool{}
	for _, p := range paths {
		if rel, err := filepath.Rel(o.Dir(), p); err == nil {
			rendered[filepath.ToSlash(rel)] = true
		}
	}
	var mu sync.Mutex
	err = parallel(paths, func(p string) error {
		rel, err := filepath.Rel(o.Dir(), p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		sum, n, err := fileSum(p)
		if err != nil {
			return err
		}
		prev, known := idx[key]
		if known && prev.runSeq == o.runSeq && !prev.published {
			if prev.SHA256 == sum && prev.Bytes == n {
				return nil // collected already by this run (an earlier Collect of the same outbox)
			}
			// rendered again by this run since it was collected (the notification outbox,
			// after delivery): the new bytes are recorded below, as a change would be
		}
		if known && prev.SHA256 == sum && prev.Bytes == n {
			if !prev.final && o.final[key] {
				mu.Lock()
				nowFinal = append(nowFinal, key) // the same bytes, now final: they may not change any more
				mu.Unlock()
			}
			return os.Remove(p) // unchanged: nothing to publish
		}
		if known && prev.final {
			return fmt.Errorf("%w: %s", ErrFinalChanged, key)
		}
		mu.Lock()
		recs = append(recs, rec{File{Key: key, SHA256: sum, Bytes: n}, o.final[key]})
		out = append(out, File{Key: key, SHA256: sum, Bytes: n})
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collect outputs: %w", err)
	}
	// removals: an output the index holds (and that is not final) that this run did not render
	var removed []string
	for key := range o.removed {
		prev, known := idx[key]
		if !known || prev.final || prev.SHA256 == "" {
			continue
		}
		if rendered[key] {
			continue
		}
		removed = append(removed, key)
	}
	sort.Strings(removed)
	for _, key := range removed {
		recs = append(recs, rec{File: File{Key: key}})
		out = append(out, File{Key: key})
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key < recs[j].Key })
	sort.Strings(nowFinal)
	// one statement for the lot: the index holds tens of thousands of outputs
	if err := warehouse.Exec(ctx, conn, "outputs_stage.sql"); err != nil {
		return nil, err
	}
	err = warehouse.Append(ctx, conn, "outputs_new", func(add func(...driver.Value) error) error {
		for _, r := range recs {
			if err := add(r.Key, r.SHA256, r.Bytes, int32(o.runSeq), false, r.final); err != nil {
				return err
			}
		}
		for _, k := range nowFinal {
			if err := add(k, "", int64(-1), int32(0), true, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := warehouse.Exec(ctx, conn, "outputs_record.sql"); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// pendingFile is an output committed but not yet in the store.
type pendingFile struct {
	File
	runSeq int
}

// Pending lists the outputs committed but not yet published.
func Pending(ctx context.Context, conn *sql.Conn) ([]pendingFile, error) {
	rows, err := warehouse.Query(ctx, conn, "outputs_pending.sql")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pendingFile
	for rows.Next() {
		var f pendingFile
		if err := rows.Scan(&f.Key, &f.SHA256, &f.Bytes, &f.runSeq); err != nil {
			return nil, fmt.Errorf("read pending outputs: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Publisher copies outputs from outboxes to the store.
type Publisher struct {
	Store objstore.Store
	Log   *slog.Logger
	Conn  *sql.Conn
	Root  string // the outbox root
}

// ErrOutboxLost is returned when an output was committed but its outbox file is gone.
var ErrOutboxLost = errors.New("an output to publish is missing from the outbox")

// Upload publishes every committed output not yet in the store, oldest run first, and marks
// each one published. It returns what it published.
func (p *Publisher) Upload(ctx context.Context) (done []File, err error) {
	files, err := Pending(ctx, p.Conn)
	if err != nil {
		return nil, err
	}
	var marked []pendingFile
	mark := func() error {
		if len(marked) == 0 {
			return nil
		}
		if err := warehouse.Exec(ctx, p.Conn, "outputs_stage.sql"); err != nil {
			return err
		}
		err := warehouse.Append(ctx, p.Conn, "outputs_new", func(add func(...driver.Value) error) error {
			for _, f := range marked {
				if err := add(f.Key, f.SHA256, f.Bytes, int32(f.runSeq), true, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		marked = marked[:0]
		return warehouse.Exec(ctx, p.Conn, "outputs_published.sql")
	}
	// outputs uploaded but not yet marked are uploaded again by the next run: harmless
	defer func() {
		if merr := mark(); merr != nil && err == nil {
			err = merr
		}
	}()
	// removals (sha256 ""): deleted from the store, then from the index (on marking)
	var dels []pendingFile
	for i := 0; i < len(files); {
		if files[i].SHA256 == "" {
			dels = append(dels, files[i])
			files = append(files[:i], files[i+1:]...)
			continue
		}
		i++
	}
	if len(dels) > 0 {
		d, ok := p.Store.(objstore.Deleter)
		if !ok {
			return nil, fmt.Errorf("remove %s: the store %s cannot delete", dels[0].Key, p.Store)
		}
		for _, f := range dels {
			if err := d.Delete(ctx, f.Key); err != nil {
				return done, fmt.Errorf("remove %s: %w", f.Key, err)
			}
			marked = append(marked, f)
			done = append(done, f.File)
		}
		if err := mark(); err != nil {
			return done, err
		}
	}
	// chunks of files go up on a pool; the connection marks each chunk published
	for len(files) > 0 {
		chunk := files[:min(len(files), 1000)]
		files = files[len(chunk):]
		var okMu sync.Mutex
		var ok []pendingFile
		err := parallel(chunk, func(f pendingFile) error {
			path := filepath.Join(p.Root, strconv.Itoa(f.runSeq), filepath.FromSlash(f.Key))
			sum, n, err := fileSum(path)
			if errors.Is(err, fs.ErrNotExist) {
				// moved into place by a run that died before marking it: the store says
				same, serr := p.holds(ctx, f.File)
				if serr != nil {
					return serr
				}
				if !same {
					return fmt.Errorf("%w: %s of run %d (%s)", ErrOutboxLost, f.Key, f.runSeq, path)
				}
			} else {
				if err != nil {
					return fmt.Errorf("publish %s: %w", f.Key, err)
				}
				if sum != f.SHA256 || n != f.Bytes {
					return fmt.Errorf("publish %s: the outbox file does not hold the recorded bytes", f.Key)
				}
				if err := p.put(ctx, path, f.Key, n); err != nil {
					return err
				}
				_ = os.Remove(path)
			}
			okMu.Lock()
			ok = append(ok, f)
			okMu.Unlock()
			return nil
		})
		// the files that made it are marked, whatever happened to the others
		marked = append(marked, ok...)
		if merr := mark(); merr != nil && err == nil {
			err = merr
		}
		if err != nil {
			return done, err
		}
		for _, f := range ok {
			done = append(done, f.File)
		}
	}
	return done, nil
}

// holds reports whether the store already holds exactly the file's bytes.
func (p *Publisher) holds(ctx context.Context, f File) (bool, error) {
	if st, ok := p.Store.(objstore.Statter); ok {
		info, err := st.Stat(ctx, f.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("compare %s: %w", f.Key, err)
		}
		if info.SHA256 != "" {
			return info.SHA256 == f.SHA256 && info.Size == f.Bytes, nil
		}
	}
	rc, err := p.Store.Get(ctx, f.Key)
	if errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("compare %s: %w", f.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return false, fmt.Errorf("compare %s: %w", f.Key, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == f.SHA256 && n == f.Bytes, nil
}

// Index writes the output index (every current output with its checksum) to the store
// when it changed, and returns its entry.
func (p *Publisher) Index(ctx context.Context, runIDs map[int]string) (File, error) {
	idx, err := index(ctx, p.Conn)
	if err != nil {
		return File{}, err
	}
	keys := make([]string, 0, len(idx))
	for k, c := range idx {
		if c.SHA256 != "" { // a removal not done yet is no current output
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"key", "sha256", "bytes", "run_id"})
	for _, k := range keys {
		c := idx[k]
		_ = w.Write([]string{c.Key, c.SHA256, strconv.FormatInt(c.Bytes, 10), runIDs[c.runSeq]})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return File{}, fmt.Errorf("write output index: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	f := File{Key: IndexKey, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(buf.Len())}
	var prev string
	if err := warehouse.QueryRow(ctx, p.Conn, "outputs_index_sum.sql", &prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return f, err
	}
	if prev == f.SHA256 {
		return f, nil
	}
	if err := p.PutBytes(ctx, IndexKey, buf.Bytes()); err != nil {
		return f, err
	}
	return f, warehouse.Exec(ctx, p.Conn, "outputs_index_record.sql", f.SHA256)
}

// PutBytes writes one object from memory (the index, the run manifest).
func (p *Publisher) PutBytes(ctx context.Context, key string, data []byte) error {
	if err := p.Store.Put(ctx, key, bytes.NewReader(data), int64(len(data)), objstore.ContentType(key)); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return nil
}

func (p *Publisher) put(ctx context.Context, path, key string, size int64) error {
	if fp, ok := p.Store.(objstore.FilePutter); ok {
		return fp.PutFile(ctx, key, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	defer f.Close()
	if err := p.Store.Put(ctx, key, f, size, objstore.ContentType(key)); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	return nil
}

func fileSum(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ArrangeParts moves the files DuckDB wrote partitioned under dir/_parts/{part}/k=v/...
// to their output keys: dest gets the partition values by name.
func ArrangeParts(dir, part string, dest func(vals map[string]string) string) error {
	root := filepath.Join(dir, "_parts", part)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		vals := map[string]string{}
		for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
			k, v, ok := strings.Cut(seg, "=")
			if !ok {
				return fmt.Errorf("unexpected partition directory %s", rel)
			}
			vals[k] = v
		}
		dst := filepath.Join(dir, filepath.FromSlash(dest(vals)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		return os.Rename(p, dst)
	})
	if err != nil {
		return fmt.Errorf("arrange %s outputs: %w", part, err)
	}
	return os.RemoveAll(root)
}
