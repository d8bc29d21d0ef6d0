package objstore

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestS3GetResumesBrokenBody: a body cut off mid-read is resumed with a ranged GET of the
// same ETag, and the reader sees the whole object once.
func TestS3GetResumesBrokenBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	var gets, ranged atomic.Int32
	etag := `"v1"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/bkt/pre/obj.jsonl") {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		gets.Add(1)
		if rg := r.Header.Get("Range"); rg != "" {
			ranged.Add(1)
			if r.Header.Get("If-Match") != etag {
				w.WriteHeader(http.StatusPreconditionFailed)
				return
			}
			from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			if err != nil || from > len(body) {
				http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)-from))
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write(body[from:])
			return
		}
		// the whole object announced, a third of it sent, then the connection dropped
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/3])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	st, err := NewS3(ctx, "s3://bkt/pre", S3Config{Region: "us-east-1", Endpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", ""), MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, "obj.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes, want %d identical", len(got), len(body))
	}
	if ranged.Load() != 1 {
		t.Errorf("%d ranged GETs, want 1", ranged.Load())
	}

	// the object changed meanwhile: the resume is refused and the read fails, naming it
	etag = `"v2"`
	rc, err = st.Get(ctx, "obj.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	etag = `"v3"`
	_, err = io.ReadAll(rc)
	rc.Close()
	if err == nil || !strings.Contains(err.Error(), "s3://bkt/pre/obj.jsonl") {
		t.Fatalf("read of a changed object: %v", err)
	}
	if strings.Contains(err.Error(), "SECRETTEST") {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// TestS3WithCABundle: AWS_CA_BUNDLE (which makes LoadDefaultConfig refuse a custom HTTP
// client) works, and the tuned transport keeps trusting the bundle.
func TestS3WithCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
	}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	ctx := context.Background()
	st, err := NewS3(ctx, "s3://bkt/pre", S3Config{Region: "us-east-1", Endpoint: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", ""), MaxAttempts: 1})
	if err != nil {
		t.Fatalf("open with AWS_CA_BUNDLE: %v", err)
	}
	if _, err := st.Get(ctx, "missing.csv"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get over TLS with the bundle: %v", err)
	}
}
