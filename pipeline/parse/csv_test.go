package parse

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

const csvHeaderLine = "event_id,occurred_at,tenant_id,domain_name,user_id,event_type,event_value,event_unit,preview,attributes,username,first_name,last_name"

// csvRow is a CSV record (with its newline) of the base event with cells replaced by column.
func csvRow(kv ...string) string {
	cells := map[string]string{"event_id": "ev-1", "occurred_at": "2026-01-12T09:00:00+01:00", "tenant_id": "acme",
		"domain_name": "learn.acme.example", "user_id": "u-1", "event_type": "ai_assistant", "event_value": "1",
		"event_unit": "request", "preview": "false", "attributes": `{"input_tokens":900,"output_tokens":300}`,
		"username": "mrossi", "first_name": "Mario", "last_name": "Rossi"}
	for i := 0; i < len(kv); i += 2 {
		cells[kv[i]] = kv[i+1]
	}
	var rec []string
	for _, name := range strings.Split(csvHeaderLine, ",") {
		rec = append(rec, cells[name])
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(rec)
	w.Flush()
	return b.String()
}

func TestCSVRules(t *testing.T) {
	h := csvHeaderLine + "\n"
	tests := []struct {
		name  string
		text  string
		lim   Limits
		want  []at
		blank int64
		check func(t *testing.T, rows []Row)
	}{
		{
			// Given a header and a row with every field, When parsed, Then the row is line 2 and
			// every field is read, as the same event in JSON would be.
			name: "valid", text: h + csvRow(),
			want: []at{{2, ""}},
			check: func(t *testing.T, rows []Row) {
				j := parseOne(t, event())
				r := rows[0]
				j.LineNo = r.LineNo
				if r.String() != j.String() || *r.Digest != *j.Digest {
					t.Errorf("CSV %v\nJSON %v", r, j)
				}
			},
		},
		{
			// Given a byte-order mark, names with spaces, columns in another order and other
			// columns, Then the header maps by name.
			name: "header by name",
			text: "\ufeff note , event_unit ,event_value,user_id,event_type,tenant_id,occurred_at,event_id\r\n" +
				"x,s,2,u,t,acme,2026-01-12T09:00:00Z,e\r\n",
			want: []at{{2, ""}},
			check: func(t *testing.T, rows []Row) {
				r := rows[0]
				if *r.EventUnit != "s" || *r.EventValue != 2_000_000 || *r.EventID != "e" || r.DomainName != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{
			// Given blank lines before the header and between rows, Then they are skipped but
			// counted.
			name: "blank lines", text: "\n \n" + h + "\n" + csvRow() + "\t\n\n" + csvRow(),
			want: []at{{5, ""}, {8, ""}}, blank: 5,
		},
		{
			// Given quoted cells with commas, quotes and newlines, Then they read back exactly,
			// and a record is numbered by its first line.
			name: "quoted cells",
			text: h + csvRow("event_id", "a,b", "user_id", `he said "hi"`, "last_name", "line1\nline2\n") + csvRow(),
			want: []at{{2, ""}, {5, ""}},
			check: func(t *testing.T, rows []Row) {
				r := rows[0]
				if *r.EventID != "a,b" || *r.UserID != `he said "hi"` || *r.LastName != "line1\nline2\n" {
					t.Errorf("got %v", r)
				}
				if !strings.HasPrefix(r.Raw, `"a,b"`) || !strings.HasSuffix(r.Raw, `line2`+"\n"+`"`) {
					t.Errorf("raw %q", r.Raw)
				}
			},
		},
		{
			// Given CRLF inside a quoted cell, Then it reads as LF (encoding/csv's reading).
			name: "CRLF in a quoted cell", text: h + strings.Replace(csvRow("last_name", "a\nb"), "\n", "\r\n", 1),
			want: []at{{2, ""}},
			check: func(t *testing.T, rows []Row) {
				if *rows[0].LastName != "a\nb" {
					t.Errorf("got %q", *rows[0].LastName)
				}
			},
		},
		{
			// Given empty cells, Then they are absent: NULL for optional fields, malformed for
			// required ones.
			name: "empty optional cells", text: h + csvRow("domain_name", "", "preview", "", "attributes", "", "username", ""),
			want: []at{{2, ""}},
			check: func(t *testing.T, rows []Row) {
				r := rows[0]
				if r.DomainName != nil || *r.Preview || r.Attributes != nil || r.Username != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{name: "empty event_id", text: h + csvRow("event_id", ""), want: []at{{2, "event_id"}}},
		{name: "empty event_value", text: h + csvRow("event_value", ""), want: []at{{2, "event_value"}}},
		{name: "white-space event_id is a value", text: h + csvRow("event_id", " "), want: []at{{2, ""}}},
		{
			name: "event_value trimmed and exact", text: h + csvRow("event_value", " 1.5 ") + csvRow("event_value", "1e3") + csvRow("event_value", "0.5000000"),
			want: []at{{2, ""}, {3, ""}, {4, ""}},
			check: func(t *testing.T, rows []Row) {
				if *rows[0].EventValue != 1_500_000 || *rows[1].EventValue != 1_000_000_000 || *rows[2].EventValue != 500_000 {
					t.Errorf("got %v", rows)
				}
			},
		},
		{name: "event_value not a number", text: h + csvRow("event_value", "1,5"), want: []at{{2, "event_value"}}},
		{name: "event_value 7 places", text: h + csvRow("event_value", "0.0000001"), want: []at{{2, "event_value"}}},
		{name: "event_value 10^12", text: h + csvRow("event_value", "1000000000000"), want: []at{{2, "event_value"}}},
		{
			name: "event_value negative", text: h + csvRow("event_value", "-1"), want: []at{{2, "event_value"}},
			check: func(t *testing.T, rows []Row) {
				if *rows[0].Reason != ReasonNegativeValue {
					t.Errorf("got %v", rows[0])
				}
			},
		},
		{
			name: "preview any case, trimmed", text: h + csvRow("preview", "TRUE") + csvRow("preview", " False ") + csvRow("preview", "  "),
			want: []at{{2, ""}, {3, ""}, {4, ""}},
			check: func(t *testing.T, rows []Row) {
				if !*rows[0].Preview || *rows[1].Preview || *rows[2].Preview {
					t.Errorf("got %v", rows)
				}
			},
		},
		{name: "preview yes", text: h + csvRow("preview", "yes"), want: []at{{2, "preview"}}},
		{name: "preview 1", text: h + csvRow("preview", "1"), want: []at{{2, "preview"}}},
		{
			name: "attributes canonical", text: h + csvRow("attributes", ` { "b" : 1e1, "a" : "\u0041" } `),
			want: []at{{2, ""}},
			check: func(t *testing.T, rows []Row) {
				if *rows[0].Attributes != `{"a":"A","b":10}` {
					t.Errorf("got %s", *rows[0].Attributes)
				}
			},
		},
		{name: "attributes array", text: h + csvRow("attributes", `[1]`), want: []at{{2, "attributes"}}},
		{name: "attributes JSON string", text: h + csvRow("attributes", `"{}"`), want: []at{{2, "attributes"}}},
		{name: "attributes not JSON", text: h + csvRow("attributes", `{a:1}`), want: []at{{2, "attributes"}}},
		{name: "attributes trailing text", text: h + csvRow("attributes", `{} x`), want: []at{{2, "attributes"}}},
		{name: "attributes key twice", text: h + csvRow("attributes", `{"a":1,"a":1}`), want: []at{{2, "attributes"}}},
		{name: "input_tokens negative", text: h + csvRow("attributes", `{"input_tokens":-1}`), want: []at{{2, "attributes.input_tokens"}}},
		{name: "occurred_at with a space before", text: h + csvRow("occurred_at", " 2026-01-12T09:00:00Z"), want: []at{{2, "occurred_at"}}},
		{
			// Given a record of another width than the header, Then it is malformed "(line)".
			name: "too few cells", text: h + "ev-1,2026-01-12T09:00:00Z,acme\n" + csvRow(),
			want: []at{{2, FieldLine}, {3, ""}},
		},
		{name: "too many cells", text: h + strings.TrimSuffix(csvRow(), "\n") + ",x\n", want: []at{{2, FieldLine}}},
		{
			// Given a record encoding/csv cannot read, Then it is malformed "(line)" and the
			// next record is read.
			name: "bare quote", text: h + `ev-1,2026,ac"me` + "\n" + csvRow(),
			want: []at{{2, FieldLine}, {3, ""}},
			check: func(t *testing.T, rows []Row) {
				if !strings.Contains(*rows[0].Detail, "bare") {
					t.Errorf("detail %q", *rows[0].Detail)
				}
			},
		},
		{name: "extraneous quote", text: h + `"ev-1"x,b` + "\n" + csvRow(), want: []at{{2, FieldLine}, {3, ""}}},
		{
			name: "error on the second line of a record", text: h + "\"ev\n1\"x,b\n" + csvRow(),
			want: []at{{2, FieldLine}, {4, ""}},
		},
		{name: "unterminated quote", text: h + csvRow() + "\"ev-1,\n" + csvRow(), want: []at{{2, ""}, {3, FieldLine}}},
		{
			// Given a header that cannot be read, Then every later non-blank record is malformed,
			// and the header is not a row even after blank lines.
			name: "unreadable header", text: "\n\n" + `event_id,"occ"x` + "\n" + csvRow() + "\n\n" + csvRow(),
			want: []at{{4, FieldLine}, {7, FieldLine}}, blank: 4,
			check: func(t *testing.T, rows []Row) {
				if !strings.Contains(*rows[0].Detail, "header is unreadable") || rows[0].EventID != nil {
					t.Errorf("got %v", rows[0])
				}
			},
		},
		{
			// Given a header naming a column twice, Then every row is malformed, naming it.
			name: "column twice", text: h[:len(h)-1] + ", user_id\n" + strings.TrimSuffix(csvRow(), "\n") + ",u-2\n",
			want: []at{{2, FieldLine}},
			check: func(t *testing.T, rows []Row) {
				if !strings.Contains(*rows[0].Detail, `"user_id" appears twice`) {
					t.Errorf("detail %q", *rows[0].Detail)
				}
			},
		},
		{name: "header only", text: h},
		{name: "empty", text: ""},
		{
			// Given invalid UTF-8 in a cell, Then malformed on its column, the others filled.
			name: "invalid UTF-8 cell", text: h + csvRow("username", "m\xffrossi", "last_name", "\xfe"),
			want: []at{{2, "username"}},
			check: func(t *testing.T, rows []Row) {
				r := rows[0]
				if r.Username != nil || r.LastName != nil || *r.EventID != "ev-1" || *r.FirstName != "Mario" || r.Digest != nil {
					t.Errorf("got %v", r)
				}
			},
		},
		{name: "invalid UTF-8 in a column without a name", text: "event_id,,x\n" + "a,\x9c,b\n", want: []at{{2, FieldLine}}},
		{name: "invalid UTF-8 in a short record", text: h + "ev-1,\xff\n", want: []at{{2, FieldLine}}},
		{name: "invalid UTF-8 header", text: "event_id,\xff\n" + "a,b\n", want: []at{{2, FieldLine}}},
		{
			// Given a record longer than the limit, even inside quotes over several lines, Then it
			// is one malformed row and the next record is read.
			name: "long record", lim: Limits{MaxLineBytes: 300},
			text: h + csvRow("last_name", strings.Repeat("x\n\"\",", 100)) + csvRow(),
			want: []at{{2, FieldLine}, {103, ""}},
			check: func(t *testing.T, rows []Row) {
				if !strings.Contains(*rows[0].Detail, "record of ") || len(rows[0].Raw) != 300 {
					t.Errorf("got %v (raw %d bytes)", rows[0], len(rows[0].Raw))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, st := parseAll(t, "csv", tt.text, tt.lim)
			checkRows(t, rows, tt.want)
			if st.Lines != int64(len(tt.want)) || st.Blank != tt.blank || st.Bytes != int64(len(tt.text)) {
				t.Errorf("stats %+v, want %d lines, %d blank, %d bytes", st, len(tt.want), tt.blank, len(tt.text))
			}
			if tt.check != nil {
				tt.check(t, rows)
			}
		})
	}
}

func TestRecordBuilder(t *testing.T) {
	s := func(v string) *string { return &v }
	base := func() map[string]*string {
		return map[string]*string{"event_id": s("ev-1"), "occurred_at": s("2026-01-12T09:00:00+01:00"),
			"tenant_id": s("acme"), "domain_name": s("learn.acme.example"), "user_id": s("u-1"),
			"event_type": s("ai_assistant"), "event_value": s("1"), "event_unit": s("request"), "preview": s("false"),
			"attributes": s(`{"output_tokens":300,"input_tokens":900}`), "username": s("mrossi"),
			"first_name": s("Mario"), "last_name": s("Rossi"), "other": s("ignored")}
	}
	with := func(k string, v *string) map[string]*string { m := base(); m[k] = v; return m }
	tests := []struct {
		name   string
		fields map[string]*string
		lim    Limits
		field  string // "" for a parsed event
		check  func(t *testing.T, r Row)
	}{
		{
			// Given a row's fields as text, When appended, Then it reads as the JSON event does.
			name: "valid", fields: base(),
			check: func(t *testing.T, r Row) {
				j := parseOne(t, event())
				if *r.Digest != *j.Digest || *r.Attributes != *j.Attributes {
					t.Errorf("record %v\nJSON %v", r, j)
				}
			},
		},
		{name: "nil is absent", fields: with("domain_name", nil), check: func(t *testing.T, r Row) {
			if r.DomainName != nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "empty is absent", fields: with("username", s("")), check: func(t *testing.T, r Row) {
			if r.Username != nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "required nil", fields: with("tenant_id", nil), field: "tenant_id"},
		{name: "bad timestamp", fields: with("occurred_at", s("2026-01-12 09:00:00+00")), field: "occurred_at"},
		{name: "bad decimal", fields: with("event_value", s("1.0000001")), field: "event_value"},
		{name: "bad preview", fields: with("preview", s("t")), field: "preview"},
		{name: "bad attributes", fields: with("attributes", s("{")), field: "attributes"},
		{name: "invalid UTF-8", fields: with("first_name", s("M\xffario")), field: "first_name", check: func(t *testing.T, r Row) {
			if r.FirstName != nil || r.EventID == nil {
				t.Errorf("got %v", r)
			}
		}},
		{name: "too long", fields: base(), lim: Limits{MaxLineBytes: 50}, field: FieldLine, check: func(t *testing.T, r Row) {
			if !strings.Contains(*r.Detail, "record of") || len(r.Raw) != 50 {
				t.Errorf("got %v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := NewRecordBuilder(Source{ObjNo: 3, LineIDBase: 100}, tt.lim, nil)
			defer rb.Release()
			raw := strings.Repeat("r", 80) + "\xff"
			rb.Append(5, raw, tt.fields)
			if rb.Len() != 1 {
				t.Fatalf("len %d", rb.Len())
			}
			rec := rb.Flush()
			defer rec.Release()
			rows := rowsOf(t, rec)
			r := rows[0]
			if r.LineNo != 5 || r.LineID != 105 || r.ObjNo != 3 {
				t.Errorf("numbers: %v", r)
			}
			if tt.lim.MaxLineBytes == 0 && r.Raw != raw[:80]+"\uFFFD" {
				t.Errorf("raw %q", r.Raw)
			}
			if tt.field == "" && !r.ok() || tt.field != "" && (r.Field == nil || *r.Field != tt.field) {
				t.Errorf("want field %q, got %v", tt.field, r)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
			if rb.Flush() != nil {
				t.Error("a second flush has rows")
			}
		})
	}
}
