package parse

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"
)

// parser holds the buffers reused from line to line.
type parser struct {
	lim       Limits
	in        [nFields]fieldIn
	scratch   []byte // decoded strings of the current line
	stack     []byte // skipValue's open brackets
	names     []nameRef
	members   []memberSpan // only while looking for the field of an invalid byte
	track     bool
	canon     canonicalizer
	digestBuf []byte
	out       row
}

// nameRef is a top-level name that is not a field, kept to find names given twice.
type nameRef struct {
	name []byte
	ord  int
}

// memberSpan is where one top-level member lies in the line.
type memberSpan struct {
	name                       []byte // decoded
	nameStart, nameEnd, valEnd int    // the name's opening and closing quote, the value's end
	lone                       bool
}

func newParser(lim Limits) *parser {
	p := &parser{lim: lim}
	p.canon.lim = lim
	return p
}

// maxNameInField is the most bytes of an input name that parse_field repeats.
const maxNameInField = 64

// nameField is parse_field for an input name: at most maxNameInField bytes, cut on a rune.
func nameField(name []byte) string {
	if len(name) > maxNameInField {
		return string(truncateRunes(name, maxNameInField)) + "..."
	}
	return string(name)
}

// jsonLine parses one JSON line (without its terminator, not longer than the limit) into p.out.
func (p *parser) jsonLine(line []byte) {
	r := &p.out
	r.reset()
	p.in = [nFields]fieldIn{}
	if cap(p.scratch) < len(line) {
		p.scratch = make([]byte, 0, len(line)+len(line)/4)
	}
	p.scratch = p.scratch[:0]
	if utf8.Valid(line) {
		r.rawValid = true
		field, detail, ok := p.object(line)
		if !ok {
			r.fail(ReasonMalformed, FieldLine, detail)
			return
		}
		p.check(r, false)
		if field != "" {
			r.fail(ReasonMalformed, field, detail)
		}
		return
	}
	p.invalidUTF8(line)
}

// invalidUTF8 handles a line that is not valid UTF-8 (rule 1): malformed, naming the
// top-level field whose value holds the first bad byte; the other fields are still filled.
func (p *parser) invalidUTF8(line []byte) {
	r := &p.out
	bad := firstInvalid(line)
	detail := fmt.Sprintf("invalid UTF-8 at byte %d", bad)
	p.track, p.members = true, p.members[:0]
	_, _, ok := p.object(line)
	p.track = false
	if !ok {
		r.fail(ReasonMalformed, FieldLine, detail)
		return
	}
	field := FieldLine
	for _, m := range p.members {
		if bad >= m.nameStart && bad < m.valEnd {
			// in the value, not in the name; a member named "" is named by the line
			if bad > m.nameEnd && !m.lone && len(m.name) > 0 {
				field = nameField(m.name)
			}
			break
		}
	}
	for f := range p.in {
		x := &p.in[f]
		if x.kind != kAbsent && !utf8.Valid(line[x.start:x.end]) {
			x.skip = true
		}
	}
	p.check(r, false)
	r.fail(ReasonMalformed, field, detail)
}

// firstInvalid is the offset of the first byte of b that is not valid UTF-8.
func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// object reads the top-level JSON object of line into p.in. ok is false when the line is not
// one JSON object (rule 3, field "(line)"); field is set when it is one, but a name in it comes
// twice or holds a lone surrogate escape.
func (p *parser) object(b []byte) (field, detail string, ok bool) {
	const notObject = "not a JSON object"
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", notObject, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
		if skipWS(b, i) != len(b) {
			return "", notObject, false
		}
		return "", "", true
	}
	p.names = p.names[:0]
	dupOrd, dupName := -1, ""
	badName := false
	for ord := 0; ; ord++ {
		if i >= len(b) || b[i] != '"' {
			return "", notObject, false
		}
		nameStart := i
		end, esc, ok := scanString(b, i+1)
		if !ok {
			return "", notObject, false
		}
		name := b[i+1 : end]
		lone := false
		if esc {
			off := len(p.scratch)
			p.scratch, lone = decodeString(p.scratch, name)
			name = p.scratch[off:]
			badName = badName || lone
		}
		i = skipWS(b, end+1)
		if i >= len(b) || b[i] != ':' {
			return "", notObject, false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return "", notObject, false
		}
		var x *fieldIn
		if f := fieldIndex(name); f >= 0 {
			x = &p.in[f]
			if x.kind != kAbsent {
				x.skip = true // a name given twice: neither reading is filled
				if dupOrd < 0 {
					dupOrd, dupName = ord, fieldNames[f]
				}
				x = nil
			}
		} else {
			p.names = append(p.names, nameRef{name, ord})
		}
		start := i
		var kind uint8
		switch c := b[i]; {
		case c == '"':
			end, esc, ok := scanString(b, i+1)
			if !ok {
				return "", notObject, false
			}
			if x != nil {
				x.text = b[i+1 : end]
				if esc {
					off := len(p.scratch)
					p.scratch, x.lone = decodeString(p.scratch, x.text)
					x.text = p.scratch[off:]
				}
			}
			i, kind = end+1, kString
		case c == '{' || c == '[':
			if i, ok = skipValue(b, i, &p.stack); !ok {
				return "", notObject, false
			}
			kind = kObject
			if c == '[' {
				kind = kArray
			}
			if x != nil {
				x.text = b[start:i]
			}
		case c == 't' || c == 'f' || c == 'n':
			if i, ok = scanLiteral(b, i); !ok {
				return "", notObject, false
			}
			switch c {
			case 't':
				kind = kTrue
			case 'f':
				kind = kFalse
			default:
				kind = kNull
			}
		default:
			if i, ok = scanNumber(b, i); !ok {
				return "", notObject, false
			}
			kind = kNumber
			if x != nil {
				x.text = b[start:i]
			}
		}
		if x != nil {
			x.kind, x.start, x.end = kind, start, i
		}
		if p.track {
			p.members = append(p.members, memberSpan{name: name, nameStart: nameStart, nameEnd: end, valEnd: i, lone: lone})
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return "", notObject, false
		}
		if b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if b[i] != '}' {
			return "", notObject, false
		}
		i++
		break
	}
	if skipWS(b, i) != len(b) {
		return "", notObject, false
	}
	if badName {
		return FieldLine, "a name holds a lone surrogate escape", true
	}
	if ord, name := p.unknownTwice(); ord >= 0 && (dupOrd < 0 || ord < dupOrd) {
		dupOrd, dupName = ord, name
	}
	if dupOrd >= 0 {
		return dupName, "name given twice", true
	}
	return "", "", true
}

// unknownTwice finds the other names given twice: the one whose second occurrence comes
// first, and the ordinal of that occurrence (-1: none).
func (p *parser) unknownTwice() (int, string) {
	if len(p.names) < 2 {
		return -1, ""
	}
	slices.SortFunc(p.names, func(a, b nameRef) int {
		if c := bytes.Compare(a.name, b.name); c != 0 {
			return c
		}
		return a.ord - b.ord
	})
	best, name := -1, ""
	for j := 1; j < len(p.names); j++ {
		a, b := p.names[j-1], p.names[j]
		if bytes.Equal(a.name, b.name) && (j == 1 || !bytes.Equal(p.names[j-2].name, a.name)) {
			if best < 0 || b.ord < best {
				best, name = b.ord, nameField(b.name)
			}
		}
	}
	return best, name
}

// truncateRunes cuts b to at most n bytes without splitting a UTF-8 sequence.
func truncateRunes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	cut := n
	for cut > 0 && cut > n-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if !utf8.RuneStart(b[cut]) {
		cut = n // not UTF-8 here anyway
	}
	return b[:cut]
}
