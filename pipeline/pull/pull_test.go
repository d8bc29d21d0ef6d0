package pull_test

import (
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/pipeline/pull"
)

// TestDisplayKey: a valid UTF-8 key shows as itself, byte for byte; every byte that is not
// part of valid UTF-8 shows as \xNN (lower-case hex), and the result is valid UTF-8.
func TestDisplayKey(t *testing.T) {
	cases := []struct{ key, want string }{
		{"", ""},
		{"raw/2026/01/events.jsonl.gz", "raw/2026/01/events.jsonl.gz"},
		{"raw/é✓😀/秒.csv", "raw/é✓😀/秒.csv"},
		{`raw/\xff literally.jsonl`, `raw/\xff literally.jsonl`}, // valid: a backslash, x, f, f
		{"raw/\uFFFD.jsonl", "raw/\uFFFD.jsonl"},                 // the replacement character itself is valid
		{"raw/a\xffb.jsonl", `raw/a\xffb.jsonl`},
		{"\x80", `\x80`},
		{"a\xc3", `a\xc3`},                       // a rune cut short at the end
		{"\xc3\x28", `\xc3(`},                    // a lead byte without its continuation
		{"\xe2\x82", `\xe2\x82`},                 // two bytes of a three-byte rune
		{"\xed\xa0\x80.csv", `\xed\xa0\x80.csv`}, // an encoded surrogate is not UTF-8
		{"\xf4\x90\x80\x80", `\xf4\x90\x80\x80`}, // past U+10FFFF
		{"é\xffé\xfe", `é\xffé\xfe`},
		{"\x00nul", "\x00nul"}, // NUL is valid UTF-8: kept
	}
	for _, c := range cases {
		got := pull.DisplayKey(c.key)
		if got != c.want {
			t.Errorf("DisplayKey(%q) = %q, want %q", c.key, got, c.want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("DisplayKey(%q) = %q is not valid UTF-8", c.key, got)
		}
		if utf8.ValidString(c.key) && got != c.key {
			t.Errorf("DisplayKey(%q) changed a valid key", c.key)
		}
	}
}

// TestFormatOf: formats by name (FORMATS.md "Raw events"), gzip on the text formats only.
func TestFormatOf(t *testing.T) {
	cases := map[string]string{
		"a.jsonl": pull.FormatJSON, "a.ndjson.gz": pull.FormatJSON, "x/a.JSON": pull.FormatJSON,
		"a.csv": pull.FormatCSV, "a.CSV.GZ": pull.FormatCSV,
		"a.parquet": pull.FormatParquet, "a.parquet.gz": pull.FormatSkipped,
		"users/u.csv": pull.FormatUsers, "users/u.csv.gz": pull.FormatUsers, "x/users/u.csv": pull.FormatCSV,
		"a.txt": pull.FormatSkipped, "a.gz": pull.FormatSkipped, "jsonl": pull.FormatSkipped,
	}
	for key, want := range cases {
		if got := pull.FormatOf(key); got != want {
			t.Errorf("FormatOf(%q) = %q, want %q", key, got, want)
		}
	}
}

// planned is what a test looks at in a Todo.
type planned struct{ Key, Display, Format string }

func plannedOf(todo []pull.Todo) []planned {
	out := []planned{}
	for _, t := range todo {
		out = append(out, planned{t.Key, t.Display, t.Format})
	}
	return out
}

// TestPlan: objects whose (display key, ETag) is known are skipped, a changed ETag is read
// again, the listing's key order is kept, at most max objects are planned and the rest are
// deferred, and a key that is not valid UTF-8 but shows like a valid key of the listing is
// skipped as a collision.
func TestPlan(t *testing.T) {
	obj := func(key, etag string) objstore.Object { return objstore.Object{Key: key, ETag: etag, Size: 10} }
	cases := []struct {
		name       string
		listing    []objstore.Object
		known      map[string]string
		max        int
		want       []planned
		deferred   int
		collisions int
	}{
		{
			// Given nothing read before, then every object in listing order, with its format.
			name:    "all new",
			listing: []objstore.Object{obj("a.jsonl", "1"), obj("b/c.csv.gz", "1"), obj("b/d.parquet", "1"), obj("e.txt", "1")},
			want: []planned{{"a.jsonl", "a.jsonl", "json"}, {"b/c.csv.gz", "b/c.csv.gz", "csv"},
				{"b/d.parquet", "b/d.parquet", "parquet"}, {"e.txt", "e.txt", "skipped"}},
		},
		{
			// Given a known key with its ETag and another with a changed one, then only the
			// changed and the new ones.
			name:    "known ETags skipped, changed ETag read again",
			listing: []objstore.Object{obj("a.jsonl", "1"), obj("b.jsonl", "2"), obj("c.jsonl", "1")},
			known:   map[string]string{"a.jsonl": "1", "b.jsonl": "1", "gone.jsonl": "1"},
			want:    []planned{{"b.jsonl", "b.jsonl", "json"}, {"c.jsonl", "c.jsonl", "json"}},
		},
		{
			// Given max 2 and four new objects after a known one, then the first two new ones
			// by key; the known one does not use up the bound and is not deferred.
			name:     "max_objects_per_run defers the rest",
			listing:  []objstore.Object{obj("a", "1"), obj("b", "1"), obj("c", "1"), obj("d", "1"), obj("e", "1")},
			known:    map[string]string{"a": "1"},
			max:      2,
			want:     []planned{{"b", "b", "skipped"}, {"c", "c", "skipped"}},
			deferred: 2,
		},
		{
			// Given max 0, then no bound.
			name:    "max 0 is no bound",
			listing: []objstore.Object{obj("a", "1"), obj("b", "1"), obj("c", "1")},
			want:    []planned{{"a", "a", "skipped"}, {"b", "b", "skipped"}, {"c", "c", "skipped"}},
		},
		{
			// Given a non-UTF-8 key alone, then it is planned under its \xNN display form, and
			// read by its real key.
			name:    "non-UTF-8 key shown escaped",
			listing: []objstore.Object{obj("a\xff.jsonl", "1")},
			want:    []planned{{"a\xff.jsonl", `a\xff.jsonl`, "json"}},
		},
		{
			// Given a non-UTF-8 key whose display form is a valid key of the listing, then the
			// valid one is planned and the other skipped as a collision (whichever comes first
			// in the listing).
			name:       "collision with a valid key",
			listing:    []objstore.Object{obj(`a\xff.jsonl`, "1"), obj("a\xff.jsonl", "2"), obj("b\xfe.jsonl", "1"), obj(`b\xfe.jsonl`, "1")},
			want:       []planned{{`a\xff.jsonl`, `a\xff.jsonl`, "json"}, {`b\xfe.jsonl`, `b\xfe.jsonl`, "json"}},
			collisions: 2,
		},
		{
			// Given the colliding valid key already known, then the non-UTF-8 key is still a
			// collision (not a new version of the valid key).
			name:       "collision with a known valid key",
			listing:    []objstore.Object{obj(`a\xff.jsonl`, "1"), obj("a\xff.jsonl", "2")},
			known:      map[string]string{`a\xff.jsonl`: "1"},
			want:       []planned{},
			collisions: 1,
		},
		{
			// Given a collision and max 1, then the collision is counted as a collision, not
			// deferred.
			name:       "collisions are not deferred",
			listing:    []objstore.Object{obj(`a\xff`, "1"), obj("a\xff", "1"), obj("b", "1")},
			max:        1,
			want:       []planned{{`a\xff`, `a\xff`, "skipped"}},
			deferred:   1,
			collisions: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			known := c.known
			if known == nil {
				known = map[string]string{}
			}
			todo, deferred, collisions := pull.Plan(c.listing, known, c.max)
			if got := plannedOf(todo); !reflect.DeepEqual(got, c.want) {
				t.Errorf("planned %q, want %q", got, c.want)
			}
			if deferred != c.deferred || collisions != c.collisions {
				t.Errorf("deferred %d, collisions %d; want %d, %d", deferred, collisions, c.deferred, c.collisions)
			}
			for i, td := range todo {
				var src objstore.Object
				for _, o := range c.listing {
					if o.Key == td.Key {
						src = o
					}
				}
				if td.Object != src {
					t.Errorf("todo %d: object %+v, want the listing's %+v", i, td.Object, src)
				}
			}
		})
	}
}

// TestPlanTwoNonUTF8KeysOneDisplay: two keys that are both not valid UTF-8 can show alike
// ("\xff" followed by the four characters `\xff`, and the other way round, both show as
// `\xff\xff`). They cannot both be tracked under one display key, so only the first is
// planned and the second is a collision; planning both records two current versions of one
// key, and every later run re-reads one of them as a "changed" version of the other.
//
// BUG: Plan only checks a display form against the valid keys of the listing. Fix: mark
// each display form as taken as Plan goes (valid keys first, as now), and skip a non-UTF-8
// key whose display form is already taken:
//
//	d := DisplayKey(o.Key)
//	if d != o.Key {
//		if seen[d] { collisions++; continue }
//		seen[d] = true
//	}
func TestPlanTwoNonUTF8KeysOneDisplay(t *testing.T) {
	k1, k2 := "\xff"+`\xff`+".jsonl", `\xff`+"\xff"+".jsonl"
	if pull.DisplayKey(k1) != pull.DisplayKey(k2) {
		t.Fatalf("the example is wrong: %q and %q show differently", pull.DisplayKey(k1), pull.DisplayKey(k2))
	}
	listing := []objstore.Object{{Key: k1, ETag: "1"}, {Key: k2, ETag: "2"}}
	todo, _, collisions := pull.Plan(listing, map[string]string{}, 0)
	if len(todo) != 1 || collisions != 1 {
		t.Errorf("planned %q with %d collision(s); want only %q planned and 1 collision (both show as %q)",
			plannedOf(todo), collisions, k1, pull.DisplayKey(k1))
	}
}
