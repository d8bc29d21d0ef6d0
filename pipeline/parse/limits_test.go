package parse

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// nested is an attributes object nested depth levels deep (the object itself is level 1);
// arrays alternate with objects when withArrays.
func nested(depth int, withArrays bool) string {
	s := `1`
	for d := depth; d > 1; d-- {
		if withArrays && d%2 == 0 {
			s = `[` + s + `]`
		} else {
			s = `{"k":` + s + `}`
		}
	}
	return `{"k":` + s + `}`
}

// keys is an attributes object of n keys, or of n keys spread over nested objects.
func keys(n int, spread bool) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if spread && i%2 == 1 {
			fmt.Fprintf(&b, `"n%d":{}`, i) // a key holding an object: its keys count too
			continue
		}
		fmt.Fprintf(&b, `"k%05d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

func TestAttributeLimits(t *testing.T) {
	tests := []struct {
		name   string
		attrs  string
		lim    Limits
		detail string // "" for a parsed event
	}{
		// Given attributes at the limits, Then they parse; Given one more, Then malformed
		// "attributes" naming the limit.
		{"depth 32", nested(32, false), Limits{}, ""},
		{"depth 33", nested(33, false), Limits{}, "nested deeper than limits.max_depth (32)"},
		{"depth 33 with arrays", nested(33, true), Limits{}, "limits.max_depth (32)"},
		{"depth 32 with arrays", nested(32, true), Limits{}, ""},
		{"configured depth", nested(4, false), Limits{MaxDepth: 3}, "limits.max_depth (3)"},
		{"256 keys", keys(256, false), Limits{}, ""},
		{"257 keys", keys(257, false), Limits{}, "more than limits.max_attributes (256) keys"},
		{"257 keys with nested objects", `{"a":` + keys(200, true) + `,"b":` + keys(56, false) + `}`, Limits{}, "limits.max_attributes (256)"},
		{"configured keys", keys(11, false), Limits{MaxAttributes: 10}, "limits.max_attributes (10)"},
		{"30,000 keys", keys(30000, false), Limits{}, "limits.max_attributes (256)"},
		{"keys inside arrays count", `{"a":[` + strings.Repeat(`{"x":1},`, 300) + `{}]}`, Limits{}, "limits.max_attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rows, _ := parseAll(t, "jsonl", event("attributes", tt.attrs), tt.lim)
			r := rows[0]
			if tt.detail == "" {
				if !r.ok() {
					t.Fatalf("want parsed, got %v", r)
				}
				return
			}
			if r.ok() || *r.Field != "attributes" || !strings.Contains(*r.Detail, tt.detail) {
				t.Errorf("want malformed attributes %q, got %v", tt.detail, r)
			}
			if r.Attributes != nil || r.EventID == nil {
				t.Errorf("attributes filled, or other fields not: %v", r)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestManyKeysSorted(t *testing.T) {
	// Given more keys than the insertion sort handles, Then they are sorted by bytes too.
	var b strings.Builder
	b.WriteByte('{')
	for i := 40; i > 0; i-- {
		if i < 40 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%c%d":%d`, 'a'+i%26, i, i)
	}
	b.WriteByte('}')
	r := parseOne(t, event("attributes", b.String()))
	got, err := CanonicalJSON([]byte(*r.Attributes), Limits{})
	if err != nil || string(got) != *r.Attributes || !strings.HasPrefix(*r.Attributes, `{"a26":26,"b1":1,"b27":27,"c2":2`) {
		t.Errorf("got %s, %v", *r.Attributes, err)
	}
	if _, err := CanonicalJSON([]byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"a":0}`), Limits{}); err == nil {
		t.Error("a key twice among many is not found")
	}
}

func TestLongNames(t *testing.T) {
	// Given a long other name given twice, Then parse_field names it, cut to 64 bytes.
	name := strings.Repeat("é", 40)
	line := strings.TrimSuffix(event(name, `1`), "}") + `,"` + name + `":2}`
	r := parseOne(t, line)
	if r.Field == nil || *r.Field != strings.Repeat("é", 32)+"..." {
		t.Errorf("got %v", r)
	}
}

func TestChunkBoundaries(t *testing.T) {
	// Given lines longer than the read buffer, When a CR, the newline or a multi-byte space
	// falls on a buffer boundary, Then the line still reads as one line, without its CR.
	pad := func(n int) string { // an event of exactly n bytes
		e := event("pad", `""`)
		return event("pad", `"`+strings.Repeat("x", n-len(e))+`"`)
	}
	for _, n := range []int{readBuffer - 1, readBuffer, readBuffer + 1, 2*readBuffer - 1} {
		line := pad(n)
		for _, eol := range []string{"\n", "\r\n"} {
			rows, st := parseAll(t, "jsonl", line+eol+line, Limits{})
			if len(rows) != 2 || !rows[0].ok() || !rows[1].ok() || rows[0].Raw != line || rows[1].LineNo != 2 {
				t.Errorf("length %d, %q: %d rows, %.80v", n, eol, len(rows), rows)
			}
			if st.Bytes != int64(2*n+len(eol)) {
				t.Errorf("bytes %d", st.Bytes)
			}
		}
	}
	// blank: ideographic spaces (3 bytes) across the boundaries
	blank := strings.Repeat("\u3000", readBuffer)
	rows, st := parseAll(t, "jsonl", blank+"\n"+event()+"\n"+blank+"x\n", Limits{})
	if len(rows) != 2 || rows[0].LineNo != 2 || rows[1].LineNo != 3 || st.Blank != 1 {
		t.Errorf("blank long line: %d rows, %+v", len(rows), st)
	}
	// the same in CSV: a long quoted cell and a long blank line
	text := csvHeaderLine + "\r\n" + blank + "\r\n" + csvRow("last_name", strings.Repeat("y\r\n", readBuffer/2)) + csvRow()
	rows, st = parseAll(t, "csv", text, Limits{})
	if len(rows) != 2 || !rows[0].ok() || !rows[1].ok() || rows[0].LineNo != 3 || rows[1].LineNo != 3+readBuffer/2+1 || st.Blank != 1 {
		t.Errorf("csv: %d rows at %v, %+v", len(rows), func() []int64 {
			var l []int64
			for _, r := range rows {
				l = append(l, r.LineNo)
			}
			return l
		}(), st)
	}
}

func TestRecordBuilderFull(t *testing.T) {
	// Given DefaultBatch rows appended, Then the builder says it is full, and not before.
	rb := NewRecordBuilder(Source{}, Limits{}, nil)
	defer rb.Release()
	v := "x"
	f := map[string]*string{"event_id": &v}
	for i := range DefaultBatch {
		if rb.Full() {
			t.Fatalf("full after %d rows", i)
		}
		rb.Append(int64(i+1), "", f)
	}
	if !rb.Full() || rb.Len() != DefaultBatch {
		t.Errorf("full %v, len %d", rb.Full(), rb.Len())
	}
	rec := rb.Flush()
	defer rec.Release()
	if rec.NumRows() != DefaultBatch || rb.Full() {
		t.Errorf("flushed %d rows", rec.NumRows())
	}
}
