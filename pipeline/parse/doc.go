// Package parse reads raw event objects (BILLING.md section 2, FORMATS.md "Raw events") in Go,
// exactly, into Apache Arrow record batches whose columns are those of the warehouse table
// lines ([Schema]). It has no I/O of its own beyond the reader it is given and no DuckDB.
//
// Every non-blank line (CSV: record; Parquet: row) becomes exactly one row. A row either holds
// a parsed event (parse_reason NULL, every required field and the digest set) or carries
// parse_reason malformed | bad_timestamp | negative_value, parse_field naming the first bad
// field and, where it helps, parse_detail (never the line's content). On failure the fields
// that were read successfully are still filled, for the quarantine report; the digest is then
// NULL. Bad content never returns an error: errors are only the reader's, the context's and
// flush's.
//
// # Checks, first failure wins
//
//  1. invalid UTF-8 anywhere in the line: malformed, field = the top-level field whose value
//     holds the first bad byte (CSV: the column), else "(line)". Bytes are never "repaired",
//     so two ids that differ in invalid bytes never become equal.
//  2. a line longer than [Limits].MaxLineBytes: malformed "(line)". The line is not parsed (and
//     not kept past the limit), so a long line is reported for its length even when it also
//     holds invalid UTF-8.
//  3. not one JSON object (RFC 8259, strictly: no trailing garbage, no comments, no NaN), or a
//     top-level name that appears twice (names compared decoded: "a" and "\u0061" are one
//     name): malformed "(line)", resp. the name.
//  4. the fields in the order event_id, occurred_at, tenant_id, domain_name, user_id,
//     event_type, event_value, event_unit, preview, attributes (then attributes.input_tokens,
//     attributes.output_tokens), username, first_name, last_name. A malformed field beats a
//     bad_timestamp, which beats a negative_value. An optional string that is empty ("") is
//     absent, as a CSV cell can only be: the same event in two formats has one content.
//
// # Digest
//
// The digest compares the content of two events with one identity (BILLING.md section 9). It
// is the product's own and must never change; a change is a new version string. It is the first
// 16 bytes of SHA-256 over the bytes "creditmeter-event-v1" followed by, for each of
//
//	occurred_at  (µs since 1970-01-01T00:00:00Z, decimal text, "-" for negatives)
//	domain_name, user_id, event_type
//	event_value  (canonical decimal: no exponent, no trailing fractional zeros, "0" for zero)
//	event_unit
//	preview      ("true" or "false"; an absent preview is "false", so always present)
//	attributes   (canonical JSON, see below)
//	username, first_name, last_name
//
// one byte 0 when the field is absent or null, else one byte 1, the length of its bytes as an
// unsigned varint (encoding/binary.AppendUvarint) and the bytes. event_id and tenant_id are the
// identity, not content, and are not part of it.
//
// # Canonical attributes
//
// Object keys are sorted by their decoded bytes at every depth, with no whitespace. Strings are
// re-encoded minimally: `"` and `\` escaped, \b \f \n \r \t for those controls, \u00xx (lower
// case) for the other bytes below 0x20, everything else (including U+2028, <, >, &) as UTF-8.
// Numbers are written as their exact decimal value in plain form, without exponent, trailing
// fractional zeros or a sign on zero (1e3 -> 1000, 1.50 -> 1.5, -0 -> 0), when the exponent
// written in the token is at most 100 in magnitude; otherwise the token is kept as written.
// Attributes that differ only in key order, whitespace, string escapes or number spelling thus
// have the same canonical text.
package parse
