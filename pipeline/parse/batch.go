package parse

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultBatch is the number of rows of a record batch when the caller passes 0 or less.
const DefaultBatch = 8192

// maxBatchBytes flushes a batch early when its text passes it, so that a batch of long lines
// stays small: memory is bounded by the batch size and MaxLineBytes either way, but
// 8192 lines of 1 MiB are too many to hold.
const maxBatchBytes = 64 << 20

// strCols maps the string fields to their columns.
var strCols = [nFields]int{fEventID: ColEventID, fTenantID: ColTenantID, fDomainName: ColDomainName,
	fUserID: ColUserID, fEventType: ColEventType, fEventUnit: ColEventUnit, fAttributes: ColAttributes,
	fUsername: ColUsername, fFirstName: ColFirstName, fLastName: ColLastName}

// The columns are written straight into allocator buffers laid out as Arrow arrays (validity
// bitmap, int32 offsets and bytes for utf8; little-endian values for the rest) and wrapped
// with array.NewData at the end of a batch: array builders cost a third of the parse time in
// per-value checks and generic offset appends.

// buf is one growing Arrow buffer.
type buf struct {
	mem *memory.Buffer
	b   []byte // mem's whole allocation
	n   int    // bytes used
}

// grow makes room for more bytes.
func (x *buf) grow(more int) {
	if x.n+more <= len(x.b) {
		return
	}
	if x.mem == nil {
		panic("parse: column buffer used after release")
	}
	x.mem.Reserve(max(2*len(x.b), x.n+more, 64))
	x.b = x.mem.Buf()
}

// start allocates a new buffer of capacity size.
func (x *buf) start(mem memory.Allocator, size int) {
	x.mem = memory.NewResizableBuffer(mem)
	x.mem.Reserve(max(size, 64))
	x.b, x.n = x.mem.Buf(), 0
}

// finish hands the buffer over (sized to what is used) and forgets it.
func (x *buf) finish() *memory.Buffer {
	m := x.mem
	m.ResizeNoShrink(x.n)
	x.mem, x.b, x.n = nil, nil, 0
	return m
}

// release frees a buffer not handed over.
func (x *buf) release() {
	if x.mem != nil {
		x.mem.Release()
		x.mem, x.b, x.n = nil, nil, 0
	}
}

// column is one column of the batch under construction.
type column struct {
	typ   arrow.DataType
	width int // bytes per value of a fixed-width column; 0: utf8; -1: boolean
	valid buf // validity bitmap
	vals  buf // values (fixed width, booleans as bits) or offsets (utf8)
	data  buf // utf8 bytes
	nulls int
	last  int // utf8 bytes of the last full batch, to size the next
}

// start allocates the buffers for rows values.
func (c *column) start(mem memory.Allocator, rows int) {
	c.valid.start(mem, (rows+7)/8)
	switch {
	case c.width > 0:
		c.vals.start(mem, rows*c.width)
	case c.width < 0:
		c.vals.start(mem, (rows+7)/8)
	default:
		c.vals.start(mem, (rows+1)*4)
		c.vals.n = 4 // offsets[0] = 0
		binary.LittleEndian.PutUint32(c.vals.b, 0)
		c.data.start(mem, c.last+c.last/8)
	}
	c.nulls = 0
}

// setValid writes the validity bit of row i.
func (c *column) setValid(i int, ok bool) {
	if i&7 == 0 {
		c.valid.grow(1)
		c.valid.b[i>>3] = 0
		c.valid.n = i>>3 + 1
	}
	if ok {
		c.valid.b[i>>3] |= 1 << (i & 7)
	} else {
		c.nulls++
	}
}

// appendStr appends a utf8 value (ok) or NULL as row i.
func (c *column) appendStr(i int, ok bool, v []byte) {
	c.setValid(i, ok)
	if ok {
		c.data.grow(len(v))
		c.data.n += copy(c.data.b[c.data.n:], v)
	}
	c.vals.grow(4)
	binary.LittleEndian.PutUint32(c.vals.b[c.vals.n:], uint32(c.data.n))
	c.vals.n += 4
}

// appendText appends a text value, NULL when it is "".
func (c *column) appendText(i int, v string) {
	c.setValid(i, v != "")
	c.data.grow(len(v))
	c.data.n += copy(c.data.b[c.data.n:], v)
	c.vals.grow(4)
	binary.LittleEndian.PutUint32(c.vals.b[c.vals.n:], uint32(c.data.n))
	c.vals.n += 4
}

// appendFixed appends a fixed-width value (ok) or NULL (zeros) as row i; v has c.width bytes.
func (c *column) appendFixed(i int, ok bool) []byte {
	c.setValid(i, ok)
	c.vals.grow(c.width)
	v := c.vals.b[c.vals.n : c.vals.n+c.width]
	c.vals.n += c.width
	if !ok {
		clear(v)
	}
	return v
}

// appendBool appends a boolean (ok) or NULL as row i.
func (c *column) appendBool(i int, ok, v bool) {
	c.setValid(i, ok)
	if i&7 == 0 {
		c.vals.grow(1)
		c.vals.b[i>>3] = 0
		c.vals.n = i>>3 + 1
	}
	if ok && v {
		c.vals.b[i>>3] |= 1 << (i & 7)
	}
}

// array wraps the buffers as an Arrow array of rows values and starts afresh.
func (c *column) array(rows int, full bool) arrow.Array {
	bufs := []*memory.Buffer{c.valid.finish(), c.vals.finish()}
	if c.width == 0 {
		if full {
			c.last = c.data.n
		}
		bufs = append(bufs, c.data.finish())
	}
	nulls := c.nulls
	if nulls == 0 {
		bufs[0].Release()
		bufs[0] = nil
	}
	d := array.NewData(c.typ, rows, bufs, nil, nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release() // d holds them now
		}
	}
	a := array.MakeFromData(d)
	d.Release()
	return a
}

func (c *column) release() {
	c.valid.release()
	c.vals.release()
	c.data.release()
}

// batcher builds record batches of Schema row by row.
type batcher struct {
	mem   memory.Allocator
	cols  [numCols]column
	src   Source
	size  int // rows per batch
	n     int // rows so far
	bytes int // text bytes so far
	fix   []byte
}

func newBatcher(mem memory.Allocator, src Source, size int) *batcher {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if size <= 0 {
		size = DefaultBatch
	}
	b := &batcher{mem: mem, src: src, size: size}
	for i, f := range Schema.Fields() {
		c := &b.cols[i]
		c.typ = f.Type
		switch t := f.Type.(type) {
		case *arrow.StringType:
		case *arrow.BooleanType:
			c.width = -1
		case arrow.FixedWidthDataType:
			c.width = t.BitWidth() / 8
		default:
			panic("parse: no column writer for " + f.Type.String())
		}
	}
	b.start()
	return b
}

// start allocates the buffers of a new batch.
func (b *batcher) start() {
	rows := min(b.size, 1<<16)
	for i := range b.cols {
		b.cols[i].start(b.mem, rows)
	}
}

// release frees the buffers of the batch under construction.
func (b *batcher) release() {
	for i := range b.cols {
		b.cols[i].release()
	}
}

// full reports whether the batch should be flushed now.
func (b *batcher) full() bool { return b.n >= b.size || b.bytes >= maxBatchBytes }

// record returns the rows built so far as a record batch (nil when there are none) and starts
// a new batch.
func (b *batcher) record() arrow.RecordBatch {
	if b.n == 0 {
		return nil
	}
	full := b.full()
	arrs := make([]arrow.Array, numCols)
	for i := range b.cols {
		arrs[i] = b.cols[i].array(b.n, full)
	}
	rec := array.NewRecordBatch(Schema, arrs, int64(b.n))
	for _, a := range arrs {
		a.Release()
	}
	b.n, b.bytes = 0, 0
	b.start()
	return rec
}

// add appends one row: raw is the line as read (invalid UTF-8 is replaced for storage only).
func (b *batcher) add(lineNo int64, raw []byte, r *row) {
	i := b.n
	binary.LittleEndian.PutUint64(b.cols[ColLineID].appendFixed(i, true), uint64(b.src.LineIDBase+lineNo))
	binary.LittleEndian.PutUint32(b.cols[ColObjNo].appendFixed(i, true), uint32(b.src.ObjNo))
	binary.LittleEndian.PutUint64(b.cols[ColLineNo].appendFixed(i, true), uint64(lineNo))
	if !r.rawValid && !utf8.Valid(raw) {
		b.fix = appendValidUTF8(b.fix[:0], raw)
		raw = b.fix
	}
	b.cols[ColRaw].appendStr(i, true, raw)
	b.bytes += len(raw)
	b.cols[ColParseReason].appendText(i, r.reason)
	b.cols[ColParseField].appendText(i, r.field)
	b.cols[ColParseDetail].appendText(i, r.detail)
	for f, col := range strCols {
		if col != 0 {
			b.cols[col].appendStr(i, r.has[f], r.str[f])
			b.bytes += len(r.str[f])
		}
	}
	if ts := b.cols[ColOccurredAt].appendFixed(i, r.has[fOccurredAt]); r.has[fOccurredAt] {
		binary.LittleEndian.PutUint64(ts, uint64(r.ts))
	}
	v := b.cols[ColEventValue].appendFixed(i, r.has[fEventValue])
	if r.has[fEventValue] {
		n := r.val.Num128()
		binary.LittleEndian.PutUint64(v, n.LowBits())
		binary.LittleEndian.PutUint64(v[8:], uint64(n.HighBits()))
	}
	b.cols[ColPreview].appendBool(i, r.has[fPreview], r.preview)
	if d := b.cols[ColDigest].appendFixed(i, r.hasDigest); r.hasDigest {
		copy(d, r.digest[:])
	}
	b.n++
}

// appendValidUTF8 appends b with every byte that is not part of valid UTF-8 replaced by U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			dst = append(dst, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[i:i+size]...)
		}
		i += size
	}
	return dst
}
