// Package pull finds the source objects a run has not read yet and opens them as streams of
// plain text (gzip undone on the fly), with their checksum and size limits. Nothing is
// staged on disk except Parquet and user-directory objects, which DuckDB reads from files.
package pull

import (
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

// Gzipped reports whether the object is gzip-compressed (by name).
func Gzipped(key string) bool { return strings.HasSuffix(strings.ToLower(key), ".gz") }

// DisplayKey is the key as the warehouse and reports show it: itself when it is valid
// UTF-8 (S3 keys always are), else with every invalid byte written \xNN, so that a local
// file with such a name is read like any other.
func DisplayKey(key string) string {
	if utf8.ValidString(key) {
		return key
	}
	var b strings.Builder
	for i := 0; i < len(key); {
		r, n := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[key[i]>>4])
			b.WriteByte("0123456789abcdef"[key[i]&15])
		} else {
			b.WriteString(key[i : i+n])
		}
		i += n
	}
	return b.String()
}

// Todo is an object to read, under the key the warehouse knows it by.
type Todo struct {
	objstore.Object
	Display string // DisplayKey(Key)
	Format  string
}

// Plan returns the objects of the listing whose (key, ETag) is not in known (display key
// -> ETag), in key order, at most max of them (0: no bound); deferred counts the rest,
// left for the next run. Two keys that show the same (an invalid byte and its \xNN
// spelling) cannot both be tracked: the one that is not valid UTF-8 is skipped and counted
// in collisions.
func Plan(listing []objstore.Object, known map[string]string, max int) (todo []Todo, deferred, collisions int) {
	seen := map[string]bool{}
	for _, o := range listing {
		if utf8.ValidString(o.Key) {
			seen[o.Key] = true
		}
	}
	for _, o := range listing {
		d := DisplayKey(o.Key)
		if d != o.Key {
			if seen[d] {
				collisions++
				continue
			}
			seen[d] = true // a second name that shows the same is a collision too
		}
		if etag, ok := known[d]; ok && etag == o.ETag {
			continue
		}
		if max > 0 && len(todo) >= max {
			deferred++
			continue
		}
		todo = append(todo, Todo{Object: o, Display: d, Format: FormatOf(o.Key)})
	}
	return todo, deferred, collisions
}
