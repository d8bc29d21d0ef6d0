// Package pull finds the source objects a run has not read yet and fetches them into a
// local staging directory as plain UTF-8 text (gzip undone), ready for loading.
package pull

import (
	"strings"

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
