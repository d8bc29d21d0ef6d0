package parse

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
)

// Fields of an event, in the order of the checks (BILLING.md section 2; doc.go).
const (
	fEventID = iota
	fOccurredAt
	fTenantID
	fDomainName
	fUserID
	fEventType
	fEventValue
	fEventUnit
	fPreview
	fAttributes
	fUsername
	fFirstName
	fLastName
	nFields
)

// fieldNames are the names of the fields, as in the input and in parse_field.
var fieldNames = [nFields]string{"event_id", "occurred_at", "tenant_id", "domain_name", "user_id",
	"event_type", "event_value", "event_unit", "preview", "attributes", "username", "first_name", "last_name"}

// fieldIndex is the field of a name, or -1.
func fieldIndex(name []byte) int {
	switch string(name) {
	case "event_id":
		return fEventID
	case "occurred_at":
		return fOccurredAt
	case "tenant_id":
		return fTenantID
	case "domain_name":
		return fDomainName
	case "user_id":
		return fUserID
	case "event_type":
		return fEventType
	case "event_value":
		return fEventValue
	case "event_unit":
		return fEventUnit
	case "preview":
		return fPreview
	case "attributes":
		return fAttributes
	case "username":
		return fUsername
	case "first_name":
		return fFirstName
	case "last_name":
		return fLastName
	}
	return -1
}

// Kinds of an input value.
const (
	kAbsent = iota
	kNull
	kString // JSON string (decoded), or a CSV cell / record value (text mode)
	kNumber
	kTrue
	kFalse
	kObject
	kArray
)

// fieldIn is one field as read from the input, before its checks.
type fieldIn struct {
	kind uint8
	// text: a string's decoded value, a number's token, an object's JSON text, a cell's text
	text []byte
	// start, end: the value's bytes in a JSON line
	start, end int
	lone       bool // a JSON string with a lone surrogate escape
	// skip: not filled even if it passes (it holds invalid UTF-8, or its name came twice)
	skip bool
}

// row is one parsed line: what goes into the Arrow columns besides line_id, obj_no, line_no
// and raw. Slices point into the line or the parser's buffers: valid until the next line.
type row struct {
	reason, field, detail string
	has                   [nFields]bool
	str                   [nFields][]byte // string fields and the canonical attributes
	ts                    int64           // occurred_at, µs
	val                   Decimal         // event_value
	preview               bool
	hasDigest             bool
	digest                [16]byte
	rawValid              bool // the line is known to be valid UTF-8
}

// reset empties r for the next line, keeping nothing.
func (r *row) reset() { *r = row{} }

// fail sets r's failure and drops its digest.
func (r *row) fail(reason, field, detail string) {
	r.reason, r.field, r.detail = reason, field, detail
	r.hasDigest = false
}

// verdict gathers the failures of a line's fields in check order.
type verdict struct {
	malField, malDetail string
	badTime             bool
	negField            string
}

// malformed notes a malformed field; the first one is named.
func (v *verdict) malformed(field, detail string) {
	if v.malField == "" {
		v.malField, v.malDetail = field, detail
	}
}

// negative notes a negative quantity; the first one is named.
func (v *verdict) negative(field string) {
	if v.negField == "" {
		v.negField = field
	}
}

// kindDetail names what a value is, for parse_detail.
func kindDetail(k uint8) string {
	switch k {
	case kAbsent:
		return "absent"
	case kNull:
		return "null"
	case kString:
		return "a string"
	case kNumber:
		return "a number"
	case kTrue, kFalse:
		return "a boolean"
	case kObject:
		return "an object"
	}
	return "an array"
}

// check runs the field checks (rule 4 of doc.go) over p.in into r: every field that passes
// is filled; the first failure is r's reason. text is true for CSV cells and record values.
func (p *parser) check(r *row, text bool) {
	var v verdict
	in := &p.in
	set := func(f int, b []byte) {
		if !in[f].skip {
			r.has[f], r.str[f] = true, b
		}
	}
	for f := range nFields {
		x := &in[f]
		switch f {
		case fEventID, fTenantID, fUserID, fEventType, fEventUnit:
			switch {
			case x.kind != kString:
				v.malformed(fieldNames[f], "required string is "+kindDetail(x.kind))
			case x.lone:
				v.malformed(fieldNames[f], "a lone surrogate escape")
			case len(x.text) == 0:
				v.malformed(fieldNames[f], "required string is empty")
			default:
				set(f, x.text)
			}
		case fDomainName, fUsername, fFirstName, fLastName:
			switch {
			case x.kind == kAbsent || x.kind == kNull:
			case x.kind == kString && len(x.text) == 0 && !x.lone:
				// "" is absent: a CSV row cannot tell them apart, and a re-delivery of
				// the same event in another format must be the same content
			case x.kind != kString:
				v.malformed(fieldNames[f], "string or null expected, found "+kindDetail(x.kind))
			case x.lone:
				v.malformed(fieldNames[f], "a lone surrogate escape")
			default:
				set(f, x.text)
			}
		case fOccurredAt:
			switch {
			case x.kind != kString:
				v.malformed(fieldNames[f], "RFC 3339 string expected, found "+kindDetail(x.kind))
			case x.lone:
				v.malformed(fieldNames[f], "a lone surrogate escape")
			default:
				if ts, ok := parseTimestamp(x.text); ok {
					r.ts = ts
					set(f, nil)
				} else {
					v.badTime = true
				}
			}
		case fEventValue:
			var d Decimal
			var e decErr
			switch {
			case text && x.kind == kString:
				d, e = parseDecimal(x.text, true)
			case !text && x.kind == kNumber:
				d, e = parseDecimal(x.text, false)
			case text:
				v.malformed(fieldNames[f], "required number is absent")
				continue
			default:
				v.malformed(fieldNames[f], "number expected, found "+kindDetail(x.kind))
				continue
			}
			if e != decOK {
				v.malformed(fieldNames[f], e.detail())
				continue
			}
			r.val = d
			set(f, nil)
			if d < 0 {
				v.negative(fieldNames[f])
			}
		case fPreview:
			pv, ok := false, true
			switch {
			case text && x.kind == kString:
				t := bytes.TrimSpace(x.text)
				switch {
				case len(t) == 0:
				case bytes.EqualFold(t, []byte("true")):
					pv = true
				case !bytes.EqualFold(t, []byte("false")):
					ok = false
				}
			case x.kind == kTrue:
				pv = true
			case x.kind == kAbsent || x.kind == kNull || x.kind == kFalse:
			default:
				ok = false
			}
			if !ok {
				v.malformed(fieldNames[f], "true, false or null expected")
				continue
			}
			r.preview = pv
			set(f, nil)
		case fAttributes:
			p.checkAttributes(r, &v, text, set)
		}
	}
	switch {
	case v.malField != "":
		r.fail(ReasonMalformed, v.malField, v.malDetail)
	case v.badTime:
		r.fail(ReasonBadTimestamp, fieldNames[fOccurredAt], "not an RFC 3339 timestamp with an offset")
	case v.negField != "":
		r.fail(ReasonNegativeValue, v.negField, "")
	default:
		r.digest, r.hasDigest = r.computeDigest(&p.digestBuf), true
	}
}

// checkAttributes checks attributes and its token counts.
func (p *parser) checkAttributes(r *row, v *verdict, text bool, set func(int, []byte)) {
	x := &p.in[fAttributes]
	switch {
	case x.kind == kAbsent || x.kind == kNull:
		return
	case x.skip:
		// invalid UTF-8 or a name twice: the line fails anyway, and is not worth canonicalizing
		return
	case (text && x.kind == kString) || (!text && x.kind == kObject):
	default:
		v.malformed(fieldNames[fAttributes], "object expected, found "+kindDetail(x.kind))
		return
	}
	canon, ok := p.canon.canonical(x.text)
	if !ok {
		v.malformed(fieldNames[fAttributes], p.canon.fail)
		return
	}
	set(fAttributes, canon)
	for t, tok := range p.canon.tokens {
		var d Decimal
		var e decErr
		switch tok.kind {
		case kNumber:
			d, e = parseDecimal(tok.text, false)
		case kString:
			if d, e = parseDecimal(tok.text, true); e == decSyntax {
				continue // not numeric: the rating rule says missing_attribute
			}
		default:
			continue
		}
		if e != decOK {
			v.malformed(tokenFields[t], e.detail())
		} else if d < 0 {
			v.negative(tokenFields[t])
		}
	}
}

// digestVersion starts the digest input; another definition needs another version.
const digestVersion = "creditmeter-event-v1"

// computeDigest is the digest of a parsed row (doc.go), using *scratch as scratch.
func (r *row) computeDigest(scratch *[]byte) [16]byte {
	buf := append((*scratch)[:0], digestVersion...)
	defer func() { *scratch = buf }()
	var num [24]byte
	buf = appendDigestField(buf, true, strconv.AppendInt(num[:0], r.ts, 10))
	buf = appendDigestField(buf, r.has[fDomainName], r.str[fDomainName])
	buf = appendDigestField(buf, true, r.str[fUserID])
	buf = appendDigestField(buf, true, r.str[fEventType])
	buf = appendDigestField(buf, true, r.val.appendText(num[:0]))
	buf = appendDigestField(buf, true, r.str[fEventUnit])
	pv := "false"
	if r.preview {
		pv = "true"
	}
	buf = append(buf, 1, byte(len(pv)))
	buf = append(buf, pv...)
	buf = appendDigestField(buf, r.has[fAttributes], r.str[fAttributes])
	buf = appendDigestField(buf, r.has[fUsername], r.str[fUsername])
	buf = appendDigestField(buf, r.has[fFirstName], r.str[fFirstName])
	buf = appendDigestField(buf, r.has[fLastName], r.str[fLastName])
	sum := sha256.Sum256(buf)
	return [16]byte(sum[:16])
}

// appendDigestField appends one field of the digest input: 0 when absent, else 1, the
// uvarint length and the bytes.
func appendDigestField(buf []byte, present bool, b []byte) []byte {
	if !present {
		return append(buf, 0)
	}
	buf = append(buf, 1)
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// Event is a parsed event's content, for computing its digest outside a parse. Optional
// fields are nil when absent or null.
type Event struct {
	EventID, TenantID string // the identity: not part of the digest
	OccurredAt        int64  // µs since the Unix epoch
	DomainName        *string
	UserID            string
	EventType         string
	EventValue        Decimal
	EventUnit         string
	Preview           bool
	Attributes        *string // canonical JSON text (CanonicalJSON)
	Username          *string
	FirstName         *string
	LastName          *string
}

// Digest is the content digest of e (doc.go); e.Attributes must already be canonical.
func Digest(e *Event) [16]byte {
	var r row
	r.ts, r.val, r.preview = e.OccurredAt, e.EventValue, e.Preview
	r.str[fUserID], r.str[fEventType], r.str[fEventUnit] = []byte(e.UserID), []byte(e.EventType), []byte(e.EventUnit)
	for f, s := range map[int]*string{fDomainName: e.DomainName, fAttributes: e.Attributes,
		fUsername: e.Username, fFirstName: e.FirstName, fLastName: e.LastName} {
		if s != nil {
			r.has[f], r.str[f] = true, []byte(*s)
		}
	}
	var buf []byte
	return r.computeDigest(&buf)
}
