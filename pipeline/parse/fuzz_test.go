package parse

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The generator below makes random valid events with their expected values computed apart
// from the code under test: instants by package time, decimals and canonical numbers by
// math/big, canonical strings by a writer of its own.

// genEvent is a random valid event and what parsing it must give.
type genEvent struct {
	EventID, TenantID, UserID, EventType, EventUnit string
	DomainName, Username, FirstName, LastName       *string
	OccurredText                                    string
	OccurredUS                                      int64
	Value                                           Decimal
	Preview                                         *bool          // nil: absent
	PreviewNull                                     bool           // written as null
	Attrs                                           map[string]any // nil: absent
	AttrsNull                                       bool
	CRLF                                            bool // the CSV was written with UseCRLF
}

// alphabet holds the characters strings are made of: JSON's and CSV's special ones above all.
var alphabet = []string{"a", "Z", "0", " ", ",", `"`, `\`, "/", "\n", "\r", "\r\n", "\t", "\x00", "\x01", "\x1f",
	"\x7f", "é", "😀", "\u2028", "\u2029", "\ufeff", "\ufffd", "\U0010ffff", "<", ">", "&", "'", "{", "}", "[",
	"]", ":", "\u0085", "中", "\u00a0", "e", "-", "."}

// randString is a valid UTF-8 string of up to max pieces.
func randString(rng *rand.Rand, max int) string {
	var b strings.Builder
	for range rng.IntN(max + 1) {
		if rng.IntN(4) == 0 {
			r := rune(rng.IntN(0x110000))
			if !utf8.ValidRune(r) {
				r = 'x'
			}
			b.WriteRune(r)
		} else {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
	}
	return b.String()
}

// randRequired is a non-empty random string.
func randRequired(rng *rand.Rand) string {
	for {
		if s := randString(rng, 12); s != "" {
			return s
		}
	}
}

// randOptional is absent, empty or a random string.
func randOptional(rng *rand.Rand) *string {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return ptr("")
	}
	return ptr(randString(rng, 12))
}

// randInstant writes a random instant in RFC 3339, in any of the spellings the parse accepts.
func randInstant(rng *rand.Rand) (string, int64) {
	offMin := 0
	if rng.IntN(3) > 0 {
		offMin = rng.IntN(2*1439+1) - 1439
	}
	loc := time.FixedZone("", offMin*60)
	y := 1 + rng.IntN(9999)
	if rng.IntN(2) == 0 {
		y = 1970 + rng.IntN(100)
	}
	mo := time.Month(1 + rng.IntN(12))
	d := 1 + rng.IntN(int(daysIn(int64(y), int64(mo))))
	h, mi, s := rng.IntN(24), rng.IntN(60), rng.IntN(60)
	frac := 0
	if rng.IntN(2) == 0 {
		frac = rng.IntN(1_000_000)
	}
	tm := time.Date(y, mo, d, h, mi, s, frac*1000, loc)
	us := tm.UnixMicro()
	wy, wmo, wd, wh, wmi, ws := y, int(mo), d, h, mi, s
	if s == 0 && rng.IntN(4) == 0 { // a leap second: the minute before, second 60
		if prev := tm.Add(-time.Minute); prev.Year() >= 1 {
			wy, wmo, wd, wh, wmi, ws = prev.Year(), int(prev.Month()), prev.Day(), prev.Hour(), prev.Minute(), 60
		}
	}
	sep := "Tt "[rng.IntN(3)]
	text := fmt.Sprintf("%04d-%02d-%02d%c%02d:%02d:%02d", wy, wmo, wd, sep, wh, wmi, ws)
	if frac != 0 || rng.IntN(4) == 0 {
		digits := fmt.Sprintf("%06d", frac)
		trimmed := false
		for len(digits) > 1 && digits[len(digits)-1] == '0' && rng.IntN(2) == 0 {
			digits, trimmed = digits[:len(digits)-1], true
		}
		for range rng.IntN(4) * btoi(!trimmed) { // past µs: truncated
			digits += strconv.Itoa(rng.IntN(10))
		}
		text += "." + digits
	}
	switch {
	case offMin == 0 && rng.IntN(2) == 0:
		text += string("Zz"[rng.IntN(2)])
	default:
		sign, a := '+', offMin
		if offMin < 0 || (offMin == 0 && rng.IntN(2) == 0) {
			sign, a = '-', -offMin
		}
		text += fmt.Sprintf("%c%02d:%02d", sign, a/60, a%60)
	}
	return text, us
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// randDecimal is a random quantity: 6 places at most, below 10^12.
func randDecimal(rng *rand.Rand) Decimal {
	switch rng.IntN(4) {
	case 0:
		return Decimal(rng.Int64N(1000))
	case 1:
		return Decimal(rng.Int64N(1000) * DecimalScale)
	case 2:
		return Decimal(999_999_999_999_999_999 - rng.Int64N(1000))
	}
	return Decimal(rng.Int64N(1_000_000_000_000 * DecimalScale))
}

// spellNumber writes the exact value num/10^scale (num >= 0 unless neg) in a random JSON
// spelling (text: CSV spellings too: '+', leading zeros, ".5", "5.", spaces around).
func spellNumber(rng *rand.Rand, digits string, scale int, neg, text bool) string {
	// value = digits * 10^-scale; write mantissa * 10^e
	digits = strings.TrimLeft(digits, "0")
	e := 0
	if rng.IntN(2) == 0 {
		e = rng.IntN(17) - 8
	}
	k := -scale - e // the mantissa is digits * 10^k
	var m string
	switch {
	case digits == "":
		m = "0"
		if rng.IntN(2) == 0 {
			m += "." + strings.Repeat("0", 1+rng.IntN(3))
		}
	case k >= 0:
		m = digits + strings.Repeat("0", k)
	case -k < len(digits):
		m = digits[:len(digits)+k] + "." + digits[len(digits)+k:]
	default:
		m = "0." + strings.Repeat("0", -k-len(digits)) + digits
	}
	if strings.Contains(m, ".") && rng.IntN(2) == 0 {
		m += strings.Repeat("0", rng.IntN(4))
	} else if digits != "" && !strings.Contains(m, ".") && rng.IntN(4) == 0 {
		m += "." + strings.Repeat("0", 1+rng.IntN(3))
	}
	if text {
		switch rng.IntN(6) {
		case 0:
			m = "00" + m
		case 1:
			if strings.HasPrefix(m, "0.") {
				m = m[1:] // ".5"
			}
		case 2:
			if !strings.Contains(m, ".") {
				m += "." // "5."
			}
		}
	}
	s := m
	if e != 0 || rng.IntN(8) == 0 {
		s += []string{"e", "E"}[rng.IntN(2)]
		if e >= 0 && rng.IntN(2) == 0 {
			s += "+"
		}
		s += strconv.Itoa(e)
	}
	switch {
	case neg || (digits == "" && rng.IntN(4) == 0):
		s = "-" + s
	case text && rng.IntN(4) == 0:
		s = "+" + s
	}
	if text && rng.IntN(3) == 0 {
		s = " " + s + "\t"
	}
	return s
}

// spellDecimal writes a quantity.
func spellDecimal(rng *rand.Rand, d Decimal, text bool) string {
	v := int64(d)
	neg := v < 0
	if neg {
		v = -v
	}
	return spellNumber(rng, strconv.FormatInt(v, 10), 6, neg, text)
}

// randAttrNumber is a random JSON number token of any size and precision, as json.Number.
func randAttrNumber(rng *rand.Rand) json.Number {
	var digits strings.Builder
	for range 1 + rng.IntN(25) {
		digits.WriteByte(byte('0' + rng.IntN(10)))
	}
	return json.Number(spellNumber(rng, digits.String(), rng.IntN(30)-10, rng.IntN(3) == 0, false))
}

// randAttrs is a random attributes object.
func randAttrs(rng *rand.Rand, depth int) map[string]any {
	m := map[string]any{}
	for range rng.IntN(5) {
		m[randString(rng, 6)] = randAttrValue(rng, depth)
	}
	if depth == 1 {
		for _, k := range tokenNames {
			switch rng.IntN(4) {
			case 0:
				m[k] = json.Number(spellDecimal(rng, Decimal(rng.Int64N(1e12)), false))
			case 1:
				m[k] = strconv.Itoa(rng.IntN(5000))
			}
		}
	}
	return m
}

func randAttrValue(rng *rand.Rand, depth int) any {
	switch rng.IntN(8) {
	case 0:
		return randString(rng, 8)
	case 1, 2:
		return randAttrNumber(rng)
	case 3:
		return rng.IntN(2) == 0
	case 4:
		return nil
	case 5:
		if depth < 4 {
			a := []any{}
			for range rng.IntN(4) {
				a = append(a, randAttrValue(rng, depth+1))
			}
			return a
		}
	case 6:
		if depth < 4 {
			return randAttrs(rng, depth+1)
		}
	}
	return "leaf"
}

// newGenEvent makes a random valid event.
func newGenEvent(rng *rand.Rand) genEvent {
	g := genEvent{EventID: randRequired(rng), TenantID: randRequired(rng), UserID: randRequired(rng),
		EventType: randRequired(rng), EventUnit: randRequired(rng), DomainName: randOptional(rng),
		Username: randOptional(rng), FirstName: randOptional(rng), LastName: randOptional(rng)}
	g.OccurredText, g.OccurredUS = randInstant(rng)
	g.Value = randDecimal(rng)
	switch rng.IntN(4) {
	case 0:
	case 1:
		g.PreviewNull = true
	default:
		g.Preview = ptr(rng.IntN(2) == 0)
	}
	switch rng.IntN(4) {
	case 0:
	case 1:
		g.AttrsNull = true
	default:
		g.Attrs = randAttrs(rng, 1)
	}
	return g
}

// canonText is the expected canonical JSON of a generated value, written apart from the parse.
func canonText(v any) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // by bytes
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(canonString(k) + ":" + canonText(v[k]))
		}
		return b.String() + "}"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = canonText(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case string:
		return canonString(v)
	case json.Number:
		return canonNumber(string(v))
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	panic(fmt.Sprintf("%T", v))
}

// canonString escapes only what JSON requires, with short escapes where JSON has them.
func canonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String() + `"`
}

// canonNumber is the exact value of a number token in plain decimal (by math/big).
func canonNumber(s string) string {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	ten := big.NewInt(10)
	pow := big.NewInt(1)
	for prec := 0; ; prec++ {
		if new(big.Int).Mod(pow, r.Denom()).Sign() == 0 {
			return r.FloatString(prec)
		}
		pow.Mul(pow, ten)
	}
}

// jsonLine writes g as a JSON line with encoding/json, members in a random order.
func (g *genEvent) jsonLine(rng *rand.Rand, t testing.TB) string {
	m := map[string]any{"event_id": g.EventID, "occurred_at": g.OccurredText, "tenant_id": g.TenantID,
		"user_id": g.UserID, "event_type": g.EventType, "event_unit": g.EventUnit,
		"event_value": json.Number(spellDecimal(rng, g.Value, false))}
	opt := func(k string, v *string) {
		switch {
		case v != nil:
			m[k] = *v
		case rng.IntN(2) == 0:
			m[k] = nil
		}
	}
	opt("domain_name", g.DomainName)
	opt("username", g.Username)
	opt("first_name", g.FirstName)
	opt("last_name", g.LastName)
	if g.Preview != nil {
		m["preview"] = *g.Preview
	} else if g.PreviewNull {
		m["preview"] = nil
	}
	if g.Attrs != nil {
		m["attributes"] = g.Attrs
	} else if g.AttrsNull {
		m["attributes"] = nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.String()
}

// csvText writes g as a CSV object of one record with encoding/csv, columns in a random order
// (with one other column). Empty optional strings are absent in CSV.
func (g *genEvent) csvText(rng *rand.Rand) string {
	cells := map[string]string{"event_id": g.EventID, "occurred_at": g.OccurredText, "tenant_id": g.TenantID,
		"user_id": g.UserID, "event_type": g.EventType, "event_unit": g.EventUnit,
		"event_value": spellDecimal(rng, g.Value, true), "note": randString(rng, 5)}
	for k, v := range map[string]*string{"domain_name": g.DomainName, "username": g.Username, "first_name": g.FirstName, "last_name": g.LastName} {
		if v != nil {
			cells[k] = *v
		}
	}
	if g.Preview != nil {
		cells["preview"] = []string{"true", "false"}[map[bool]int{true: 0, false: 1}[*g.Preview]]
		if rng.IntN(2) == 0 {
			cells["preview"] = " " + strings.ToUpper(cells["preview"]) + " "
		}
	}
	if g.Attrs != nil {
		b, _ := json.Marshal(g.Attrs)
		cells["attributes"] = string(b)
	}
	var names []string
	for k := range cells {
		names = append(names, k)
	}
	slices.Sort(names)
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	rec := make([]string, len(names))
	for i, n := range names {
		rec[i] = cells[n]
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	g.CRLF = rng.IntN(2) == 0
	for _, s := range []string{g.EventID, g.TenantID, g.UserID, g.EventType, g.EventUnit} {
		if strings.Trim(s, "\r") == "" {
			g.CRLF = false // it would drop the only characters of a required field
		}
	}
	w.UseCRLF = g.CRLF
	w.Write(names)
	w.Write(rec)
	w.Flush()
	return b.String()
}

// checkGen compares a parsed row with the generated event, value by value.
func (g *genEvent) check(t *testing.T, format string, r Row) {
	t.Helper()
	if !r.ok() || r.Digest == nil {
		t.Fatalf("%s: not parsed: %v", format, r)
	}
	norm := func(s string) string {
		switch {
		case format == "csv" && g.CRLF:
			return strings.ReplaceAll(s, "\r", "") // csv.Writer with UseCRLF drops a lone CR
		case format == "csv":
			return strings.ReplaceAll(s, "\r\n", "\n") // encoding/csv reads CRLF in quotes as LF
		}
		return s
	}
	eq := func(name string, got *string, want string) {
		if got == nil || *got != norm(want) {
			t.Errorf("%s: %s = %q, want %q", format, name, deref(got), norm(want))
		}
	}
	opt := func(name string, got, want *string) {
		if want != nil && norm(*want) == "" {
			want = nil // an empty optional string is absent, in every format
		}
		if (got == nil) != (want == nil) || (got != nil && *got != norm(*want)) {
			t.Errorf("%s: %s = %q, want %q", format, name, deref(got), deref(want))
		}
	}
	eq("event_id", r.EventID, g.EventID)
	eq("tenant_id", r.TenantID, g.TenantID)
	eq("user_id", r.UserID, g.UserID)
	eq("event_type", r.EventType, g.EventType)
	eq("event_unit", r.EventUnit, g.EventUnit)
	opt("domain_name", r.DomainName, g.DomainName)
	opt("username", r.Username, g.Username)
	opt("first_name", r.FirstName, g.FirstName)
	opt("last_name", r.LastName, g.LastName)
	if *r.OccurredAt != g.OccurredUS {
		t.Errorf("%s: occurred_at %d, want %d (%s)", format, *r.OccurredAt, g.OccurredUS, g.OccurredText)
	}
	if *r.EventValue != g.Value {
		t.Errorf("%s: event_value %s, want %s", format, r.EventValue, g.Value)
	}
	if *r.Preview != (g.Preview != nil && *g.Preview) {
		t.Errorf("%s: preview %v", format, *r.Preview)
	}
	if g.Attrs == nil {
		if r.Attributes != nil {
			t.Errorf("%s: attributes %s, want none", format, *r.Attributes)
		}
	} else if want := canonText(g.Attrs); r.Attributes == nil || *r.Attributes != want {
		t.Errorf("%s: attributes\n got %s\nwant %s", format, deref(r.Attributes), want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// seedRand is a generator seeded from the fuzzer's inputs.
func seedRand(seed uint64, data []byte) *rand.Rand {
	h := fnv.New64a()
	h.Write(data)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// FuzzRoundTrip: a random valid event written with encoding/json, and with encoding/csv,
// reads back exactly: strings byte for byte, decimals digit for digit, the instant to the µs,
// attributes as their canonical text; and both formats give one digest.
func FuzzRoundTrip(f *testing.F) {
	for i := range 20 {
		f.Add(uint64(i), []byte{byte(i)})
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		rng := seedRand(seed, data)
		g := newGenEvent(rng)
		line := g.jsonLine(rng, t)
		jr := parseOne(t, line)
		g.check(t, "json", jr)
		text := g.csvText(rng)
		rows, _ := parseAll(t, "csv", text, Limits{})
		if len(rows) != 1 {
			t.Fatalf("csv: %d rows for %q", len(rows), text)
		}
		if !rows[0].ok() {
			t.Logf("csv text %q", text)
		}
		g.check(t, "csv", rows[0])
		if !t.Failed() && !hasEmptyOptional(&g) && *rows[0].Digest != *jr.Digest {
			t.Errorf("CSV and JSON digests differ:\n%s\n%s", line, text)
		}
	})
}

// hasEmptyOptional: an empty optional string is absent in CSV, and a CR may be lost, so
// the digest may differ.
func hasEmptyOptional(g *genEvent) bool {
	for _, s := range []*string{g.DomainName, g.Username, g.FirstName, g.LastName} {
		if s != nil && (*s == "" || strings.Contains(*s, "\r")) {
			return true
		}
	}
	for _, s := range []string{g.UserID, g.EventType, g.EventUnit} {
		if strings.Contains(s, "\r") {
			return true
		}
	}
	return false
}

// respell writes g as a JSON line by hand: members and attribute keys in a random order,
// random white space, strings with random escapes, numbers with random spellings.
func (g *genEvent) respell(rng *rand.Rand) string {
	var b strings.Builder
	ws := func() {
		for range rng.IntN(3) {
			b.WriteByte(" \t\r"[rng.IntN(3)])
		}
	}
	var value func(v any)
	value = func(v any) {
		ws()
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				ws()
				b.WriteString(escapeRandomly(rng, k))
				ws()
				b.WriteByte(':')
				value(v[k])
			}
			ws()
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, x := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				value(x)
			}
			ws()
			b.WriteByte(']')
		case string:
			b.WriteString(escapeRandomly(rng, v))
		case json.Number:
			b.WriteString(respellNumber(rng, string(v)))
		case Decimal:
			b.WriteString(spellDecimal(rng, v, false))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		}
		ws()
	}
	m := map[string]any{"event_id": g.EventID, "occurred_at": g.OccurredText, "tenant_id": g.TenantID,
		"user_id": g.UserID, "event_type": g.EventType, "event_unit": g.EventUnit, "event_value": g.Value}
	for k, v := range map[string]*string{"domain_name": g.DomainName, "username": g.Username, "first_name": g.FirstName, "last_name": g.LastName} {
		if v != nil {
			m[k] = *v
		} else if rng.IntN(2) == 0 {
			m[k] = nil
		}
	}
	if g.Preview != nil && *g.Preview {
		m["preview"] = true
	} else if rng.IntN(2) == 0 {
		m["preview"] = []any{false, nil}[rng.IntN(2)]
	}
	if g.Attrs != nil {
		m["attributes"] = g.Attrs
	} else if rng.IntN(2) == 0 {
		m["attributes"] = nil
	}
	value(m)
	return strings.TrimRight(b.String(), "\r") // a final CR is trimmed anyway
}

// escapeRandomly writes s as a JSON string, each character escaped or not at random.
func escapeRandomly(rng *rand.Rand, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		short := map[rune]string{'"': `\"`, '\\': `\\`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`, '/': `\/`}[r]
		u := func(x rune) string {
			h := fmt.Sprintf(`\u%04x`, x)
			if rng.IntN(2) == 0 {
				h = `\u` + strings.ToUpper(h[2:])
			}
			return h
		}
		mustEscape := r == '"' || r == '\\' || r < 0x20
		switch {
		case (mustEscape || rng.IntN(3) == 0) && short != "" && rng.IntN(2) == 0:
			b.WriteString(short)
		case mustEscape || rng.IntN(4) == 0:
			if r >= 0x10000 {
				hi, lo := utf16Pair(r)
				b.WriteString(u(hi) + u(lo))
			} else {
				b.WriteString(u(r))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + r>>10, 0xDC00 + r&0x3FF
}

// respellNumber writes a number token's exact value in another random spelling.
func respellNumber(rng *rand.Rand, tok string) string {
	r, _ := new(big.Rat).SetString(tok)
	neg := r.Sign() < 0
	r.Abs(r)
	plain := canonNumber(r.RatString()) // exact, as the value's digits
	scale := 0
	if i := strings.IndexByte(plain, '.'); i >= 0 {
		scale = len(plain) - i - 1
		plain = plain[:i] + plain[i+1:]
	}
	return spellNumber(rng, plain, scale, neg, false)
}

// FuzzDigestStable: an event and the same event respelled (member and key order, white space,
// escapes, number spellings) have one digest and one canonical attributes text.
func FuzzDigestStable(f *testing.F) {
	for i := range 20 {
		f.Add(uint64(i), []byte{byte(i), 1})
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		rng := seedRand(seed, data)
		g := newGenEvent(rng)
		a, b := g.jsonLine(rng, t), g.respell(rng)
		ra, rb := parseOne(t, a), parseOne(t, b)
		g.check(t, "json", ra)
		g.check(t, "json", rb)
		if !t.Failed() && *ra.Digest != *rb.Digest {
			t.Errorf("digests differ:\n%s\n%s", a, b)
		}
	})
}

// FuzzArbitrary: any bytes, as JSON Lines and as CSV, with the default limits and with tiny
// ones: no panic, no error, one row per non-blank line (CSV: per record, as encoding/csv cuts
// records), line numbers increasing and within the text, and every row either a parsed event
// (every required field and the digest set) or a failure with a reason and a field.
func FuzzArbitrary(f *testing.F) {
	for _, s := range []string{
		event() + "\n" + event("event_value", "-1") + "\r\n\n" + "{}\n",
		"\ufeff" + csvHeaderLine + "\n" + csvRow() + "\n" + csvRow("last_name", "a\nb\"c") + `"x,"y"` + "\n",
		"a,b\n\"c\nd\",e\n\"f\n", "\"", "\r", "\n\n", " , \n\"\"\"\",\n", "x\"y,z\n\"a\"\"b\",\"\"\r\n",
		`{"attributes":{"a":[1,{"b":2}],"a":1}}`, "{\"event_id\":\"\xff\"}", `{"a":"\ud800"}`,
		csvHeaderLine + "\n,,,,,,,,,,,,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text := string(data)
		for _, lim := range []Limits{{}, {MaxLineBytes: 24, MaxAttributes: 2, MaxDepth: 2}} {
			rows, st := parseBatches(t, "jsonl", text, lim, 100)
			checkArbitrary(t, "jsonl", text, rows, jsonNonBlank(text), lim)
			checkStrict(t, text, rows, lim)
			if st.Bytes != int64(len(text)) || st.Lines != int64(len(rows)) {
				t.Errorf("jsonl stats %+v for %d bytes, %d rows", st, len(text), len(rows))
			}
			rows, st = parseBatches(t, "csv", text, lim, 100)
			want, csvErr := csvRecords(text)
			checkArbitrary(t, "csv", text, rows, want, lim)
			for i, r := range rows {
				if i < len(csvErr) && csvErr[i] && (r.Field == nil || *r.Field != FieldLine) {
					t.Errorf("csv: encoding/csv cannot read record %d, but the row is %v", i, r)
				}
				if r.Detail != nil && *r.Detail == csvMismatch {
					t.Errorf("csv: the splitter and encoding/csv disagree at line %d", r.LineNo)
				}
			}
			if st.Bytes != int64(len(text)) {
				t.Errorf("csv stats %+v for %d bytes", st, len(text))
			}
		}
	})
}

// jsonNonBlank is the numbers of the lines of text that are not blank.
func jsonNonBlank(text string) []int64 {
	text = strings.TrimPrefix(text, bom)
	var out []int64
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, int64(i+1))
		}
	}
	return out
}

// checkStrict compares the JSON syntax the parse accepts with encoding/json's: a line (valid
// UTF-8, within the limit) is "not a JSON object" exactly when json.Valid refuses it or it is
// not an object.
func checkStrict(t *testing.T, text string, rows []Row, lim Limits) {
	t.Helper()
	lines := strings.Split(strings.TrimPrefix(text, bom), "\n")
	max := lim.withDefaults().MaxLineBytes
	for _, r := range rows {
		l := strings.TrimSuffix(lines[r.LineNo-1], "\r")
		if !utf8.ValidString(l) || len(l) > max {
			continue
		}
		want := json.Valid([]byte(l)) && strings.TrimLeft(l, " \t\r")[0] == '{'
		got := r.Detail == nil || *r.Detail != "not a JSON object"
		if got != want {
			t.Errorf("line %q: the parse takes it for a JSON object: %v, encoding/json: %v", l, got, want)
		}
	}
}

// csvRecords cuts text into records with encoding/csv on the whole text: the first line of
// every non-blank record after the header, and whether encoding/csv could not read it.
func csvRecords(text string) ([]int64, []bool) {
	data := strings.TrimPrefix(text, bom)
	r := csv.NewReader(strings.NewReader(data))
	r.FieldsPerRecord = -1
	var lines []int64
	var bad []bool
	prev := int64(0)
	header := true
	for {
		_, err := r.Read()
		if err == io.EOF {
			break
		}
		end := r.InputOffset()
		raw := data[prev:end]
		prev = end
		var line int
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = pe.StartLine // FieldPos panics after some errors
		} else {
			line, _ = r.FieldPos(0)
		}
		if strings.TrimSpace(raw) == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		lines = append(lines, int64(line))
		bad = append(bad, err != nil)
	}
	return lines, bad
}

// checkArbitrary checks the rows of arbitrary text against the expected line numbers.
func checkArbitrary(t *testing.T, format, text string, rows []Row, want []int64, lim Limits) {
	t.Helper()
	got := make([]int64, len(rows))
	for i, r := range rows {
		got[i] = r.LineNo
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s %+v: rows at lines %v, want %v", format, lim, got, want)
	}
	physical := int64(strings.Count(text, "\n") + 1)
	max := lim.withDefaults().MaxLineBytes
	for i, r := range rows {
		if i > 0 && r.LineNo <= rows[i-1].LineNo || r.LineNo < 1 || r.LineNo > physical {
			t.Errorf("%s: line number %d out of order or past the text", format, r.LineNo)
		}
		if !utf8.ValidString(r.Raw) || len(r.Raw) > 3*max {
			t.Errorf("%s: raw of %d bytes", format, len(r.Raw))
		}
		if r.ok() {
			if r.Digest == nil || r.EventID == nil || *r.EventID == "" || r.TenantID == nil || r.UserID == nil ||
				r.EventType == nil || r.EventUnit == nil || r.EventValue == nil || r.OccurredAt == nil ||
				r.Preview == nil || r.Field != nil || r.Detail != nil {
				t.Errorf("%s: a parsed row lacks a field: %v", format, r)
			}
			if r.Attributes != nil {
				if again, err := CanonicalJSON([]byte(*r.Attributes), Limits{}); err != nil || string(again) != *r.Attributes {
					t.Errorf("%s: attributes %s are not canonical: %s, %v", format, *r.Attributes, again, err)
				}
			}
			continue
		}
		switch *r.Reason {
		case ReasonMalformed, ReasonBadTimestamp, ReasonNegativeValue:
		default:
			t.Errorf("%s: reason %q", format, *r.Reason)
		}
		if r.Field == nil || *r.Field == "" || r.Digest != nil {
			t.Errorf("%s: a failed row %v", format, r)
		}
	}
}
