// Package objstore is the one seam between the pipeline and where objects live: a local
// directory or an S3 bucket. Pull reads through it and publish writes through it; neither
// knows which implementation it talks to.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Object describes one stored object.
type Object struct {
	Key  string // path under the store's prefix, with forward slashes
	ETag string // changes whenever the content does
	Size int64
}

// Store lists, reads and writes objects under one prefix.
type Store interface {
	// List returns every object under the prefix, sorted by key (byte order).
	List(ctx context.Context) ([]Object, error)
	// Get opens an object for reading.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put writes an object whole; readers never see it half-written.
	Put(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string) error
	// String names the store for logs (never with credentials).
	String() string
}

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("object not found")

// Open returns the store for a location: a local directory path, or s3://bucket/prefix.
func Open(ctx context.Context, location string, opts Options) (Store, error) {
	if strings.HasPrefix(location, "s3://") {
		if opts.OpenS3 == nil {
			return nil, fmt.Errorf("open store %s: S3 is not configured", location)
		}
		return opts.OpenS3(ctx, location)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("open store %s: unsupported scheme", location)
	}
	return NewLocal(location)
}

// Options carries what opening a store may need.
type Options struct {
	// OpenS3 opens an s3:// location; nil when S3 is not available.
	OpenS3 func(ctx context.Context, location string) (Store, error)
}

// ContentType returns the content type for an output key.
func ContentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".csv"):
		return "text/csv"
	case strings.HasSuffix(key, ".parquet"):
		return "application/vnd.apache.parquet"
	case strings.HasSuffix(key, ".xlsx"):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	case strings.HasSuffix(key, ".jsonl"):
		return "application/x-ndjson"
	case strings.HasSuffix(key, ".duckdb"):
		return "application/octet-stream"
	}
	return "application/octet-stream"
}

// Info describes a stored object in more detail than a listing does.
type Info struct {
	Object
	ContentType string
	// SHA256 is the checksum of the content recorded when it was put; "" when unknown.
	SHA256 string
}

// Statter is implemented by stores that can describe an object without reading it.
type Statter interface {
	// Stat returns the object's Info; a missing key is ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
}
