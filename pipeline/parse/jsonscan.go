package parse

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// The scanner below is strict RFC 8259 JSON, written for this package's one shape (a flat
// object of known names with one nested object) because a general parser builds a tree we
// would walk again: it validates and extracts in one pass, and never allocates per value.
// UTF-8 validity is checked apart, on the whole line (utf8.Valid), so bytes >= 0x80 are plain
// string bytes here.

// strPlain[c] reports whether a JSON string holds byte c as it is (not '"', '\\' or a control).
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns the index of the first byte from i on that a JSON string does not hold
// as it is ('"', '\\' or a control), or len(b): eight bytes at a time, then one by one.
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsb * '"')
		s := x ^ (lsb * '\\')
		// a byte is flagged when it is zero in q or s, or below 0x20 in x (high bit clear)
		m := ((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x)
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && strPlain[b[i]] {
		i++
	}
	return i
}

// skipWS skips JSON white space.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString scans a JSON string whose opening quote is b[i-1]. It returns the index of the
// closing quote and whether the string holds escapes; ok is false when the string is not
// valid JSON (unterminated, a control byte, a bad escape).
func scanString(b []byte, i int) (end int, esc, ok bool) {
	for {
		// plainRun, inlined by hand: this loop is the parse's hottest
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ (lsb * '"')
			s := x ^ (lsb * '\\')
			m := (((q - lsb) &^ q) | ((s - lsb) &^ s) | ((x - lsb*0x20) &^ x)) & msb
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto special
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, esc, false
		}
	special:
		switch b[i] {
		case '"':
			return i, esc, true
		case '\\':
			esc = true
			if i+1 >= len(b) {
				return i, esc, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, esc, false
				}
				if _, ok := hex4(b[i+2 : i+6]); !ok {
					return i, esc, false
				}
				i += 6
			default:
				return i, esc, false
			}
		default: // a control byte: JSON strings must escape them
			return i, esc, false
		}
	}
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// decodeString appends the decoded value of the body s of a JSON string that scanString
// accepted. lone is true when it holds a surrogate escape that is not half of a pair; such a
// half is appended as U+FFFD, but the caller must treat the string as malformed.
func decodeString(dst, s []byte) (out []byte, lone bool) {
	for i := 0; i < len(s); {
		j := bytes.IndexByte(s[i:], '\\')
		if j < 0 {
			return append(dst, s[i:]...), lone
		}
		dst = append(dst, s[i:i+j]...)
		i += j
		switch c := s[i+1]; c {
		case 'u':
			r, _ := hex4(s[i+2:])
			i += 6
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, _ := hex4(s[i+2:]); r2 >= 0xDC00 && r2 < 0xE000 {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						i += 6
						dst = utf8.AppendRune(dst, r)
						continue
					}
				}
				lone = true
				r = utf8.RuneError
			case r >= 0xDC00 && r < 0xE000:
				lone = true
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = append(dst, unescape[c])
			i += 2
		}
	}
	return dst, lone
}

// unescape maps the letter of a one-letter escape to its byte.
var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// scanNumber scans a JSON number token starting at b[i] and returns the index after it.
func scanNumber(b []byte, i int) (int, bool) {
	n := len(b)
	if i < n && b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < n && isDigit(b[i]); i++ {
		}
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		i++
		start := i
		for i < n && isDigit(b[i]) {
			i++
		}
		if i == start {
			return i, false
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < n && isDigit(b[i]) {
			i++
		}
		if i == start {
			return i, false
		}
	}
	return i, true
}

// scanLiteral scans true, false or null at b[i] and returns the index after it.
func scanLiteral(b []byte, i int) (int, bool) {
	rest := b[i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")), bytes.HasPrefix(rest, []byte("null")):
		return i + 4, true
	case bytes.HasPrefix(rest, []byte("false")):
		return i + 5, true
	}
	return i, false
}

// skipValue validates the JSON value at b[i] and returns the index after it. Containers are
// walked without recursion (their nesting is bounded only by the line), with stack holding the
// open brackets.
func skipValue(b []byte, i int, stack *[]byte) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i+1)
		return end + 1, ok
	case c == '{' || c == '[':
	case c == 't' || c == 'f' || c == 'n':
		return scanLiteral(b, i)
	default:
		return scanNumber(b, i)
	}
	st := (*stack)[:0]
	defer func() { *stack = st[:0] }()
	st = append(st, b[i])
	i++
	first := true // just after an opening bracket
	for {
		i = skipWS(b, i)
		if i >= len(b) {
			return i, false
		}
		top := st[len(st)-1]
		c := b[i]
		if first && ((top == '{' && c == '}') || (top == '[' && c == ']')) {
			st = st[:len(st)-1]
			i++
			if len(st) == 0 {
				return i, true
			}
			first = false
			goto afterValue
		}
		first = false
		if top == '{' {
			if c != '"' {
				return i, false
			}
			end, _, ok := scanString(b, i+1)
			if !ok {
				return i, false
			}
			i = skipWS(b, end+1)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			i = skipWS(b, i+1)
			if i >= len(b) {
				return i, false
			}
			c = b[i]
		}
		switch {
		case c == '{' || c == '[':
			st = append(st, c)
			i++
			first = true
			continue
		case c == '"':
			end, _, ok := scanString(b, i+1)
			if !ok {
				return i, false
			}
			i = end + 1
		case c == 't' || c == 'f' || c == 'n':
			var ok bool
			if i, ok = scanLiteral(b, i); !ok {
				return i, false
			}
		default:
			var ok bool
			if i, ok = scanNumber(b, i); !ok {
				return i, false
			}
		}
	afterValue:
		// after a value: a comma, or the closing bracket of the container
		for {
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			top = st[len(st)-1]
			switch c := b[i]; {
			case c == ',':
				i++
			case (top == '{' && c == '}') || (top == '[' && c == ']'):
				st = st[:len(st)-1]
				i++
				if len(st) == 0 {
					return i, true
				}
				continue
			default:
				return i, false
			}
			break
		}
	}
}

// appendQuoted appends s as a JSON string, escaped minimally (doc.go, canonical attributes).
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := plainRun(s, 0); i < len(s); i = plainRun(s, i+1) {
		dst = append(dst, s[start:i]...)
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"
