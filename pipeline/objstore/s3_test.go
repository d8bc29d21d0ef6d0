package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/creditmeter/creditmeter/internal/s3test"
	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

var srv *s3test.Server

func TestMain(m *testing.M) {
	var err error
	srv, err = s3test.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start the S3 test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

func newBucket(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := srv.Bucket(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func TestParseS3(t *testing.T) {
	for _, c := range []struct{ in, bucket, prefix string }{
		{"s3://b", "b", ""}, {"s3://b/", "b", ""}, {"s3://b/raw", "b", "raw/"}, {"s3://b/raw/x/", "b", "raw/x/"},
	} {
		b, p, err := objstore.ParseS3(c.in)
		if err != nil || b != c.bucket || p != c.prefix {
			t.Errorf("%s: %q %q %v", c.in, b, p, err)
		}
	}
	if _, _, err := objstore.ParseS3("s3:///x"); err == nil {
		t.Error("no bucket accepted")
	}
}

func TestS3PutGetListStat(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "basic")
	st, err := srv.Store(ctx, "s3://basic/some/prefix")
	if err != nil {
		t.Fatal(err)
	}
	if st.String() != "s3://basic/some/prefix/" {
		t.Errorf("String() = %q", st.String())
	}
	if _, err := st.Get(ctx, "missing.csv"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	if _, err := st.Stat(ctx, "missing.csv"); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat missing: %v", err)
	}
	for _, k := range []string{"b/2.csv", "a.json", "b/1.csv"} {
		body := []byte("content of " + k)
		if err := st.Put(ctx, k, bytes.NewReader(body), int64(len(body)), objstore.ContentType(k)); err != nil {
			t.Fatal(err)
		}
	}
	// an object beside the prefix is not listed
	other, _ := srv.Store(ctx, "s3://basic/some/prefix-other")
	_ = other.Put(ctx, "x.csv", strings.NewReader("x"), 1, "text/csv")
	list, err := st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list {
		keys = append(keys, o.Key)
		if o.ETag == "" || strings.Contains(o.ETag, `"`) || o.Size == 0 {
			t.Errorf("listing %+v", o)
		}
	}
	if strings.Join(keys, ",") != "a.json,b/1.csv,b/2.csv" {
		t.Errorf("keys %v", keys)
	}
	rc, err := st.Get(ctx, "b/1.csv")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "content of b/1.csv" {
		t.Errorf("Get = %q", b)
	}
	info, err := st.Stat(ctx, "b/1.csv")
	if err != nil {
		t.Fatal(err)
	}
	if info.ContentType != "text/csv" || len(info.SHA256) != 64 || info.Size != int64(len(b)) {
		t.Errorf("Stat = %+v", info)
	}
}

func TestS3MultipartPut(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "multipart")
	c := srv.Config()
	c.PartSize = 5 << 20
	st, err := objstore.NewS3(ctx, "s3://multipart/out", c)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (12<<20)/16) // 12 MiB: three parts
	if err := st.Put(ctx, "ledger/rated_events.parquet", bytes.NewReader(big), int64(len(big)), objstore.ContentType("x.parquet")); err != nil {
		t.Fatal(err)
	}
	info, err := st.Stat(ctx, "ledger/rated_events.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(big)) || !strings.Contains(info.ETag, "-") || info.ContentType != "application/vnd.apache.parquet" {
		t.Errorf("multipart object %+v (want a multipart ETag)", info)
	}
	rc, err := st.Get(ctx, "ledger/rated_events.parquet")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, big) {
		t.Error("multipart object differs")
	}
}

// TestS3ListPagination lists more than 1,000 objects, with the server's default page and a
// small one.
func TestS3ListPagination(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "pages")
	st, err := srv.Store(ctx, "s3://pages/raw")
	if err != nil {
		t.Fatal(err)
	}
	const n = 1234
	putMany(t, ctx, st, n, func(i int) string { return fmt.Sprintf("2026/%02d/obj-%05d.jsonl", i%12+1, i) }, []byte("{}\n"))
	for _, size := range []int32{0, 100} {
		c := srv.Config()
		c.PageSize = size
		st2, _ := objstore.NewS3(ctx, "s3://pages/raw/", c)
		list, err := st2.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != n {
			t.Fatalf("page size %d: listed %d, want %d", size, len(list), n)
		}
		for i := 1; i < len(list); i++ {
			if list[i-1].Key >= list[i].Key {
				t.Fatalf("not sorted at %d: %s >= %s", i, list[i-1].Key, list[i].Key)
			}
		}
	}
}

// putMany uploads n objects with 16 goroutines.
func putMany(t *testing.T, ctx context.Context, st objstore.Store, n int, key func(int) string, body []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := st.Put(ctx, key(i), bytes.NewReader(body), int64(len(body)), "application/x-ndjson"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestS3EndpointFromEnvironment(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "envbucket")
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.URL)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	c := srv.Config()
	c.Endpoint = "" // from the environment; path-style implied by the custom endpoint
	st, err := objstore.NewS3(ctx, "s3://envbucket/p", c)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Client().Options().UsePathStyle {
		t.Error("custom endpoint from the environment did not imply path-style")
	}
	if err := st.Put(ctx, "k.csv", strings.NewReader("a"), 1, "text/csv"); err != nil {
		t.Fatal(err)
	}
	f := false
	c.PathStyle = &f
	st2, _ := objstore.NewS3(ctx, "s3://envbucket/p", c)
	if st2.Client().Options().UsePathStyle {
		t.Error("path_style: false not honoured")
	}
}

func TestS3ErrorsCarryNoSecret(t *testing.T) {
	ctx := context.Background()
	c := srv.Config()
	c.MaxAttempts = 1
	st, _ := objstore.NewS3(ctx, "s3://no-such-bucket-here/x", c)
	_, err := st.List(ctx)
	if err == nil {
		t.Fatal("listing a missing bucket succeeded")
	}
	if strings.Contains(err.Error(), s3test.SecretKey) || strings.Contains(err.Error(), s3test.AccessKey) {
		t.Errorf("error leaks credentials: %v", err)
	}
	if !strings.Contains(err.Error(), "s3://no-such-bucket-here/x/") {
		t.Errorf("error does not name the location: %v", err)
	}
}

func TestS3Lock(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "locks")
	st, _ := srv.Store(ctx, "s3://locks/out")
	testLock(t, ctx, st)
	// the lock object is gone after release
	if _, err := st.Stat(ctx, objstore.LockKey); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("lock left behind: %v", err)
	}
}

func TestLocalLock(t *testing.T) {
	st, err := objstore.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testLock(t, context.Background(), st)
	if _, err := os.Stat(st.Path(objstore.LockKey)); !os.IsNotExist(err) {
		t.Errorf("lock left behind: %v", err)
	}
}

func testLock(t *testing.T, ctx context.Context, st objstore.Store) {
	t.Helper()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	opts := objstore.LockOptions{TTL: time.Minute, Now: clock, RenewEvery: -1}
	a, err := objstore.Lock(ctx, st, "run-a", opts)
	if err != nil {
		t.Fatal(err)
	}
	// held: a second owner is refused, naming the holder
	_, err = objstore.Lock(ctx, st, "run-b", opts)
	if !errors.Is(err, objstore.ErrLockHeld) || !strings.Contains(err.Error(), "run-a") {
		t.Fatalf("second lock: %v", err)
	}
	// contended: of many owners racing for an expired lock exactly one wins
	now = now.Add(2 * time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []*objstore.Lease
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := objstore.Lock(ctx, st, fmt.Sprintf("run-c%d", i), opts)
			if err == nil {
				mu.Lock()
				winners = append(winners, l)
				mu.Unlock()
			} else if !errors.Is(err, objstore.ErrLockHeld) {
				t.Errorf("racer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d owners took over the expired lock, want 1", len(winners))
	}
	// the old owner's release does not remove the new owner's lock
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.Lock(ctx, st, "run-d", opts); !errors.Is(err, objstore.ErrLockHeld) {
		t.Fatalf("lock after stale release: %v", err)
	}
	if err := winners[0].Release(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := objstore.Lock(ctx, st, "run-d", opts)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := d.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestS3LockRenewal(t *testing.T) {
	ctx := context.Background()
	newBucket(t, ctx, "renew")
	st, _ := srv.Store(ctx, "s3://renew/out")
	_ = st.Delete(ctx, objstore.LockKey) // from an earlier -count repetition
	defer st.Delete(ctx, objstore.LockKey)
	l, err := objstore.Lock(ctx, st, "renewer", objstore.LockOptions{TTL: 3 * time.Second, RenewEvery: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := l.Info().Expires
	time.Sleep(1100 * time.Millisecond)
	if !l.Info().Expires.After(first) {
		t.Error("lease not renewed")
	}
	// someone overwrites the lock: the lease notices it is lost
	_, err = st.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("renew"), Key: aws.String("out/" + objstore.LockKey),
		Body: strings.NewReader(`{"owner":"intruder","expires":"2099-01-01T00:00:00Z"}`)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(2 * time.Second):
		t.Fatal("lost lease not noticed")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, objstore.LockKey); err != nil {
		t.Errorf("the intruder's lock was removed: %v", err)
	}
}
