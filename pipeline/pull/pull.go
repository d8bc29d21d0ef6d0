// Package pull finds the source objects a run has not read yet and fetches them into a
// local staging directory as plain UTF-8 text (gzip undone), ready for loading.
package pull

import (
	"bytes"
	"compress/gzip"
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
	"unicode/utf8"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
)

// Formats of source objects.
const (
	FormatJSON    = "json"
	FormatCSV     = "csv"
	FormatParquet = "parquet"
	FormatUsers   = "users"   // a user directory under users/
	FormatSkipped = "skipped" // a name that is not an event object
)

// FormatOf tells the format of a key from its name (FORMATS.md, "Raw events").
func FormatOf(key string) string {
	name := strings.ToLower(key)
	gz := strings.HasSuffix(name, ".gz")
	name = strings.TrimSuffix(name, ".gz")
	switch {
	case strings.HasPrefix(key, "users/") && strings.HasSuffix(name, ".csv"):
		return FormatUsers
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return FormatJSON
	case strings.HasSuffix(name, ".csv"):
		return FormatCSV
	case strings.HasSuffix(name, ".parquet") && !gz:
		return FormatParquet
	}
	return FormatSkipped
}

// Plan returns the objects of the listing whose (key, ETag) is not in known, in key order.
func Plan(listing []objstore.Object, known map[string]string) []objstore.Object {
	var todo []objstore.Object
	for _, o := range listing {
		if etag, ok := known[o.Key]; ok && etag == o.ETag {
			continue
		}
		todo = append(todo, o)
	}
	return todo
}

// Fetched is an object ready for loading.
type Fetched struct {
	objstore.Object
	Format string
	Path   string // local file with the content, decompressed; "" for skipped objects
	SHA256 string // of the object's bytes as stored
	// Repaired is true when invalid UTF-8 was replaced so that the text could be split into
	// lines; the lines concerned are then malformed in their own right or carry U+FFFD.
	Repaired bool
}

// Fetcher copies objects from a store into a staging directory.
type Fetcher struct {
	Store    objstore.Store
	StageDir string
	Log      *slog.Logger
}

// Fetch reads one object. A local, uncompressed, valid object is used in place.
func (f *Fetcher) Fetch(ctx context.Context, o objstore.Object, seq int) (Fetched, error) {
	out := Fetched{Object: o, Format: FormatOf(o.Key)}
	if out.Format == FormatSkipped {
		return out, nil
	}
	rc, err := f.Store.Get(ctx, o.Key)
	if err != nil {
		return out, fmt.Errorf("fetch %s: %w", o.Key, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return out, fmt.Errorf("read object %s: %w", o.Key, err)
	}
	sum := sha256.Sum256(raw)
	out.SHA256 = hex.EncodeToString(sum[:])
	content := raw
	if strings.HasSuffix(strings.ToLower(o.Key), ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return out, fmt.Errorf("gunzip object %s: %w", o.Key, err)
		}
		content, err = io.ReadAll(zr)
		if err != nil {
			return out, fmt.Errorf("gunzip object %s: %w", o.Key, err)
		}
	}
	if out.Format != FormatParquet && !utf8.Valid(content) {
		content = bytes.ToValidUTF8(content, []byte("\uFFFD"))
		out.Repaired = true
	}
	// DuckDB's readers expand glob characters in file names, so such files are copied
	if l, ok := f.Store.(*objstore.Local); ok && len(content) == len(raw) && !out.Repaired &&
		!strings.ContainsAny(l.Path(o.Key), "*?[]{}") {
		out.Path = l.Path(o.Key)
		return out, nil
	}
	ext := filepath.Ext(strings.TrimSuffix(strings.ToLower(o.Key), ".gz"))
	out.Path = filepath.Join(f.StageDir, strconv.Itoa(seq)+ext)
	if err := os.WriteFile(out.Path, content, 0o644); err != nil {
		return out, fmt.Errorf("stage object %s: %w", o.Key, err)
	}
	return out, nil
}
