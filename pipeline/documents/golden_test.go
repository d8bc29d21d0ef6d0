package documents_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// Golden files (testdata/golden/{case}/): every document a case's runs published that a
// person or a program reads: the invoice CSVs and the register, the usage reports, and each
// workbook (tenant and invoice) dumped cell by cell (dumpXLSX), so that a change shows as
// the cells it changes, not as a different zip. go test -update rewrites them.

// goldenFiles reads the documents of an output directory for the golden files: CSVs as
// they are, workbooks as their cell dumps (key + ".txt").
func goldenFiles(t *testing.T, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		key := filepath.ToSlash(rel)
		keep := strings.HasPrefix(key, "invoices/") || (strings.HasPrefix(key, "usage/") &&
			(strings.HasSuffix(key, "_ai_credits_usage.csv") || strings.HasSuffix(key, "/ai_credits.xlsx")))
		if !keep {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(key, ".xlsx") {
			files[key+".txt"] = dumpXLSX(t, b)
			return nil
		}
		files[key] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkGolden compares an output directory's documents (goldenFiles) with
// testdata/golden/{caseName}; with -update it rewrites them.
func checkGolden(t *testing.T, caseName, out string) {
	t.Helper()
	golden := filepath.Join("testdata", "golden", caseName)
	got := goldenFiles(t, out)
	if *update {
		if err := os.RemoveAll(golden); err != nil {
			t.Fatal(err)
		}
		for k, v := range got {
			p := filepath.Join(golden, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, v, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string][]byte{}
	err := filepath.WalkDir(golden, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(golden, p)
		b, err := os.ReadFile(p)
		want[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatalf("read golden files (run with -update to create them): %v", err)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: not produced", k)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s differs from golden (go test -update rewrites it):\n%s", k, lineDiff(string(w), string(g)))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: produced but not in golden files", k)
		}
	}
}

// lineDiff lists the lines that differ between want and got, at most 40.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	n := 0
	for i := 0; i < max(len(w), len(g)) && n < 40; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want %s\n  got  %s\n", i+1, wl, gl)
			n++
		}
	}
	return b.String()
}

var chartRefRe = regexp.MustCompile(`<(barChart|lineChart)>.*?</(barChart|lineChart)>`)
var chartGroupingRe = regexp.MustCompile(`<grouping val="([a-z]+)"`)

// dumpXLSX writes a workbook as text, cell by cell: for each sheet its cells in row order,
// each with its type, raw value, number format, boldness and the value as shown; its merged
// cells, tables, frozen panes and page orientation; the workbook's defined names and the
// series of its charts.
func dumpXLSX(t *testing.T, data []byte) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	props, err := f.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "properties: title=%q subject=%q created=%s modified=%s\n", props.Title, props.Subject, props.Created, props.Modified)
	for _, sheet := range f.GetSheetList() {
		fmt.Fprintf(&b, "\n== sheet %s\n", sheet)
		layout, err := f.GetPageLayout(sheet)
		if err == nil && layout.Orientation != nil {
			fmt.Fprintf(&b, "page: %s\n", *layout.Orientation)
		}
		if panes, err := f.GetPanes(sheet); err == nil && panes.Freeze {
			fmt.Fprintf(&b, "frozen: %s\n", panes.TopLeftCell)
		}
		tables, err := f.GetTables(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			fmt.Fprintf(&b, "table %s %s\n", tb.Name, tb.Range)
		}
		merged, err := f.GetMergeCells(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range merged {
			fmt.Fprintf(&b, "merged %s:%s\n", m.GetStartAxis(), m.GetEndAxis())
		}
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			for c, raw := range row {
				if raw == "" {
					continue
				}
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				typ, _ := f.GetCellType(sheet, ref)
				shown, _ := f.GetCellValue(sheet, ref)
				numFmt, bold := "", false
				if id, err := f.GetCellStyle(sheet, ref); err == nil {
					if st, err := f.GetStyle(id); err == nil {
						if st.CustomNumFmt != nil {
							numFmt = *st.CustomNumFmt
						}
						bold = st.Font != nil && st.Font.Bold
					}
				}
				line := fmt.Sprintf("%s %s %q", ref, cellType(typ), raw)
				if numFmt != "" {
					line += fmt.Sprintf(" fmt=%q shows=%q", numFmt, shown)
				}
				if bold {
					line += " bold"
				}
				b.WriteString(line + "\n")
			}
		}
	}
	names := f.GetDefinedName()
	sort.Slice(names, func(i, j int) bool { return names[i].Name+names[i].Scope < names[j].Name+names[j].Scope })
	for _, n := range names {
		fmt.Fprintf(&b, "\ndefined name %s (%s) = %s\n", n.Name, n.Scope, n.RefersTo)
	}
	for i := 1; ; i++ {
		part, ok := f.Pkg.Load(fmt.Sprintf("xl/charts/chart%d.xml", i))
		if !ok {
			break
		}
		x := string(part.([]byte))
		fmt.Fprintf(&b, "\n== chart %d\n", i)
		for _, m := range chartRefRe.FindAllString(x, -1) {
			kind := m[1:strings.Index(m, ">")]
			grouping := ""
			if g := chartGroupingRe.FindStringSubmatch(m); g != nil {
				grouping = " " + g[1]
			}
			fmt.Fprintf(&b, "%s%s:", kind, grouping)
			for _, ref := range formulaRe.FindAllStringSubmatch(m, -1) {
				b.WriteString(" " + ref[1])
			}
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

func cellType(t excelize.CellType) string {
	switch t {
	case excelize.CellTypeBool:
		return "bool"
	case excelize.CellTypeDate:
		return "date"
	case excelize.CellTypeNumber, excelize.CellTypeUnset:
		return "num"
	case excelize.CellTypeInlineString, excelize.CellTypeSharedString:
		return "text"
	case excelize.CellTypeFormula:
		return "FORMULA"
	}
	return fmt.Sprint(t)
}
