// Package objstore is the one seam between the pipeline and where objects live: a local
// directory or an S3 bucket. Pull reads through it and publish writes through it; neither
// knows which implementation it talks to.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
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

// ErrMissing is returned by List when the store's location itself does not exist: a local
// directory that is missing or is not a directory, a bucket that does not exist. A mistyped
// source is a mistake (exit status 2), never an empty source; an existing directory or
// bucket with nothing under the prefix is empty.
var ErrMissing = errors.New("location does not exist")

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

// FilePutter is implemented by stores that can take a local file as an object cheaper than
// by reading it (a local directory renames it into place); the file is consumed.
type FilePutter interface {
	PutFile(ctx context.Context, key, path string) error
}

// Deleter is implemented by stores that can remove an object (a local directory, S3): an
// output that is no longer current (a draft invoice once the real one is issued) is
// removed through it. A missing key is not an error.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

// Statter is implemented by stores that can describe an object without reading it.
type Statter interface {
	// Stat returns the object's Info; a missing key is ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
}

// Within reports whether location child is location parent or lies under it. Local paths
// are compared after filepath.Abs and Clean, with the symbolic links of their longest
// existing prefix resolved (a child that does not exist yet, or a link into the parent,
// still counts); s3://bucket/prefix locations by bucket and whole path segments ("raw"
// holds "raw/x" but not "raw2"). A local path and an s3:// location never overlap.
func Within(parent, child string) (bool, error) {
	if parent == "" || child == "" {
		return false, errors.New("within: empty location")
	}
	ps3, cs3 := strings.HasPrefix(parent, "s3://"), strings.HasPrefix(child, "s3://")
	for _, loc := range []string{parent, child} {
		if !strings.HasPrefix(loc, "s3://") && strings.Contains(loc, "://") {
			return false, fmt.Errorf("within %s: unsupported scheme", loc)
		}
	}
	switch {
	case ps3 && cs3:
		pb, pp, err := ParseS3(parent)
		if err != nil {
			return false, err
		}
		cb, cp, err := ParseS3(child)
		if err != nil {
			return false, err
		}
		return pb == cb && strings.HasPrefix(cp, pp), nil // prefixes are "" or end in "/"
	case ps3 || cs3:
		return false, nil
	}
	p, err := resolvePath(parent)
	if err != nil {
		return false, err
	}
	c, err := resolvePath(child)
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(p, c)
	if err != nil {
		return false, nil // on different volumes
	}
	return rel == "." || filepath.IsLocal(rel), nil
}

// resolvePath makes p absolute and clean, and resolves the symbolic links of its longest
// existing prefix; the rest, not there yet, is appended as it is.
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	var rest []string
	for cur := abs; ; {
		real, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolve %s: %w", p, err)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

var (
	_ Deleter = (*Local)(nil)
	_ Deleter = (*S3)(nil)
)
