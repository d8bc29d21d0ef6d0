package parse

import (
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RecordBuilder parses rows whose fields are already split (Parquet rows read by DuckDB and
// cast to text by the caller) into record batches of Schema. Values are text as a CSV cell
// holds it, so the rules of CSV apply: nil or "" is absent, occurred_at RFC 3339 text,
// event_value decimal text, preview "true"/"false" (any case, trimmed), attributes the JSON
// text of an object. A record whose known fields hold more than Limits.MaxLineBytes bytes in
// all is malformed "(line)". A RecordBuilder is not safe for concurrent use.
type RecordBuilder struct {
	p *parser
	b *batcher
}

// NewRecordBuilder returns a RecordBuilder for the rows of one object. mem nil is the default
// allocator.
func NewRecordBuilder(src Source, lim Limits, mem memory.Allocator) *RecordBuilder {
	lim = lim.withDefaults()
	return &RecordBuilder{p: newParser(lim), b: newBatcher(mem, src, DefaultBatch)}
}

// Append parses one row: lineNo is its number in the object (its line_id is the source's
// LineIDBase + lineNo), raw its text for the raw column (cut to MaxLineBytes; invalid UTF-8
// replaced for storage only), fields its values by column name. Names other than the event
// fields are ignored.
func (rb *RecordBuilder) Append(lineNo int64, raw string, fields map[string]*string) {
	p := rb.p
	r := &p.out
	r.reset()
	p.in = [nFields]fieldIn{}
	var size int64
	for f, name := range fieldNames {
		if v := fields[name]; v != nil && *v != "" {
			size += int64(len(*v))
			// the value's bytes are only read, never written
			p.in[f] = fieldIn{kind: kString, text: unsafe.Slice(unsafe.StringData(*v), len(*v))}
		}
	}
	rawb := truncateRunes(unsafe.Slice(unsafe.StringData(raw), len(raw)), p.lim.MaxLineBytes)
	if size > int64(p.lim.MaxLineBytes) {
		p.in = [nFields]fieldIn{}
		r.fail(ReasonMalformed, FieldLine, longDetail("record", size, p.lim.MaxLineBytes))
		rb.b.add(lineNo, rawb, r)
		return
	}
	bad := -1
	for f := range p.in {
		if x := &p.in[f]; x.kind != kAbsent && !utf8.Valid(x.text) {
			x.skip = true
			if bad < 0 {
				bad = f
			}
		}
	}
	p.check(r, true)
	if bad >= 0 {
		r.fail(ReasonMalformed, fieldNames[bad], "invalid UTF-8")
	}
	rb.b.add(lineNo, rawb, r)
}

// Len is the number of rows appended since the last Flush.
func (rb *RecordBuilder) Len() int { return rb.b.n }

// Full reports whether the rows since the last Flush make a batch: DefaultBatch rows, or
// 64 MiB of text. Flushing then keeps memory bounded whatever the rows hold.
func (rb *RecordBuilder) Full() bool { return rb.b.full() }

// Flush returns the rows appended since the last Flush as a record batch, which the caller
// must Release, or nil when there are none.
func (rb *RecordBuilder) Flush() arrow.RecordBatch { return rb.b.record() }

// Release frees the builder's buffers; rows not flushed are dropped.
func (rb *RecordBuilder) Release() { rb.b.release() }
