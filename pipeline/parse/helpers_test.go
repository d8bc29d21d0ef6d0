package parse

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Row is one row of a record batch, as Go values (nil = NULL).
type Row struct {
	LineID     int64
	ObjNo      int32
	LineNo     int64
	Raw        string
	Reason     *string
	Field      *string
	Detail     *string
	EventID    *string
	OccurredAt *int64
	TenantID   *string
	DomainName *string
	UserID     *string
	EventType  *string
	EventValue *Decimal
	EventUnit  *string
	Preview    *bool
	Attributes *string
	Username   *string
	FirstName  *string
	LastName   *string
	Digest     *[16]byte
}

// ok reports whether the row is a parsed event.
func (r Row) ok() bool { return r.Reason == nil }

// String shows a row compactly for failure messages.
func (r Row) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d", r.LineNo)
	s := func(name string, v *string) {
		if v != nil {
			fmt.Fprintf(&b, " %s=%q", name, *v)
		}
	}
	s("reason", r.Reason)
	s("field", r.Field)
	s("detail", r.Detail)
	s("event_id", r.EventID)
	if r.OccurredAt != nil {
		fmt.Fprintf(&b, " occurred_at=%d", *r.OccurredAt)
	}
	s("tenant_id", r.TenantID)
	s("domain_name", r.DomainName)
	s("user_id", r.UserID)
	s("event_type", r.EventType)
	if r.EventValue != nil {
		fmt.Fprintf(&b, " event_value=%s", r.EventValue)
	}
	s("event_unit", r.EventUnit)
	if r.Preview != nil {
		fmt.Fprintf(&b, " preview=%v", *r.Preview)
	}
	s("attributes", r.Attributes)
	s("username", r.Username)
	s("first_name", r.FirstName)
	s("last_name", r.LastName)
	if r.Digest != nil {
		fmt.Fprintf(&b, " digest=%s", hex.EncodeToString(r.Digest[:]))
	}
	return b.String()
}

// rowsOf converts a record batch of Schema to rows.
func rowsOf(t testing.TB, rec arrow.RecordBatch) []Row {
	t.Helper()
	if !rec.Schema().Equal(Schema) {
		t.Fatalf("schema %v, want %v", rec.Schema(), Schema)
	}
	str := func(c, i int) *string {
		a := rec.Column(c).(*array.String)
		if a.IsNull(i) {
			return nil
		}
		v := strings.Clone(a.Value(i))
		return &v
	}
	out := make([]Row, rec.NumRows())
	for i := range out {
		r := Row{
			LineID: rec.Column(ColLineID).(*array.Int64).Value(i),
			ObjNo:  rec.Column(ColObjNo).(*array.Int32).Value(i),
			LineNo: rec.Column(ColLineNo).(*array.Int64).Value(i),
			Raw:    *str(ColRaw, i),
			Reason: str(ColParseReason, i), Field: str(ColParseField, i), Detail: str(ColParseDetail, i),
			EventID: str(ColEventID, i), TenantID: str(ColTenantID, i), DomainName: str(ColDomainName, i),
			UserID: str(ColUserID, i), EventType: str(ColEventType, i), EventUnit: str(ColEventUnit, i),
			Attributes: str(ColAttributes, i), Username: str(ColUsername, i), FirstName: str(ColFirstName, i),
			LastName: str(ColLastName, i),
		}
		if a := rec.Column(ColOccurredAt).(*array.Timestamp); !a.IsNull(i) {
			v := int64(a.Value(i))
			r.OccurredAt = &v
		}
		if a := rec.Column(ColEventValue).(*array.Decimal128); !a.IsNull(i) {
			n := a.Value(i)
			if !n.FitsInPrecision(18) {
				t.Fatalf("event_value %v does not fit DECIMAL(18,6)", n)
			}
			v := Decimal(n.LowBits())
			r.EventValue = &v
		}
		if a := rec.Column(ColPreview).(*array.Boolean); !a.IsNull(i) {
			v := a.Value(i)
			r.Preview = &v
		}
		if a := rec.Column(ColDigest).(*array.FixedSizeBinary); !a.IsNull(i) {
			v := [16]byte(a.Value(i))
			r.Digest = &v
		}
		out[i] = r
	}
	return out
}

// parseAll runs a parse over text with a small batch size and returns every row; the
// allocator checks that every buffer is released.
func parseAll(t testing.TB, format, text string, lim Limits) ([]Row, Stats) {
	t.Helper()
	return parseBatches(t, format, text, lim, 3)
}

// parseBatches is parseAll with batches of batch rows.
func parseBatches(t testing.TB, format, text string, lim Limits, batch int) ([]Row, Stats) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var rows []Row
	flush := func(rec arrow.RecordBatch) error {
		defer rec.Release()
		rows = append(rows, rowsOf(t, rec)...)
		return nil
	}
	src := Source{ObjNo: 7, LineIDBase: 1000}
	var st Stats
	var err error
	switch format {
	case "jsonl":
		st, err = JSONLines(context.Background(), strings.NewReader(text), src, lim, mem, batch, flush)
	case "csv":
		st, err = CSV(context.Background(), strings.NewReader(text), src, lim, mem, batch, flush)
	default:
		t.Fatalf("format %q", format)
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return rows, st
}

// parseOne parses one JSON line and returns its row.
func parseOne(t testing.TB, line string) Row {
	t.Helper()
	rows, _ := parseAll(t, "jsonl", line, Limits{})
	if len(rows) != 1 {
		t.Fatalf("%d rows for %q", len(rows), line)
	}
	return rows[0]
}

func ptr[T any](v T) *T { return &v }
