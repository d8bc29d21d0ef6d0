package pull

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creditmeter/creditmeter/internal/s3test"
)

// BenchmarkPull measures pull throughput from a local versitygw: 1,000 objects of about
// 1 MB of gzip-compressed JSON Lines each, fetched (downloaded, checksummed, decompressed,
// staged) with the default pool against a single stream.
//
//	make bench-pull   (or: go test -run='^$' -bench=BenchmarkPull -benchtime=1x ./pipeline/pull/)
func BenchmarkPull(b *testing.B) {
	const objects = 1000
	srv, err := s3test.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	ctx := context.Background()
	if err := srv.Bucket(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	st, err := srv.Store(ctx, "s3://bench/raw")
	if err != nil {
		b.Fatal(err)
	}
	// a few distinct payloads of ~1 MB gzip, uploaded under 1,000 keys
	payloads := make([][]byte, 8)
	for i := range payloads {
		payloads[i] = gzipEvents(rand.New(rand.NewPCG(uint64(i), 7)), 1<<20)
	}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	errs := make(chan error, objects)
	for i := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := payloads[i%len(payloads)]
			if err := st.Put(ctx, fmt.Sprintf("2026/01/%02d/events-%05d.jsonl.gz", i%28+1, i), bytes.NewReader(p), int64(len(p)), "application/gzip"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	list, err := st.List(ctx)
	if err != nil || len(list) != objects {
		b.Fatalf("listed %d: %v", len(list), err)
	}
	var total int64
	for _, o := range list {
		total += o.Size
	}
	b.Logf("uploaded %d objects, %.0f MB gzip, in %s", objects, float64(total)/1e6, time.Since(start).Round(time.Millisecond))
	for _, n := range []int{1, DefaultConcurrency} {
		b.Run(fmt.Sprintf("pool=%d", n), func(b *testing.B) {
			b.SetBytes(total)
			var elapsed time.Duration
			for range b.N {
				stage := b.TempDir()
				f := &Fetcher{Store: st, StageDir: stage, Concurrency: n}
				t0 := time.Now()
				err := f.FetchAll(ctx, list, func(fe Fetched) error { return os.Remove(fe.Path) })
				elapsed += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
			}
			secs := elapsed.Seconds() / float64(b.N)
			b.ReportMetric(float64(objects)/secs, "objects/s")
			b.ReportMetric(float64(total)/1e6/secs, "MB/s")
		})
	}
	// the transfer alone (GET and discard), for comparison with the full fetch
	for _, n := range []int{1, DefaultConcurrency} {
		b.Run(fmt.Sprintf("download-only/pool=%d", n), func(b *testing.B) {
			b.SetBytes(total)
			var elapsed time.Duration
			for range b.N {
				t0 := time.Now()
				var wg sync.WaitGroup
				sem := make(chan struct{}, n)
				errs := make(chan error, len(list))
				for _, o := range list {
					wg.Add(1)
					sem <- struct{}{}
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						rc, err := st.Get(ctx, o.Key)
						if err == nil {
							_, err = io.Copy(io.Discard, rc)
							rc.Close()
						}
						if err != nil {
							errs <- err
						}
					}()
				}
				wg.Wait()
				elapsed += time.Since(t0)
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			secs := elapsed.Seconds() / float64(b.N)
			b.ReportMetric(float64(objects)/secs, "objects/s")
			b.ReportMetric(float64(total)/1e6/secs, "MB/s")
		})
	}
}

// gzipEvents returns about size bytes of gzip: JSON Lines events with random identifiers.
func gzipEvents(r *rand.Rand, size int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	for i := 0; buf.Len() < size; i++ {
		fmt.Fprintf(zw, `{"event_id":"%016x%016x","occurred_at":"2026-01-%02dT%02d:%02d:%02dZ","tenant_id":"tenant-%04d","user_id":"u-%06d","event_type":"ai_coaching_chat","event_value":%d,"event_unit":"attempt","attributes":{"input_tokens":%d,"output_tokens":%d}}`+"\n",
			r.Uint64(), r.Uint64(), r.IntN(28)+1, r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(20), r.IntN(100000), r.IntN(5)+1, r.IntN(4000), r.IntN(4000))
		if i%256 == 0 {
			_ = zw.Flush()
		}
	}
	_ = zw.Close()
	return buf.Bytes()
}
