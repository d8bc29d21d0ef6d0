package parse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSV records are cut from the stream here, and each one is then read by encoding/csv
// (FieldsPerRecord -1, LazyQuotes false). encoding/csv alone would hold a record of any length
// in memory; the splitter follows its quoting rules over every byte, keeps at most the limit of
// a record, and hands it a record only when it is short enough. Where the splitter and
// encoding/csv would ever disagree on where a record ends, the row is malformed, never misread
// (csvMismatch), and the fuzz tests compare the two on whole texts.

// States of the CSV splitter, after the bytes seen so far of a record.
const (
	csvFieldStart = iota // at the start of a field
	csvUnquoted          // in a field without quotes
	csvQuoted            // in a quoted field
	csvQuote             // a quote in a quoted field: it closes the field or doubles
	csvQuoteCR           // a closing quote, then "\r"
	csvBad               // encoding/csv fails on this line; the record ends with it
	csvEnd               // the record ended at "\n"
)

// csvStep is the state after byte c.
func csvStep(s uint8, c byte) uint8 {
	switch s {
	case csvFieldStart:
		switch c {
		case '"':
			return csvQuoted
		case ',':
			return csvFieldStart
		case '\n':
			return csvEnd
		}
		return csvUnquoted
	case csvUnquoted:
		switch c {
		case ',':
			return csvFieldStart
		case '"':
			return csvBad // bare quote
		case '\n':
			return csvEnd
		}
		return csvUnquoted
	case csvQuoted:
		if c == '"' {
			return csvQuote
		}
		return csvQuoted
	case csvQuote:
		switch c {
		case '"':
			return csvQuoted
		case ',':
			return csvFieldStart
		case '\n':
			return csvEnd
		case '\r':
			return csvQuoteCR
		}
		return csvBad // extraneous quote
	case csvQuoteCR:
		if c == '\n' {
			return csvEnd
		}
		return csvBad
	case csvBad:
		if c == '\n' {
			return csvEnd
		}
		return csvBad
	}
	return s
}

// csvRecord is one record (or one blank line) cut from the stream.
type csvRecord struct {
	text   []byte // the record with its terminator; a long one's first bytes
	length int64  // without the final terminator
	no     int64  // its first physical line
	long   bool
	blank  bool
}

// content is the record without its final terminator.
func (r *csvRecord) content() []byte { return r.text[:min(int64(len(r.text)), r.length)] }

// csvSplitter cuts records from a stream.
type csvSplitter struct {
	br    *bufio.Reader
	max   int
	no    int64 // physical lines read
	bytes int64
	buf   []byte
	space spaceTracker
}

// next returns the next record or blank line, or io.EOF.
func (s *csvSplitter) next() (csvRecord, error) {
	s.buf = s.buf[:0]
	s.space.reset()
	keep := s.max + 2
	state := uint8(csvFieldStart)
	first := true // in the record's first physical line
	var total int64
	var last [2]byte
	rec := csvRecord{no: s.no + 1}
	midLine := false // a physical line is under way, its "\n" not yet seen
	for {
		chunk, err := s.br.ReadSlice('\n')
		s.bytes += int64(len(chunk))
		if s.no == 0 && total == 0 {
			chunk = bytes.TrimPrefix(chunk, []byte(bom))
		}
		full := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && err != io.EOF && !full {
			return rec, err
		}
		if len(chunk) > 0 {
			for _, c := range chunk {
				state = csvStep(state, c)
			}
			if room := keep - len(s.buf); room > 0 {
				s.buf = append(s.buf, chunk[:min(len(chunk), room)]...)
			}
			total += int64(len(chunk))
			last = lastTwo(last, chunk)
			if first {
				s.space.feed(chunk)
			}
		}
		if full {
			midLine = true
			continue
		}
		if err == io.EOF && len(chunk) == 0 && !midLine {
			if total == 0 {
				return rec, io.EOF
			}
			break // the stream ends inside a quoted field: encoding/csv says so
		}
		midLine = false
		s.no++ // a physical line ended, at "\n" or at the end of the stream
		if first && s.space.blank() {
			rec.blank = true
			return rec, nil
		}
		first = false
		if state == csvEnd || err == io.EOF {
			break
		}
	}
	rec.length = total
	if last[1] == '\n' {
		rec.length--
		last[1] = last[0]
	}
	if last[1] == '\r' {
		rec.length--
	}
	rec.text = s.buf
	if rec.length > int64(s.max) {
		rec.long = true
		rec.text = truncateRunes(s.buf, s.max)
	}
	return rec, nil
}

// recordFeed serves one record at a time to encoding/csv.
type recordFeed struct {
	data []byte
	fed  int64 // bytes handed out in all
}

func (f *recordFeed) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	f.fed += int64(n)
	return n, nil
}

// csvReader reads records with encoding/csv, one record at a time.
type csvReader struct {
	feed recordFeed
	r    *csv.Reader
}

func (c *csvReader) reset() {
	c.feed = recordFeed{}
	c.r = csv.NewReader(&c.feed)
	c.r.FieldsPerRecord = -1
	c.r.ReuseRecord = true
}

// csvMismatch is parse_detail when encoding/csv reads a record other than the one cut.
const csvMismatch = "CSV record boundary mismatch (a bug in the splitter)"

// read parses one record; detail is set when it cannot be read.
func (c *csvReader) read(text []byte) (fields []string, detail string) {
	c.feed.data = text
	want := c.feed.fed + int64(len(text))
	fields, err := c.r.Read()
	if c.r.InputOffset() != want || len(c.feed.data) != 0 || err == io.EOF {
		c.reset() // its buffer may hold the next record's bytes: start afresh
		return nil, csvMismatch
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, "unreadable CSV record: " + pe.Err.Error()
		}
		return nil, "unreadable CSV record"
	}
	return fields, ""
}

// csvHeader is the header of a CSV object.
type csvHeader struct {
	names  []string
	fields []int  // field of each column, -1 for other columns
	bad    string // parse_detail of every row when the header is unusable
}

// setHeader reads the header record.
func (h *csvHeader) set(rec *csvRecord, c *csvReader, max int) {
	if rec.long {
		h.bad = "the header is unreadable: " + longDetail("record", rec.length, max)
		return
	}
	if !utf8.Valid(rec.content()) {
		h.bad = "the header is not valid UTF-8"
		return
	}
	names, detail := c.read(rec.text)
	if detail != "" {
		h.bad = "the header is unreadable: " + detail
		return
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		n = string(bytes.TrimSpace([]byte(n)))
		if seen[n] && h.bad == "" {
			h.bad = fmt.Sprintf("column %q appears twice in the header", nameField([]byte(n)))
		}
		seen[n] = true
		h.names = append(h.names, n)
		h.fields = append(h.fields, fieldIndex([]byte(n)))
	}
}

// CSV parses a CSV object with a header, like JSONLines (same batches, errors and bounds).
// The header is the first non-blank record (a byte-order mark stripped, names trimmed); line
// numbers count physical lines from 1, header included, and a record's number is that of its
// first line; blank lines are skipped but counted. Cells are text, an empty cell is absent:
// event_value is decimal text (trimmed), preview true/false in any case (trimmed) or empty,
// attributes the JSON text of an object. A record of another width than the header, or one
// encoding/csv cannot read, is malformed "(line)"; so is every record after a header that
// cannot be read, or that names a column twice.
func CSV(ctx context.Context, r io.Reader, src Source, lim Limits, mem memory.Allocator, batch int, flush func(arrow.RecordBatch) error) (Stats, error) {
	lim = lim.withDefaults()
	sp := &csvSplitter{br: bufio.NewReaderSize(r, readBuffer), max: lim.MaxLineBytes}
	var cr csvReader
	cr.reset()
	p := newParser(lim)
	b := newBatcher(mem, src, batch)
	defer b.release()
	e := emitter{b, flush}
	var st Stats
	var header *csvHeader
	for n := 0; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		rec, err := sp.next()
		st.Bytes = sp.bytes
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read line %d: %w", sp.no+1, err)
		}
		if rec.blank {
			st.Blank++
			continue
		}
		if header == nil {
			header = &csvHeader{}
			header.set(&rec, &cr, lim.MaxLineBytes)
			continue
		}
		st.Lines++
		p.csvRecord(&rec, header, &cr)
		b.add(rec.no, rec.content(), &p.out)
		if b.full() {
			if err := e.emit(); err != nil {
				return st, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, e.emit()
}

// csvRecord parses one data record into p.out.
func (p *parser) csvRecord(rec *csvRecord, h *csvHeader, cr *csvReader) {
	r := &p.out
	r.reset()
	p.in = [nFields]fieldIn{}
	if rec.long {
		r.fail(ReasonMalformed, FieldLine, longDetail("record", rec.length, p.lim.MaxLineBytes))
		return
	}
	cells, detail := cr.read(rec.text)
	valid := utf8.Valid(rec.content())
	r.rawValid = valid
	switch {
	case !valid && (detail != "" || h.bad != "" || len(cells) != len(h.names)):
		r.fail(ReasonMalformed, FieldLine, "invalid UTF-8")
		return
	case detail != "":
		r.fail(ReasonMalformed, FieldLine, detail)
		return
	case h.bad != "":
		r.fail(ReasonMalformed, FieldLine, h.bad)
		return
	case len(cells) != len(h.names):
		r.fail(ReasonMalformed, FieldLine, fmt.Sprintf("record has %d fields, the header %d", len(cells), len(h.names)))
		return
	}
	badCol := -1
	for i, cell := range cells {
		bad := !valid && !utf8.ValidString(cell)
		if bad && badCol < 0 {
			badCol = i
		}
		if f := h.fields[i]; f >= 0 && cell != "" {
			// the cell's bytes are only read, never written
			p.in[f] = fieldIn{kind: kString, text: unsafe.Slice(unsafe.StringData(cell), len(cell)), skip: bad}
		}
	}
	p.check(r, true)
	if badCol >= 0 {
		if name := h.names[badCol]; name != "" {
			r.fail(ReasonMalformed, nameField([]byte(name)), "invalid UTF-8")
		} else { // a column without a name
			r.fail(ReasonMalformed, FieldLine, fmt.Sprintf("invalid UTF-8 in column %d", badCol+1))
		}
	}
}
