package pull

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

func TestUTF8CheckAcrossWrites(t *testing.T) {
	text := []byte("héllo wörld — ünïcödé 漢字 🙂 end")
	for split := 0; split <= len(text); split++ {
		var sink bytes.Buffer
		c := &utf8Check{w: &sink}
		_, _ = c.Write(text[:split])
		_, _ = c.Write(text[split:])
		if !c.valid() || !bytes.Equal(sink.Bytes(), text) {
			t.Fatalf("split %d: valid text reported invalid", split)
		}
	}
	bad := append(append([]byte("ok "), 0xff, 0xfe), " more"...)
	for split := 0; split <= len(bad); split++ {
		c := &utf8Check{w: io.Discard}
		_, _ = c.Write(bad[:split])
		_, _ = c.Write(bad[split:])
		if c.valid() {
			t.Fatalf("split %d: invalid text reported valid", split)
		}
	}
	c := &utf8Check{w: io.Discard}
	_, _ = c.Write([]byte("cut \xe6\xbc")) // a rune cut off at the end
	if c.valid() {
		t.Fatal("truncated rune reported valid")
	}
}

// slowStore delays each Get by a random amount, so downloads finish out of order.
type slowStore struct {
	objstore.Store
	inflight, peak atomic.Int32
	failKey        string
}

func (s *slowStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	if key == s.failKey {
		return nil, errors.New("boom")
	}
	rc, err := s.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	return io.NopCloser(bytes.NewReader(b)), err
}

func writeObjects(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		line := fmt.Sprintf("{\"event_id\":\"e%d\"}\n", i)
		p := filepath.Join(dir, fmt.Sprintf("%03d.jsonl", i))
		if i%3 == 0 {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write([]byte(line))
			_ = zw.Close()
			p += ".gz"
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFetchAllKeepsOrderAndBound(t *testing.T) {
	dir := t.TempDir()
	writeObjects(t, dir, 120)
	local, _ := objstore.NewLocal(dir)
	st := &slowStore{Store: local}
	objs, err := local.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Store: st, StageDir: t.TempDir(), Concurrency: 5}
	var got []string
	err = f.FetchAll(context.Background(), objs, func(fe Fetched) error {
		got = append(got, fe.Key)
		b, err := os.ReadFile(fe.Path)
		if err != nil {
			return err
		}
		i := strings.TrimSuffix(strings.TrimSuffix(fe.Key, ".gz"), ".jsonl")
		if want := fmt.Sprintf("{\"event_id\":\"e%d\"}\n", atoi(i)); string(b) != want {
			return fmt.Errorf("%s: staged %q", fe.Key, b)
		}
		if fe.SHA256 == "" {
			return fmt.Errorf("%s: no checksum", fe.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(objs) {
		t.Fatalf("yielded %d of %d", len(got), len(objs))
	}
	for i := range objs {
		if got[i] != objs[i].Key {
			t.Fatalf("order: %d is %s, want %s", i, got[i], objs[i].Key)
		}
	}
	if p := st.peak.Load(); p > 5 || p < 2 {
		t.Errorf("peak concurrency %d, want 2..5", p)
	}
}

func TestFetchAllStopsAtFailure(t *testing.T) {
	dir := t.TempDir()
	writeObjects(t, dir, 60)
	local, _ := objstore.NewLocal(dir)
	objs, _ := local.List(context.Background())
	st := &slowStore{Store: local, failKey: objs[30].Key}
	f := &Fetcher{Store: st, StageDir: t.TempDir(), Concurrency: 4}
	yielded := 0
	err := f.FetchAll(context.Background(), objs, func(Fetched) error { yielded++; return nil })
	if err == nil || !strings.Contains(err.Error(), objs[30].Key) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("error %v", err)
	}
	if yielded > 30 {
		t.Errorf("%d objects yielded past the failed one", yielded)
	}
	if n := st.inflight.Load(); n != 0 {
		t.Errorf("%d downloads still running after FetchAll returned", n)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
