package parse

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// canonicalizer writes the canonical JSON of attributes (doc.go) and enforces the limits.
// It recurses, but never deeper than Limits.MaxDepth.
type canonicalizer struct {
	lim  Limits
	b    []byte // the text being read
	i    int
	out  []byte // the canonical text; keys being sorted live here too
	ents []canonEntry
	keys int
	tmp  []byte // a decoded string value
	// fail is the parse_detail of the first failure; syntax tells a text that is not JSON
	// from one that breaks a rule of attributes.
	fail   string
	syntax bool
	// tokens: the top-level input_tokens and output_tokens
	tokens [2]tokenValue
	tokBuf [2][]byte
}

// canonEntry is one member of an object being written: its decoded key and its canonical
// `"key":value` text, as offsets into out.
type canonEntry struct {
	keyOff, keyLen, memOff, memLen int
}

// tokenValue is a top-level attribute the parse checks: input_tokens or output_tokens.
type tokenValue struct {
	kind uint8  // kAbsent, kNumber, kString or another kind
	text []byte // the number token, or the decoded string
}

// Token attribute names, in check order.
var tokenNames = [2]string{"input_tokens", "output_tokens"}

// tokenFields are the parse_field names of the token attributes.
var tokenFields = [2]string{"attributes.input_tokens", "attributes.output_tokens"}

// canonical reads the attributes text b: one JSON object, with optional JSON white space
// around it. It returns the canonical text (valid until the next call) or ok false, with the
// reason in c.fail.
func (c *canonicalizer) canonical(b []byte) (out []byte, ok bool) {
	c.b, c.out, c.ents, c.keys, c.fail, c.syntax = b, c.out[:0], c.ents[:0], 0, "", false
	c.tokens = [2]tokenValue{}
	c.i = skipWS(b, 0)
	if c.i >= len(b) || b[c.i] != '{' {
		c.fail, c.syntax = "not a JSON object", true
		return nil, false
	}
	if !c.object(1) {
		return nil, false
	}
	if c.i = skipWS(b, c.i); c.i != len(b) {
		c.fail, c.syntax = "not a JSON object", true
		return nil, false
	}
	return c.out, true
}

// bad records the first failure and returns false.
func (c *canonicalizer) bad(detail string, syntax bool) bool {
	if c.fail == "" {
		c.fail, c.syntax = detail, syntax
	}
	return false
}

// notJSON is the failure of text that is not valid JSON.
func (c *canonicalizer) notJSON() bool { return c.bad("not valid JSON", true) }

// value writes the canonical form of the value at c.i, at nesting depth depth (of the
// container holding it).
func (c *canonicalizer) value(depth int) bool {
	b := c.b
	if c.i >= len(b) {
		return c.notJSON()
	}
	switch ch := b[c.i]; {
	case ch == '{':
		return c.object(depth + 1)
	case ch == '[':
		return c.array(depth + 1)
	case ch == '"':
		return c.str()
	case ch == 't' || ch == 'f' || ch == 'n':
		end, ok := scanLiteral(b, c.i)
		if !ok {
			return c.notJSON()
		}
		c.out = append(c.out, b[c.i:end]...)
		c.i = end
	default:
		end, ok := scanNumber(b, c.i)
		if !ok {
			return c.notJSON()
		}
		c.out = appendCanonNumber(c.out, b[c.i:end])
		c.i = end
	}
	return true
}

// str writes a string value.
func (c *canonicalizer) str() bool {
	end, esc, ok := scanString(c.b, c.i+1)
	if !ok {
		return c.notJSON()
	}
	body := c.b[c.i+1 : end]
	c.i = end + 1
	if !esc {
		// nothing in it needs escaping: no '"', '\\' or control byte
		c.out = append(c.out, '"')
		c.out = append(c.out, body...)
		c.out = append(c.out, '"')
		return true
	}
	var lone bool
	c.tmp, lone = decodeString(c.tmp[:0], body)
	if lone {
		return c.bad("a string holds a lone surrogate escape", false)
	}
	c.out = appendQuoted(c.out, c.tmp)
	return true
}

// deep fails on nesting deeper than the limit.
func (c *canonicalizer) deep(depth int) bool {
	if depth > c.lim.MaxDepth {
		return !c.bad(fmt.Sprintf("nested deeper than limits.max_depth (%d)", c.lim.MaxDepth), false)
	}
	return false
}

// array writes the array at c.i.
func (c *canonicalizer) array(depth int) bool {
	if c.deep(depth) {
		return false
	}
	b := c.b
	c.out = append(c.out, '[')
	c.i = skipWS(b, c.i+1)
	if c.i < len(b) && b[c.i] == ']' {
		c.i++
		c.out = append(c.out, ']')
		return true
	}
	for {
		if !c.value(depth) {
			return false
		}
		c.i = skipWS(b, c.i)
		if c.i >= len(b) {
			return c.notJSON()
		}
		switch b[c.i] {
		case ',':
			c.out = append(c.out, ',')
			c.i = skipWS(b, c.i+1)
		case ']':
			c.i++
			c.out = append(c.out, ']')
			return true
		default:
			return c.notJSON()
		}
	}
}

// object writes the object at c.i, its members sorted by decoded key.
func (c *canonicalizer) object(depth int) bool {
	if c.deep(depth) {
		return false
	}
	b := c.b
	entStart, outStart := len(c.ents), len(c.out)
	c.i = skipWS(b, c.i+1)
	if c.i < len(b) && b[c.i] == '}' {
		c.i++
		c.out = append(c.out, '{', '}')
		return true
	}
	for {
		if c.i >= len(b) || b[c.i] != '"' {
			return c.notJSON()
		}
		quote := c.i
		end, esc, ok := scanString(b, c.i+1)
		if !ok {
			return c.notJSON()
		}
		if c.keys++; c.keys > c.lim.MaxAttributes {
			return c.bad(fmt.Sprintf("more than limits.max_attributes (%d) keys", c.lim.MaxAttributes), false)
		}
		keyOff := len(c.out)
		if esc {
			var lone bool
			if c.out, lone = decodeString(c.out, b[c.i+1:end]); lone {
				return c.bad("a key holds a lone surrogate escape", false)
			}
		} else {
			c.out = append(c.out, b[c.i+1:end]...)
		}
		keyLen := len(c.out) - keyOff
		c.i = skipWS(b, end+1)
		if c.i >= len(b) || b[c.i] != ':' {
			return c.notJSON()
		}
		c.i = skipWS(b, c.i+1)
		memOff := len(c.out)
		if esc {
			c.out = appendQuoted(c.out, c.out[keyOff:keyOff+keyLen])
		} else { // nothing in it needs escaping: the key as written, quotes included
			c.out = append(c.out, b[quote:end+1]...)
		}
		c.out = append(c.out, ':')
		valStart := c.i
		if !c.value(depth) {
			return false
		}
		if depth == 1 {
			c.noteToken(c.out[keyOff:keyOff+keyLen], valStart)
		}
		c.ents = append(c.ents, canonEntry{keyOff, keyLen, memOff, len(c.out) - memOff})
		c.i = skipWS(b, c.i)
		if c.i >= len(b) {
			return c.notJSON()
		}
		if b[c.i] == ',' {
			c.i = skipWS(b, c.i+1)
			continue
		}
		if b[c.i] != '}' {
			return c.notJSON()
		}
		c.i++
		break
	}
	ents := c.ents[entStart:]
	sortEntries(ents, c.out)
	for j := 1; j < len(ents); j++ {
		if c.key(ents[j-1]) == c.key(ents[j]) {
			return c.bad("a key appears twice in one object", false)
		}
	}
	// write the sorted object after everything, then move it down over the scratch keys
	objOff := len(c.out)
	c.out = append(c.out, '{')
	for j, e := range ents {
		if j > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.out[e.memOff:e.memOff+e.memLen]...)
	}
	c.out = append(c.out, '}')
	n := copy(c.out[outStart:], c.out[objOff:])
	c.out = c.out[:outStart+n]
	c.ents = c.ents[:entStart]
	return true
}

// key is the decoded key of e; the string conversion in a comparison does not allocate.
func (c *canonicalizer) key(e canonEntry) string {
	return string(c.out[e.keyOff : e.keyOff+e.keyLen])
}

// noteToken keeps the value of a top-level input_tokens or output_tokens, which starts at
// c.b[valStart] and ends at c.i.
func (c *canonicalizer) noteToken(key []byte, valStart int) {
	t := -1
	for k, name := range tokenNames {
		if string(key) == name {
			t = k
		}
	}
	if t < 0 {
		return
	}
	v := c.b[valStart:c.i]
	switch v[0] {
	case '"':
		c.tokBuf[t], _ = decodeString(c.tokBuf[t][:0], v[1:len(v)-1])
		c.tokens[t] = tokenValue{kind: kString, text: c.tokBuf[t]}
	case '{', '[', 't', 'f', 'n':
		c.tokens[t] = tokenValue{kind: kObject}
	default:
		c.tokens[t] = tokenValue{kind: kNumber, text: v}
	}
}

// sortEntries sorts members by decoded key bytes: insertion sort for the usual handful.
func sortEntries(ents []canonEntry, out []byte) {
	key := func(e canonEntry) []byte { return out[e.keyOff : e.keyOff+e.keyLen] }
	if len(ents) > 12 {
		slices.SortFunc(ents, func(a, b canonEntry) int { return bytes.Compare(key(a), key(b)) })
		return
	}
	for i := 1; i < len(ents); i++ {
		for j := i; j > 0 && bytes.Compare(key(ents[j-1]), key(ents[j])) > 0; j-- {
			ents[j-1], ents[j] = ents[j], ents[j-1]
		}
	}
}

// ErrNotAttributes is returned by CanonicalJSON for text that is not a JSON object within the
// limits.
var ErrNotAttributes = errors.New("not valid attributes")

// CanonicalJSON returns the canonical text (doc.go) of attributes given as JSON text: one JSON
// object, within lim (zero values: the defaults), with no name twice in any object and no lone
// surrogate escape. Its input must be valid UTF-8.
func CanonicalJSON(text []byte, lim Limits) ([]byte, error) {
	c := canonicalizer{lim: lim.withDefaults()}
	out, ok := c.canonical(text)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotAttributes, c.fail)
	}
	return bytes.Clone(out), nil
}
