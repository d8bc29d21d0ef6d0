package documents

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// Number formats of the documents.
const (
	fmtCredits = `#,##0.00##` // credits: at least 2, at most 4 places (BILLING.md: 4 places)
	fmtUnits   = ""           // General: allowance units and event values as they are
	fmtInt     = `#,##0`
	fmtDay     = `d mmm yyyy` // dates as people read them: 1 Jan 2026
	fmtTime    = `d mmm yyyy hh:mm:ss`
	fmtPercent = `0.0%`
)

// fmtMoney is the number format of an amount in currency cur: the ISO code before the
// number, 2 places (the minor unit of v1).
func fmtMoney(cur string) string { return `"` + quoteFmt(cur) + ` "#,##0.00` }

// fmtPrice is the number format of a price per credit: up to 6 places, at least 2.
func fmtPrice(cur string) string { return `"` + quoteFmt(cur) + ` "#,##0.00####` }

func quoteFmt(s string) string { return strings.ReplaceAll(s, `"`, ``) }

// docTime is the fixed timestamp of the tenant workbooks' document properties: their
// content depends only on the data, so their bytes must too.
const docTime = "2026-01-01T00:00:00Z"

// styles creates and caches the cell styles of one workbook.
type styles struct {
	f     *excelize.File
	cache map[string]int
	err   error
}

func newStyles(f *excelize.File) *styles { return &styles{f: f, cache: map[string]int{}} }

// get returns the style with the given number format, bold or not.
func (s *styles) get(numFmt string, bold bool) int { return s.aligned(numFmt, bold, "") }

// left is get, left-aligned: numbers in label/value blocks line up with the text values.
func (s *styles) left(numFmt string) int { return s.aligned(numFmt, false, "left") }

func (s *styles) aligned(numFmt string, bold bool, horizontal string) int {
	key := fmt.Sprintf("%s|%v|%s", numFmt, bold, horizontal)
	if id, ok := s.cache[key]; ok {
		return id
	}
	st := &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", Horizontal: horizontal}}
	if numFmt != "" {
		nf := numFmt
		st.CustomNumFmt = &nf
	}
	if bold {
		st.Font = &excelize.Font{Bold: true}
	}
	id, err := s.f.NewStyle(st)
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache[key] = id
	return id
}

// value is the style of a value beside a right-aligned label: left-aligned, one indent
// away from the label.
func (s *styles) value(numFmt string, bold bool) int {
	key := fmt.Sprintf("value|%s|%v", numFmt, bold)
	if id, ok := s.cache[key]; ok {
		return id
	}
	st := &excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "left", Indent: 1}}
	if numFmt != "" {
		nf := numFmt
		st.CustomNumFmt = &nf
	}
	if bold {
		st.Font = &excelize.Font{Bold: true}
	}
	id, err := s.f.NewStyle(st)
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache[key] = id
	return id
}

// title is a large bold style for document titles.
func (s *styles) title() int {
	if id, ok := s.cache["title"]; ok {
		return id
	}
	id, err := s.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 16}})
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache["title"] = id
	return id
}

// note is the style of a remark under a title: italic, grey.
func (s *styles) note() int {
	if id, ok := s.cache["note"]; ok {
		return id
	}
	id, err := s.f.NewStyle(&excelize.Style{Font: &excelize.Font{Italic: true, Color: "595959"}})
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache["note"] = id
	return id
}

// wrap is the style of long text: wrapped, top-aligned.
func (s *styles) wrap() int {
	if id, ok := s.cache["wrap"]; ok {
		return id
	}
	id, err := s.f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache["wrap"] = id
	return id
}

// header is the style of a table header row: bold on a light fill, bottom border.
func (s *styles) header() int { return s.headerAligned("") }

// headerRight is header for the columns of numbers and dates.
func (s *styles) headerRight() int { return s.headerAligned("right") }

// headerLine is header for a one-line title whose text may pass the column's width: it
// runs on into the empty cells beside it instead of wrapping over the row below (a row's
// height is not fitted to wrapped text when the file is opened).
func (s *styles) headerLine() int { return s.headerStyle("", false) }

func (s *styles) headerAligned(horizontal string) int { return s.headerStyle(horizontal, true) }

func (s *styles) headerStyle(horizontal string, wrap bool) int {
	key := fmt.Sprintf("header|%s|%t", horizontal, wrap)
	if id, ok := s.cache[key]; ok {
		return id
	}
	id, err := s.f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "4472C4", Style: 1}},
		Alignment: &excelize.Alignment{WrapText: wrap, Vertical: "top", Horizontal: horizontal},
	})
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache[key] = id
	return id
}

// total is the style of an invoice's total: bold, with a rule above.
func (s *styles) total(numFmt string) int {
	key := "total|" + numFmt
	if id, ok := s.cache[key]; ok {
		return id
	}
	st := &excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Border:    []excelize.Border{{Type: "top", Color: "000000", Style: 1}},
		Alignment: &excelize.Alignment{Vertical: "top", Horizontal: "right"},
	}
	if numFmt != "" {
		nf := numFmt
		st.CustomNumFmt = &nf
	}
	id, err := s.f.NewStyle(st)
	if err != nil && s.err == nil {
		s.err = err
	}
	s.cache[key] = id
	return id
}

// sheetWriter sets cells of one sheet, remembering the first error.
type sheetWriter struct {
	f     *excelize.File
	sheet string
	err   error
}

func (w *sheetWriter) set(col string, row int, v any, style int) {
	if w.err != nil {
		return
	}
	cell := fmt.Sprintf("%s%d", col, row)
	if err := w.f.SetCellValue(w.sheet, cell, v); err != nil {
		w.err = err
		return
	}
	if style != 0 {
		w.err = w.f.SetCellStyle(w.sheet, cell, cell, style)
	}
}

// note writes a paragraph across the columns A:F of one row, wrapped, the row made tall
// enough for it (about 110 characters a line at the invoice's column widths).
func (w *sheetWriter) note(row int, text string, style int) error {
	if w.err != nil {
		return w.err
	}
	from, to := fmt.Sprintf("A%d", row), fmt.Sprintf("F%d", row)
	if err := w.f.MergeCell(w.sheet, from, to); err != nil {
		return err
	}
	w.set("A", row, text, style)
	n := 0
	for _, l := range strings.Split(text, "\n") {
		n += 1 + len([]rune(l))/110
	}
	if w.err != nil {
		return w.err
	}
	return w.f.SetRowHeight(w.sheet, row, float64(15*n))
}

// setDec puts exact decimal text into a cell as a number (num: the last-moment conversion).
func (w *sheetWriter) setDec(col string, row int, s string, style int) {
	if w.err != nil {
		return
	}
	v, err := numText(s)
	if err != nil {
		w.err = err
		return
	}
	w.set(col, row, v, style)
}

// date parses YYYY-MM-DD as a UTC date for a date cell.
func date(s string) (time.Time, error) { return time.Parse(time.DateOnly, s) }

// humanDate writes YYYY-MM-DD as people read it: "1 Jan 2026" (the documents are in
// English; the number format fmtDay shows date cells the same way).
func humanDate(s string) string {
	t, err := date(s)
	if err != nil {
		return s
	}
	return t.Format("2 Jan 2006")
}

// periodText is a period as every human-facing document shows it: its first and its
// inclusive last day, "1 Jan 2026 – 31 Jan 2026" (end is exclusive, as the tables hold it).
func periodText(start, end string) string {
	return humanDate(start) + " – " + humanDate(lastDay(end))
}

// lastDay is the inclusive last day of a period whose end is exclusive.
func lastDay(end string) string {
	t, err := date(end)
	if err != nil {
		return end
	}
	return t.AddDate(0, 0, -1).Format(time.DateOnly)
}

// save writes the workbook to path through a buffer (excelize writes the zip entries in a
// fixed order without timestamps, so equal content gives equal bytes; TestWorkedExample
// renders twice and compares).
func save(f *excelize.File, path string) error {
	// excelize adds the image content types of a drawing (the chart) in map order: sort
	// them, or the package's [Content_Types].xml differs from one render to the next.
	if f.ContentTypes != nil {
		d := f.ContentTypes.Defaults
		sort.SliceStable(d, func(i, j int) bool { return d[i].Extension < d[j].Extension })
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// printSetup makes a sheet print on A4, one page wide, in the given orientation.
func printSetup(f *excelize.File, sheet, orientation string, gridLines bool) error {
	a4, one, zero := 9, 1, 0
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Size: &a4, Orientation: &orientation, FitToWidth: &one, FitToHeight: &zero}); err != nil {
		return err
	}
	fit := true
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	return f.SetSheetView(sheet, 0, &excelize.ViewOptions{ShowGridLines: &gridLines})
}

// setProps fixes the document properties, timestamps included, for byte-stable output.
func setProps(f *excelize.File, title, subject, at string) error {
	return f.SetDocProps(&excelize.DocProperties{
		Created:        at,
		Modified:       at,
		Creator:        "creditmeter",
		LastModifiedBy: "creditmeter",
		Title:          title,
		Subject:        subject,
		Language:       "en-US",
	})
}
