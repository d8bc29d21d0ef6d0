package parse

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// Limits bound what one line may cost (configuration block `limits:`). Zero values mean the
// defaults.
type Limits struct {
	// MaxLineBytes is the longest line (CSV: record, without its line terminator) that is
	// parsed; a longer one is malformed "(line)" and only its first MaxLineBytes bytes are kept
	// as raw. Default 1 MiB.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxAttributes is the most keys attributes may hold in total, nested objects included;
	// more is malformed "attributes". Default 256.
	MaxAttributes int `yaml:"max_attributes"`
	// MaxDepth is the deepest nesting of attributes (the attributes object itself is depth 1,
	// each object or array inside it one more); deeper is malformed "attributes". Default 32.
	MaxDepth int `yaml:"max_depth"`
}

// Default limits.
const (
	DefaultMaxLineBytes  = 1 << 20
	DefaultMaxAttributes = 256
	DefaultMaxDepth      = 32
)

// withDefaults returns l with its zero (or negative) values replaced by the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Source identifies the object being parsed.
type Source struct {
	// ObjNo is the object's number (the caller's), stored in every row.
	ObjNo int32
	// LineIDBase makes line ids: the line_id of a row is LineIDBase + its line number.
	LineIDBase int64
}

// Stats counts what a parse read.
type Stats struct {
	// Lines is the number of rows produced: non-blank lines (CSV: records after the header).
	Lines int64
	// Blank is the number of blank lines skipped (they are not events, BILLING.md section 9).
	Blank int64
	// Bytes is the number of (decompressed) bytes read from the reader.
	Bytes int64
}

// Column numbers of [Schema].
const (
	ColLineID = iota
	ColObjNo
	ColLineNo
	ColRaw
	ColParseReason
	ColParseField
	ColParseDetail
	ColEventID
	ColOccurredAt
	ColTenantID
	ColDomainName
	ColUserID
	ColEventType
	ColEventValue
	ColEventUnit
	ColPreview
	ColAttributes
	ColUsername
	ColFirstName
	ColLastName
	ColDigest
	numCols
)

// Parse reasons (BILLING.md section 2).
const (
	ReasonMalformed     = "malformed"
	ReasonBadTimestamp  = "bad_timestamp"
	ReasonNegativeValue = "negative_value"
)

// FieldLine is the parse_field of a failure that belongs to no one field.
const FieldLine = "(line)"

// EventValueType is the Arrow type of event_value: exact decimals with 6 places, below 10^12
// (BILLING.md section 9), DuckDB DECIMAL(18,6).
var EventValueType = &arrow.Decimal128Type{Precision: 18, Scale: 6}

// Schema is the Arrow schema of the record batches. Its column order is fixed: the warehouse
// table lines has these columns in this order, so a loader can INSERT ... SELECT * from a batch.
// occurred_at is µs since the epoch, UTC (DuckDB TIMESTAMPTZ); digest is DuckDB BLOB.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "line_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "obj_no", Type: arrow.PrimitiveTypes.Int32},
	{Name: "line_no", Type: arrow.PrimitiveTypes.Int64},
	{Name: "raw", Type: arrow.BinaryTypes.String},
	{Name: "parse_reason", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "parse_field", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "parse_detail", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "occurred_at", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
	{Name: "tenant_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "domain_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_type", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event_value", Type: EventValueType, Nullable: true},
	{Name: "event_unit", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "preview", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "attributes", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "username", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "first_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "last_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "digest", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true},
}, nil)
