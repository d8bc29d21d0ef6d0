package parse

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// at says what row a line should give: parsed or failed on a field.
type at struct {
	no    int64
	field string // "" for a parsed event
}

// checkRows compares rows with what lines should give, and raw with the line text.
func checkRows(t *testing.T, rows []Row, want []at) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.LineNo != w.no || r.LineID != 1000+w.no || r.ObjNo != 7 {
			t.Errorf("row %d: line %d (id %d, obj %d), want line %d", i, r.LineNo, r.LineID, r.ObjNo, w.no)
		}
		switch {
		case w.field == "" && !r.ok():
			t.Errorf("row %d: want a parsed event, got %v", i, r)
		case w.field != "" && (r.Field == nil || *r.Field != w.field):
			t.Errorf("row %d: want a failure on %s, got %v", i, w.field, r)
		}
	}
}

func TestJSONLinesObject(t *testing.T) {
	ev := event()
	tests := []struct {
		name  string
		text  string
		lim   Limits
		want  []at
		blank int64
		check func(t *testing.T, rows []Row)
	}{
		{
			// Given blank lines (Unicode spaces too) between events, When parsed, Then they
			// give no row but count in line numbers.
			name: "blank lines", text: "\n   \n" + ev + "\n\t\u3000\u00a0\u2028\r\n\n" + ev + "\n\n",
			want: []at{{3, ""}, {6, ""}}, blank: 5,
		},
		{
			// Given CRLF line ends, Then the "\r" is not part of the line.
			name: "CRLF", text: ev + "\r\n" + ev + "\r\n",
			want: []at{{1, ""}, {2, ""}},
			check: func(t *testing.T, rows []Row) {
				if rows[0].Raw != ev || rows[1].Raw != ev {
					t.Errorf("raw keeps the CR: %q", rows[0].Raw)
				}
			},
		},
		{
			name: "no final newline", text: ev + "\n" + ev,
			want: []at{{1, ""}, {2, ""}},
		},
		{
			name: "final CR without newline", text: ev + "\r",
			want: []at{{1, ""}},
		},
		{
			// Given a byte-order mark at the very start, Then it is not content.
			name: "byte-order mark", text: "\ufeff" + ev + "\n",
			want: []at{{1, ""}},
			check: func(t *testing.T, rows []Row) {
				if rows[0].Raw != ev {
					t.Errorf("raw %q keeps the mark", rows[0].Raw)
				}
			},
		},
		{
			name: "byte-order mark then blank line", text: "\ufeff\n" + ev,
			want: []at{{2, ""}}, blank: 1,
		},
		{
			// Given a byte-order mark later, Then it is content: not JSON.
			name: "byte-order mark not at the start", text: ev + "\n\ufeff" + ev,
			want: []at{{1, ""}, {2, FieldLine}},
		},
		{
			// Given line separators other than "\n" (CR alone, U+2028, NEL), Then they do not
			// split lines.
			name: "only LF splits", text: ev + "\r" + ev + "\u2028" + ev + "\u0085" + ev + "\n",
			want: []at{{1, FieldLine}},
		},
		{
			name: "empty object", text: "",
		},
		{
			name: "only blank lines", text: "\n\n \n", blank: 3,
		},
		{
			// Given a line longer than the limit, Then it is malformed "(line)" with its length,
			// and raw is its first MaxLineBytes bytes, cut on a rune.
			name: "long line", lim: Limits{MaxLineBytes: 100},
			text: ev[:60] + strings.Repeat("é", 30) + "\n" + `{"a":1}` + "\n",
			want: []at{{1, FieldLine}, {2, "event_id"}},
			check: func(t *testing.T, rows []Row) {
				r := rows[0]
				if *r.Reason != ReasonMalformed || *r.Detail != "line of 120 bytes is longer than limits.max_line_bytes (100)" {
					t.Errorf("got %v", r)
				}
				if r.Raw != ev[:60]+strings.Repeat("é", 20) || r.EventID != nil {
					t.Errorf("raw %q", r.Raw)
				}
			},
		},
		{
			// Given a line of exactly the limit (its CRLF not counted), Then it is parsed.
			name: "line at the limit", lim: Limits{MaxLineBytes: len(ev)},
			text: ev + "\r\n" + ev + " \n",
			want: []at{{1, ""}, {2, FieldLine}},
		},
		{
			// Given a long line of white space, Then it is blank, not a row.
			name: "long blank line", lim: Limits{MaxLineBytes: 10},
			text: strings.Repeat(" \u3000", 20) + "\n" + ev[:5] + "\n",
			want: []at{{2, FieldLine}}, blank: 1,
		},
		{
			// Given invalid UTF-8 in a line, Then raw stores it with U+FFFD for each bad byte.
			name: "invalid UTF-8 raw", text: "\xff\xfe{}\n",
			want: []at{{1, FieldLine}},
			check: func(t *testing.T, rows []Row) {
				if rows[0].Raw != "\uFFFD\uFFFD{}" {
					t.Errorf("raw %q", rows[0].Raw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, st := parseAll(t, "jsonl", tt.text, tt.lim)
			checkRows(t, rows, tt.want)
			if st.Lines != int64(len(tt.want)) || st.Blank != tt.blank || st.Bytes != int64(len(tt.text)) {
				t.Errorf("stats %+v, want %d lines, %d blank, %d bytes", st, len(tt.want), tt.blank, len(tt.text))
			}
			if tt.check != nil {
				tt.check(t, rows)
			}
		})
	}
}

func TestJSONLinesBatches(t *testing.T) {
	// Given 7 lines and batches of 3, When parsed, Then flush gets 3, 3 and 1 rows, in order.
	text := strings.Repeat(event()+"\n", 7)
	var sizes []int64
	var next int64 = 1
	_, err := JSONLines(context.Background(), strings.NewReader(text), Source{}, Limits{}, nil, 3,
		func(rec arrow.RecordBatch) error {
			defer rec.Release()
			sizes = append(sizes, rec.NumRows())
			for _, r := range rowsOf(t, rec) {
				if r.LineNo != next {
					t.Errorf("line %d, want %d", r.LineNo, next)
				}
				next++
			}
			return nil
		})
	if err != nil || fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("batches %v, %v", sizes, err)
	}
}

// failingReader returns data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestErrors(t *testing.T) {
	ev := event() + "\n"
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	corrupt := gz(strings.Repeat(ev, 100))
	corrupt[len(corrupt)-6] ^= 0xff // the CRC
	boom := errors.New("boom")
	for _, format := range []string{"jsonl", "csv"} {
		run := func(ctx context.Context, r io.Reader, flush func(arrow.RecordBatch) error) error {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			wrapped := func(rec arrow.RecordBatch) error { defer rec.Release(); return flush(rec) }
			var err error
			if format == "jsonl" {
				_, err = JSONLines(ctx, r, Source{}, Limits{}, mem, 2, wrapped)
			} else {
				_, err = CSV(ctx, r, Source{}, Limits{}, mem, 2, wrapped)
			}
			return err
		}
		ok := func(arrow.RecordBatch) error { return nil }
		// Given a reader that fails, When parsed, Then its error is returned.
		if err := run(context.Background(), &failingReader{[]byte(ev + ev), boom}, ok); !errors.Is(err, boom) {
			t.Errorf("%s: reader error: %v", format, err)
		}
		// Given a gzip stream whose checksum is wrong underneath, Then the error is returned.
		zr, err := gzip.NewReader(bytes.NewReader(corrupt))
		if err != nil {
			t.Fatal(err)
		}
		if err := run(context.Background(), zr, ok); !errors.Is(err, gzip.ErrChecksum) {
			t.Errorf("%s: corrupt gzip: %v", format, err)
		}
		// Given flush fails, Then its error is returned.
		if err := run(context.Background(), strings.NewReader(strings.Repeat(ev, 5)), func(arrow.RecordBatch) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("%s: flush error: %v", format, err)
		}
		// Given a cancelled context, Then its error is returned.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := run(ctx, strings.NewReader(ev), ok); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled: %v", format, err)
		}
	}
}

// endlessLine is a reader of one line of n bytes of JSON-ish text, then a short event line.
type endlessLine struct {
	n    int64
	tail []byte
}

func (e *endlessLine) Read(p []byte) (int, error) {
	if e.n > 0 {
		k := int(min(int64(len(p)), e.n))
		for i := range p[:k] {
			p[i] = 'x'
		}
		if e.n == 200<<20 && k > 0 {
			p[0] = '{'
		}
		e.n -= int64(k)
		return k, nil
	}
	if len(e.tail) == 0 {
		return 0, io.EOF
	}
	k := copy(p, e.tail)
	e.tail = e.tail[k:]
	return k, nil
}

func TestHugeLineBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 400 MB")
	}
	// Given a 200 MB line, When parsed as JSON Lines and as CSV, Then it is one malformed row
	// naming its length, the next line is read, and memory stays far below the line's size.
	for _, format := range []string{"jsonl", "csv"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tail := "\n" + event() + "\n"
		if format == "csv" {
			tail = "\nevent_id\nx\n"
		}
		var rows []Row
		flush := func(rec arrow.RecordBatch) error {
			defer rec.Release()
			rows = append(rows, rowsOf(t, rec)...)
			return nil
		}
		r := &endlessLine{n: 200 << 20, tail: []byte(tail)}
		var st Stats
		var err error
		if format == "jsonl" {
			st, err = JSONLines(context.Background(), r, Source{}, Limits{}, nil, 0, flush)
		} else {
			// the huge line is the header here: every later record is malformed
			st, err = CSV(context.Background(), r, Source{}, Limits{}, nil, 0, flush)
		}
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if format == "jsonl" {
			if len(rows) != 2 || *rows[0].Detail != "line of 209715200 bytes is longer than limits.max_line_bytes (1048576)" ||
				len(rows[0].Raw) != 1<<20 || !rows[1].ok() || rows[1].LineNo != 2 {
				t.Errorf("%s: rows %d, first %.200v", format, len(rows), rows[0])
			}
		} else if len(rows) != 2 || rows[0].LineNo != 2 || !strings.Contains(*rows[0].Detail, "header is unreadable: record of 209715200 bytes") {
			t.Errorf("%s: rows %v", format, rows)
		}
		if st.Bytes != 200<<20+int64(len(tail)) {
			t.Errorf("%s: %d bytes read", format, st.Bytes)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("%s: %d MB allocated for a 200 MB line", format, grew>>20)
		}
	}
}
