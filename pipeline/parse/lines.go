package parse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bom is the UTF-8 byte-order mark; at the very start of an object it is not content.
const bom = "\xef\xbb\xbf"

// readBuffer is the size of the bufio.Reader under the line readers: lines up to it are
// parsed where they lie, longer ones are copied (and cut at the limit).
const readBuffer = 64 << 10

// checkEvery is how many lines pass between two looks at the context.
const checkEvery = 1024

// line is one physical line of a JSON Lines object.
type line struct {
	text   []byte // without "\n" and a trailing "\r"; a long line's first max bytes
	length int64  // the length of the whole line, without the terminator
	no     int64  // line number, from 1
	long   bool   // longer than the limit
	blank  bool   // only white space (strings.TrimSpace would leave nothing)
}

// lineReader splits a reader at "\n" without ever holding more than the limit of one line.
type lineReader struct {
	br    *bufio.Reader
	max   int
	no    int64
	bytes int64
	buf   []byte
	space spaceTracker
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, readBuffer), max: max}
}

// next returns the next line, or io.EOF after the last one.
func (lr *lineReader) next() (line, error) {
	chunk, err := lr.br.ReadSlice('\n')
	lr.bytes += int64(len(chunk))
	if lr.no == 0 {
		chunk = bytes.TrimPrefix(chunk, []byte(bom))
	}
	switch {
	case err == nil || (err == io.EOF && len(chunk) > 0):
		lr.no++
		text := trimEOL(chunk)
		l := line{text: text, length: int64(len(text)), no: lr.no, blank: isBlank(text)}
		if len(text) > lr.max {
			l.long, l.text = true, truncateRunes(text, lr.max)
		}
		return l, nil
	case err == io.EOF:
		return line{}, io.EOF
	case !errors.Is(err, bufio.ErrBufferFull):
		return line{}, err
	}
	// a line longer than the buffer: keep up to the limit (and the terminator), count the rest
	lr.no++
	keep := lr.max + 2
	lr.buf = append(lr.buf[:0], chunk[:min(len(chunk), keep)]...)
	total := int64(len(chunk))
	lr.space.reset()
	lr.space.feed(chunk)
	var last [2]byte // the last two bytes of the line
	last = lastTwo(last, chunk)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = lr.br.ReadSlice('\n')
		lr.bytes += int64(len(chunk))
		if room := keep - len(lr.buf); room > 0 {
			lr.buf = append(lr.buf, chunk[:min(len(chunk), room)]...)
		}
		total += int64(len(chunk))
		lr.space.feed(chunk)
		last = lastTwo(last, chunk)
	}
	if err != nil && err != io.EOF {
		return line{}, err
	}
	length := total
	if last[1] == '\n' {
		length--
		last[1], last[0] = last[0], 0
	}
	if last[1] == '\r' {
		length--
	}
	text := lr.buf[:min(int64(len(lr.buf)), length)]
	l := line{text: text, length: length, no: lr.no, blank: lr.space.blank()}
	if length > int64(lr.max) {
		l.long, l.text = true, truncateRunes(text, lr.max)
	}
	return l, nil
}

// lastTwo shifts the last bytes of chunk into last.
func lastTwo(last [2]byte, chunk []byte) [2]byte {
	switch len(chunk) {
	case 0:
		return last
	case 1:
		return [2]byte{last[1], chunk[0]}
	}
	return [2]byte{chunk[len(chunk)-2], chunk[len(chunk)-1]}
}

// trimEOL drops a trailing "\n" and then a trailing "\r".
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// isBlank reports whether b holds only white space (as strings.TrimSpace sees it).
func isBlank(b []byte) bool {
	return len(b) == 0 || (b[0] != '{' && len(bytes.TrimSpace(b)) == 0)
}

// spaceTracker tells whether a line fed in chunks is blank, runes split across chunks included.
type spaceTracker struct {
	carry    []byte
	nonSpace bool
}

func (t *spaceTracker) reset() { t.carry, t.nonSpace = t.carry[:0], false }

func (t *spaceTracker) blank() bool { return !t.nonSpace && len(t.carry) == 0 }

func (t *spaceTracker) feed(p []byte) {
	if t.nonSpace {
		return
	}
	for len(t.carry) > 0 && len(p) > 0 {
		t.carry = append(t.carry, p[0])
		p = p[1:]
		if utf8.FullRune(t.carry) {
			r, _ := utf8.DecodeRune(t.carry)
			t.nonSpace = !unicode.IsSpace(r)
			t.carry = t.carry[:0]
			if t.nonSpace {
				return
			}
		}
	}
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			if !asciiSpace[p[i]] {
				t.nonSpace = true
				return
			}
			i++
			continue
		}
		if !utf8.FullRune(p[i:]) {
			t.carry = append(t.carry, p[i:]...)
			return
		}
		r, size := utf8.DecodeRune(p[i:])
		if !unicode.IsSpace(r) {
			t.nonSpace = true
			return
		}
		i += size
	}
}

// asciiSpace is unicode.IsSpace for ASCII.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// longDetail is parse_detail of a line past the limit.
func longDetail(what string, length int64, max int) string {
	return fmt.Sprintf("%s of %d bytes is longer than limits.max_line_bytes (%d)", what, length, max)
}

// emitter runs the flush callback for a reader loop.
type emitter struct {
	b     *batcher
	flush func(arrow.RecordBatch) error
}

// emit flushes the rows built so far, if any.
func (e emitter) emit() error {
	if rec := e.b.record(); rec != nil {
		if err := e.flush(rec); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
	}
	return nil
}

// JSONLines parses a JSON Lines object: lines split at "\n" only, a trailing "\r" trimmed, a
// byte-order mark at the very start dropped, blank lines skipped but counted in line numbers
// (the first line is 1). Every other line becomes one row (doc.go). Rows are built into record
// batches of batch rows (0: DefaultBatch; a batch is flushed earlier when its text passes
// 64 MiB) and handed to flush, which owns the record (it must Release it) even when it fails;
// the last, partial batch is flushed at the end, and an empty one never. mem nil is the default
// allocator.
//
// The error is only the reader's (I/O, a corrupt compressed stream underneath), the context's
// or flush's; rows not yet flushed are then dropped. Memory is bounded by the batch and
// lim.MaxLineBytes whatever the input: a line past the limit is never read whole.
func JSONLines(ctx context.Context, r io.Reader, src Source, lim Limits, mem memory.Allocator, batch int, flush func(arrow.RecordBatch) error) (Stats, error) {
	lim = lim.withDefaults()
	lr := newLineReader(r, lim.MaxLineBytes)
	p := newParser(lim)
	b := newBatcher(mem, src, batch)
	defer b.release()
	e := emitter{b, flush}
	var st Stats
	for {
		if lr.no%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
		}
		l, err := lr.next()
		st.Bytes = lr.bytes
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read line %d: %w", lr.no+1, err)
		}
		if l.blank {
			st.Blank++
			continue
		}
		st.Lines++
		if l.long {
			p.out.reset()
			p.out.fail(ReasonMalformed, FieldLine, longDetail("line", l.length, lim.MaxLineBytes))
		} else {
			p.jsonLine(l.text)
		}
		b.add(l.no, l.text, &p.out)
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
