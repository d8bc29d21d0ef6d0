package objstore

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestS3PutSetsNoACL: uploads carry no ACL or grant header, so objects stay private to the
// bucket owner (restricted/ outputs hold personal data; FORMATS.md). versitygw does not
// implement object ACLs, so the requests themselves are looked at.
func TestS3PutSetsNoACL(t *testing.T) {
	var mu sync.Mutex
	var puts []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPut {
			mu.Lock()
			puts = append(puts, r.Header.Clone())
			mu.Unlock()
		}
		w.Header().Set("ETag", `"e1"`)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ctx := context.Background()
	st, err := NewS3(ctx, "s3://bkt/out", S3Config{Region: "us-east-1", Endpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", ""), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"restricted/usage/acme/2026-01-01_ai_credits_usage.csv", "restricted/quarantine/r.jsonl", "ledger/period_usage.csv"} {
		if err := st.Put(ctx, k, strings.NewReader("x"), 1, ContentType(k)); err != nil {
			t.Fatal(err)
		}
	}
	if len(puts) != 3 {
		t.Fatalf("%d PUT requests, want 3", len(puts))
	}
	for _, h := range puts {
		for name := range h {
			if l := strings.ToLower(name); l == "x-amz-acl" || strings.HasPrefix(l, "x-amz-grant-") {
				t.Errorf("upload sets %s: %v", name, h[name])
			}
		}
	}
}
