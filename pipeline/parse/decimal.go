package parse

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Decimal is an exact quantity in millionths: 1.5 is Decimal(1_500_000). Quantities have at
// most 6 fractional digits and an absolute value below 10^12 (BILLING.md section 9), so every
// one fits, with room, in an int64.
type Decimal int64

// DecimalScale is the number of Decimal units in 1.
const DecimalScale = 1_000_000

// decErr says why a number is not a quantity.
type decErr uint8

const (
	decOK      decErr = iota
	decSyntax         // not a number at all
	decPrecise        // needs more than 6 fractional digits
	decLarge          // absolute value not below 10^12
)

// detail is the parse_detail of a number that is not a quantity.
func (e decErr) detail() string {
	switch e {
	case decSyntax:
		return "not a decimal number"
	case decPrecise:
		return "more than 6 fractional digits"
	case decLarge:
		return "absolute value not below 10^12"
	}
	return ""
}

// Errors of ParseDecimal.
var (
	ErrNotDecimal  = errors.New("not a decimal number")
	ErrTooPrecise  = errors.New("more than 6 fractional digits")
	ErrOutOfBounds = errors.New("absolute value not below 10^12")
)

// ParseDecimal reads a quantity from decimal text as a CSV cell holds it: surrounding white
// space trimmed, an optional sign, digits with an optional point (".5" and "5." are numbers)
// and an optional exponent. The value is exact: 1e3 is 1000 and 0.5000000 is 0.5; one that
// needs more than 6 fractional digits or is 10^12 or more in magnitude is an error.
func ParseDecimal(s string) (Decimal, error) {
	d, e := parseDecimal([]byte(s), true)
	switch e {
	case decSyntax:
		return 0, ErrNotDecimal
	case decPrecise:
		return 0, ErrTooPrecise
	case decLarge:
		return 0, ErrOutOfBounds
	}
	return d, nil
}

// String is the canonical text of d: no exponent, no trailing fractional zeros, "0" for zero.
func (d Decimal) String() string { return string(d.appendText(nil)) }

// Num128 is d as an Arrow decimal128 of scale 6.
func (d Decimal) Num128() decimal128.Num { return decimal128.FromI64(int64(d)) }

// appendText appends the canonical text of d.
func (d Decimal) appendText(dst []byte) []byte {
	v := uint64(d)
	if d < 0 {
		dst = append(dst, '-')
		v = uint64(-d)
	}
	dst = strconv.AppendUint(dst, v/DecimalScale, 10)
	frac := v % DecimalScale
	if frac == 0 {
		return dst
	}
	var digits [6]byte
	for i := 5; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 6
	for digits[n-1] == '0' {
		n--
	}
	dst = append(dst, '.')
	return append(dst, digits[:n]...)
}

// numParts is a number split into its sign, digits and written exponent.
type numParts struct {
	neg       bool
	intDigits []byte
	frac      []byte
	exp       int64 // the written exponent, saturated at ±1e15
	expDigits []byte
	expNeg    bool
}

// splitNumber splits s into its parts. With text false, s must be a JSON number token
// (RFC 8259: no '+', no leading zeros, digits on both sides of a point); with text true it
// is decimal text as a CSV cell may hold it (a leading '+', leading zeros, ".5" and "5.").
func splitNumber(s []byte, text bool) (numParts, bool) {
	var p numParts
	i, n := 0, len(s)
	if i < n && (s[i] == '-' || (text && s[i] == '+')) {
		p.neg = s[i] == '-'
		i++
	}
	start := i
	for i < n && isDigit(s[i]) {
		i++
	}
	p.intDigits = s[start:i]
	if !text && (len(p.intDigits) == 0 || (len(p.intDigits) > 1 && p.intDigits[0] == '0')) {
		return p, false
	}
	if i < n && s[i] == '.' {
		i++
		start = i
		for i < n && isDigit(s[i]) {
			i++
		}
		p.frac = s[start:i]
		if !text && len(p.frac) == 0 {
			return p, false
		}
	}
	if len(p.intDigits) == 0 && len(p.frac) == 0 {
		return p, false
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '-' || s[i] == '+') {
			p.expNeg = s[i] == '-'
			i++
		}
		start = i
		for i < n && isDigit(s[i]) {
			if p.exp < 1e15 {
				p.exp = p.exp*10 + int64(s[i]-'0')
			}
			i++
		}
		p.expDigits = s[start:i]
		if len(p.expDigits) == 0 {
			return p, false
		}
		if p.expNeg {
			p.exp = -p.exp
		}
	}
	return p, i == n
}

// digit is the j-th digit of the number's digit string (integer digits, then fraction).
func (p *numParts) digit(j int) byte {
	if j < len(p.intDigits) {
		return p.intDigits[j]
	}
	return p.frac[j-len(p.intDigits)]
}

// significant finds the significant digits: the value is digits[first..last] * 10^k; ok is
// false for zero.
func (p *numParts) significant() (first, last int, k int64, ok bool) {
	total := len(p.intDigits) + len(p.frac)
	for first < total && p.digit(first) == '0' {
		first++
	}
	if first == total {
		return 0, 0, 0, false
	}
	last = total - 1
	for p.digit(last) == '0' {
		last--
	}
	k = p.exp - int64(len(p.frac)) + int64(total-1-last)
	return first, last, k, true
}

// parseDecimal reads a quantity (see ParseDecimal; text false: s is a JSON number token).
func parseDecimal(s []byte, text bool) (Decimal, decErr) {
	if text {
		s = bytes.TrimSpace(s)
	}
	p, ok := splitNumber(s, text)
	if !ok {
		return 0, decSyntax
	}
	first, last, k, nonzero := p.significant()
	if !nonzero {
		return 0, decOK
	}
	n := int64(last - first + 1)
	if n+k > 12 {
		return 0, decLarge
	}
	if k < -6 {
		return 0, decPrecise
	}
	// n + k + 6 <= 18 digits: fits an int64
	var v int64
	for j := first; j <= last; j++ {
		v = v*10 + int64(p.digit(j)-'0')
	}
	for e := k + 6; e > 0; e-- {
		v *= 10
	}
	if p.neg {
		v = -v
	}
	return Decimal(v), decOK
}

// appendCanonNumber appends the canonical form of a JSON number token (doc.go): its exact
// value in plain decimal when the written exponent is at most 100 in magnitude, else the token.
func appendCanonNumber(dst, tok []byte) []byte {
	if plainInteger(tok) {
		return append(dst, tok...)
	}
	p, ok := splitNumber(tok, false)
	if !ok || p.exp > 100 || p.exp < -100 {
		return append(dst, tok...)
	}
	first, last, k, nonzero := p.significant()
	if !nonzero {
		return append(dst, '0')
	}
	if p.neg {
		dst = append(dst, '-')
	}
	n := int64(last - first + 1)
	switch point := n + k; {
	case k >= 0:
		dst = p.appendDigits(dst, first, last)
		for ; k > 0; k-- {
			dst = append(dst, '0')
		}
	case point > 0:
		dst = p.appendDigits(dst, first, first+int(point)-1)
		dst = append(dst, '.')
		dst = p.appendDigits(dst, first+int(point), last)
	default:
		dst = append(dst, '0', '.')
		for ; point < 0; point++ {
			dst = append(dst, '0')
		}
		dst = p.appendDigits(dst, first, last)
	}
	return dst
}

// plainInteger reports whether a JSON number token is already canonical: an integer without
// exponent (a valid token has no leading zero), and not -0.
func plainInteger(tok []byte) bool {
	digits := tok
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
		if len(digits) == 1 && digits[0] == '0' {
			return false
		}
	}
	for _, c := range digits {
		if !isDigit(c) {
			return false
		}
	}
	return len(digits) > 0
}

// appendDigits appends digits from..to (inclusive) of the digit string.
func (p *numParts) appendDigits(dst []byte, from, to int) []byte {
	ni := len(p.intDigits)
	if from < ni {
		dst = append(dst, p.intDigits[from:min(to+1, ni)]...)
	}
	if to >= ni {
		dst = append(dst, p.frac[max(from-ni, 0):to+1-ni]...)
	}
	return dst
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
