package pull

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// DefaultConcurrency is how many objects are fetched at once unless configured.
const DefaultConcurrency = 8

// Fetcher copies objects from a store into a staging directory.
type Fetcher struct {
	Store    objstore.Store
	StageDir string
	Log      *slog.Logger
	// Concurrency bounds the downloads in flight in FetchAll (0: DefaultConcurrency).
	Concurrency int
}

// Fetch reads one object, streaming: the bytes as stored are hashed, gzip is undone on the
// fly and the text checked for UTF-8 on its way to the staging file. A local, uncompressed,
// valid object is used in place.
func (f *Fetcher) Fetch(ctx context.Context, o objstore.Object, seq int) (Fetched, error) {
	out := Fetched{Object: o, Format: FormatOf(o.Key)}
	if out.Format == FormatSkipped {
		return out, nil
	}
	gz := strings.HasSuffix(strings.ToLower(o.Key), ".gz")
	// DuckDB's readers expand glob characters in file names, so such files are copied
	if l, ok := f.Store.(*objstore.Local); ok && !gz && !strings.ContainsAny(l.Path(o.Key), "*?[]{}") {
		valid, sum, err := f.checkInPlace(ctx, o, out.Format != FormatParquet)
		if err != nil {
			return out, err
		}
		if valid {
			out.Path, out.SHA256 = l.Path(o.Key), sum
			return out, nil
		}
	}
	rc, err := f.Store.Get(ctx, o.Key)
	if err != nil {
		return out, fmt.Errorf("fetch %s: %w", o.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	var src io.Reader = io.TeeReader(rc, h)
	if gz {
		zr, err := gzip.NewReader(bufio.NewReaderSize(src, 64<<10))
		if err != nil {
			return out, fmt.Errorf("gunzip object %s: %w", o.Key, err)
		}
		src = zr
	}
	ext := filepath.Ext(strings.TrimSuffix(strings.ToLower(o.Key), ".gz"))
	out.Path = filepath.Join(f.StageDir, strconv.Itoa(seq)+ext)
	valid, err := stage(out.Path, src, out.Format != FormatParquet)
	if err != nil {
		_ = os.Remove(out.Path)
		if ctx.Err() != nil {
			return out, fmt.Errorf("fetch %s: %w", o.Key, context.Cause(ctx))
		}
		return out, fmt.Errorf("fetch %s: %w", o.Key, err)
	}
	// whatever gzip left unread still counts towards the checksum of the stored bytes
	if _, err := io.Copy(h, rc); err != nil {
		return out, fmt.Errorf("fetch %s: %w", o.Key, err)
	}
	out.SHA256 = hex.EncodeToString(h.Sum(nil))
	if !valid {
		if err := repair(out.Path); err != nil {
			return out, fmt.Errorf("stage object %s: %w", o.Key, err)
		}
		out.Repaired = true
	}
	return out, nil
}

// checkInPlace hashes a local object and, for text, checks it is valid UTF-8.
func (f *Fetcher) checkInPlace(ctx context.Context, o objstore.Object, text bool) (bool, string, error) {
	rc, err := f.Store.Get(ctx, o.Key)
	if err != nil {
		return false, "", fmt.Errorf("fetch %s: %w", o.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	var w io.Writer = h
	var v *utf8Check
	if text {
		v = &utf8Check{w: h}
		w = v
	}
	if _, err := io.Copy(w, rc); err != nil {
		return false, "", fmt.Errorf("read object %s: %w", o.Key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return v == nil || v.valid(), sum, nil
}

// stage copies src into path, reporting whether it was valid UTF-8 (when text).
func stage(path string, src io.Reader, text bool) (bool, error) {
	file, err := os.Create(path)
	if err != nil {
		return false, err
	}
	bw := bufio.NewWriterSize(file, 256<<10)
	var w io.Writer = bw
	var v *utf8Check
	if text {
		v = &utf8Check{w: bw}
		w = v
	}
	if _, err := io.Copy(w, src); err != nil {
		_ = file.Close()
		return false, err
	}
	if err := bw.Flush(); err != nil {
		_ = file.Close()
		return false, err
	}
	if err := file.Close(); err != nil {
		return false, err
	}
	return v == nil || v.valid(), nil
}

// repair replaces invalid UTF-8 in a staged file, as a whole, the way the lines would be
// repaired had the object been read in one piece.
func repair(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, bytes.ToValidUTF8(b, []byte("\uFFFD")), 0o644)
}

// utf8Check passes writes through and remembers whether they formed valid UTF-8, with
// runes split across writes handled.
type utf8Check struct {
	w     io.Writer
	carry []byte
	bad   bool
}

// Write checks the bytes for valid UTF-8 across write boundaries.
func (c *utf8Check) Write(p []byte) (int, error) {
	if !c.bad {
		buf := p
		if len(c.carry) > 0 {
			buf = append(append([]byte(nil), c.carry...), p...)
			c.carry = c.carry[:0]
		}
		cut := len(buf)
		// leave an incomplete rune at the end for the next write
		for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
			if utf8.RuneStart(buf[i]) {
				if !utf8.FullRune(buf[i:]) {
					cut = i
				}
				break
			}
		}
		if !utf8.Valid(buf[:cut]) {
			c.bad = true
		} else {
			c.carry = append(c.carry, buf[cut:]...)
		}
	}
	return c.w.Write(p)
}

func (c *utf8Check) valid() bool { return !c.bad && len(c.carry) == 0 }

// FetchAll fetches the objects with at most Concurrency downloads in flight and hands them
// to yield one at a time in the order given, so loading sees key order whatever order the
// downloads finish in. A failed download stops the lot: the others are cancelled and
// waited for, and its error (naming the key) is returned after the objects before it were
// yielded or not, as the downloads finished. An error from yield stops it too.
func (f *Fetcher) FetchAll(ctx context.Context, objs []objstore.Object, yield func(Fetched) error) error {
	n := f.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	if n > len(objs) {
		n = max(len(objs), 1)
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type result struct {
		fe  Fetched
		err error
	}
	results := make([]chan result, len(objs))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// window bounds how far downloads run ahead of loading (staged files on disk)
	window := make(chan struct{}, 4*n)
	next := make(chan int)
	var failOnce sync.Once
	var firstErr error
	failed := make(chan struct{})
	fail := func(err error) {
		failOnce.Do(func() {
			firstErr = err
			close(failed)
			cancel(err)
		})
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fe, err := f.Fetch(ctx, objs[i], i)
				if err != nil && ctx.Err() == nil {
					fail(err)
				}
				results[i] <- result{fe, err}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range objs {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var err error
	for i := range objs {
		var r result
		got := false
		select {
		case r = <-results[i]:
			got = true
		case <-failed:
		}
		if !got {
			err = firstErr
			break
		}
		if r.err != nil {
			fail(r.err)
			err = firstErr
			break
		}
		<-window
		if yerr := yield(r.fe); yerr != nil {
			fail(yerr)
			err = yerr
			break
		}
	}
	cancel(err)
	wg.Wait()
	if err == nil {
		err = parent.Err()
	}
	return err
}
