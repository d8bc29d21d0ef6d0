package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// invoiceStore writes an output store holding a register of three invoices and their
// documents.
func invoiceStore(t *testing.T) string {
	t.Helper()
	return invoiceStoreIn(t, t.TempDir())
}

// invoiceStoreIn writes the store of invoiceStore into directory store.
func invoiceStoreIn(t *testing.T, store string) string {
	t.Helper()
	files := map[string]string{
		"invoices/register.csv": "invoice_number,tenant_id,period_start,period_end,currency,exceeding_credits,price_per_credit,amount\n" +
			"INV-2026-000001,beta-rome,2026-01-01,2026-02-01,EUR,217.025,0.04,8.68\n" +
			"INV-2026-000002,alpha-la,2026-01-01,2026-02-01,USD,487,0.04,19.48\n" +
			"INV-2026-000003,beta-rome,2026-02-01,2026-03-01,EUR,9,0.04,0.36\n",
	}
	for _, n := range []string{"INV-2026-000001", "INV-2026-000002", "INV-2026-000003"} {
		files["invoices/"+n+".csv"] = "csv of " + n
		files["invoices/"+n+".xlsx"] = "xlsx of " + n
	}
	for k, v := range files {
		p := filepath.Join(store, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestInvoicesPull(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	store := invoiceStore(t)
	cases := []struct {
		name     string
		args     []string
		files    []string
		register []string // invoice numbers in the pulled register
	}{
		{"all, both formats", nil,
			[]string{"INV-2026-000001.csv", "INV-2026-000001.xlsx", "INV-2026-000002.csv", "INV-2026-000002.xlsx", "INV-2026-000003.csv", "INV-2026-000003.xlsx", "register.csv"},
			[]string{"INV-2026-000001", "INV-2026-000002", "INV-2026-000003"}},
		{"by period", []string{"--period", "2026-01"},
			[]string{"INV-2026-000001.csv", "INV-2026-000001.xlsx", "INV-2026-000002.csv", "INV-2026-000002.xlsx", "register.csv"},
			[]string{"INV-2026-000001", "INV-2026-000002"}},
		{"by tenant, xlsx", []string{"--tenant", "beta-rome", "--format", "xlsx"},
			[]string{"INV-2026-000001.xlsx", "INV-2026-000003.xlsx", "register.csv"},
			[]string{"INV-2026-000001", "INV-2026-000003"}},
		{"by period and tenant, csv", []string{"--tenant", "beta-rome", "--period", "2026-02", "--format", "csv"},
			[]string{"INV-2026-000003.csv", "register.csv"},
			[]string{"INV-2026-000003"}},
		{"nothing matches", []string{"--tenant", "nobody"}, []string{"register.csv"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pulled")
			var stdout, stderr bytes.Buffer
			args := append([]string{"invoices", "--config", cfg, "--output", store, "--out", out}, c.args...)
			if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if got := listDir(t, out); strings.Join(got, " ") != strings.Join(c.files, " ") {
				t.Errorf("files %v, want %v", got, c.files)
			}
			reg, err := os.ReadFile(filepath.Join(out, "register.csv"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(reg)), "\n")
			if lines[0] != "invoice_number,tenant_id,period_start,period_end,currency,exceeding_credits,price_per_credit,amount" {
				t.Errorf("register header %q", lines[0])
			}
			var nums []string
			for _, l := range lines[1:] {
				nums = append(nums, strings.SplitN(l, ",", 2)[0])
			}
			if strings.Join(nums, " ") != strings.Join(c.register, " ") {
				t.Errorf("register rows %v, want %v", nums, c.register)
			}
			for _, f := range c.files {
				if f == "register.csv" {
					continue
				}
				b, _ := os.ReadFile(filepath.Join(out, f))
				ext := filepath.Ext(f)
				if want := ext[1:] + " of " + strings.TrimSuffix(f, ext); string(b) != want {
					t.Errorf("%s holds %q, want %q", f, b, want)
				}
			}
		})
	}
}

func TestInvoicesPullErrors(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	store := invoiceStore(t)
	if err := os.Remove(filepath.Join(store, "invoices", "INV-2026-000002.xlsx")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"no --out", []string{"invoices", "--config", cfg}, exitUsage},
		{"bad period", []string{"invoices", "--config", cfg, "--output", store, "--out", t.TempDir(), "--period", "2026-13"}, exitUsage},
		{"bad format", []string{"invoices", "--config", cfg, "--output", store, "--out", t.TempDir(), "--format", "pdf"}, exitUsage},
		{"missing document", []string{"invoices", "--config", cfg, "--output", store, "--out", t.TempDir()}, exitFailed},
		{"no register", []string{"invoices", "--config", cfg, "--output", t.TempDir(), "--out", t.TempDir()}, exitFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), c.args, &stdout, &stderr); code != c.code {
				t.Errorf("exit %d, want %d: %s", code, c.code, stderr.String())
			}
		})
	}
}

// TestInvoicesPullTamperedRegister: invoice numbers come from a file in the output store;
// one that is not INV-YYYY-NNNNNN ("../../secret") made the pull read outside the store and
// write outside --out. The register is refused whole (exit 1, naming the line) and nothing
// is written.
func TestInvoicesPullTamperedRegister(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	for _, num := range []string{"../../secret", "INV-2026-000002/../../../secret", "/etc/passwd", "INV-2026-00002", "INV-2026-000002\n", ""} {
		t.Run(num, func(t *testing.T) {
			base := t.TempDir()
			store := invoiceStoreIn(t, filepath.Join(base, "store"))
			// a file outside the store that a traversal would read, and where it would land
			if err := os.WriteFile(filepath.Join(base, "secret.csv"), []byte("not an invoice"), 0o600); err != nil {
				t.Fatal(err)
			}
			reg := filepath.Join(store, "invoices", "register.csv")
			b, _ := os.ReadFile(reg)
			tampered := strings.Replace(string(b), "INV-2026-000002,", fmt.Sprintf("%q,", num), 1)
			if err := os.WriteFile(reg, []byte(tampered), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(base, "a", "b", "pulled")
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", store, "--out", out, "--format", "csv"}, &stdout, &stderr)
			if code != exitFailed {
				t.Fatalf("exit %d, want %d: %s", code, exitFailed, stderr.String())
			}
			if !strings.Contains(stderr.String(), "line 3") || !strings.Contains(stderr.String(), "INV-YYYY-NNNNNN") {
				t.Errorf("stderr does not name the line and the form: %s", stderr.String())
			}
			var written []string
			_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasPrefix(p, store+string(os.PathSeparator)) && p != filepath.Join(base, "secret.csv") {
					written = append(written, p)
				}
				return nil
			})
			if len(written) > 0 {
				t.Errorf("files written: %v", written)
			}
		})
	}
}

// TestInvoicesPullOversizedDocument: an invoice document larger than the pull accepts is
// refused (it was read whole into memory), and no partial file is left.
func TestInvoicesPullOversizedDocument(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	store := invoiceStore(t)
	f, err := os.OpenFile(filepath.Join(store, "invoices", "INV-2026-000002.csv"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxDocumentBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "pulled")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", store, "--out", out, "--format", "csv"}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stderr.String(), "larger than the pull accepts") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range listDir(t, out) {
		if name != "INV-2026-000001.csv" {
			t.Errorf("left in --out: %s", name)
		}
	}
}

// TestInvoicesPullIssuedAndTotals (issue 12): a register with the issue and due dates, the
// customer, the tax and the total is pulled whole, filtered by the month of issue, and the
// pull prints the sums per currency; a register without issue_date cannot be filtered by
// it; a bad month is a usage error.
func TestInvoicesPullIssuedAndTotals(t *testing.T) {
	cfg := filepath.Join("..", "..", "fixtures", "acceptance", "01-worked-example", "creditmeter.yaml")
	store := t.TempDir()
	header := "invoice_number,tenant_id,period_start,period_end,currency,exceeding_credits,price_per_credit,amount,issue_date,due_date,customer_name,tax_amount,total_amount\n"
	files := map[string]string{
		"invoices/register.csv": header +
			"INV-2026-000001,beta-rome,2026-01-01,2026-02-01,EUR,304554.8,0.05,15227.74,2026-02-04,2026-03-06,Beta S.r.l.,1522.77,16750.51\n" +
			"INV-2026-000002,alpha-la,2026-01-01,2026-02-01,USD,487,0.04,19.48,2026-02-04,2026-03-06,Alpha Inc.,0.00,19.48\n" +
			"INV-2026-000003,beta-rome,2026-02-01,2026-03-01,EUR,9,0.04,0.36,2026-03-04,2026-04-03,Beta S.r.l.,0.04,0.40\n",
	}
	for _, n := range []string{"INV-2026-000001", "INV-2026-000002", "INV-2026-000003"} {
		files["invoices/"+n+".csv"] = "csv of " + n
		files["invoices/"+n+".xlsx"] = "xlsx of " + n
	}
	for k, v := range files {
		p := filepath.Join(store, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "pulled")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", store, "--out", out, "--issued", "2026-02", "--format", "csv"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := strings.Join(listDir(t, out), " "); got != "INV-2026-000001.csv INV-2026-000002.csv register.csv" {
		t.Errorf("files %s", got)
	}
	reg, _ := os.ReadFile(filepath.Join(out, "register.csv"))
	if want := header + strings.Join(strings.Split(files["invoices/register.csv"], "\n")[1:3], "\n") + "\n"; string(reg) != want {
		t.Errorf("register:\n%s\nwant\n%s", reg, want)
	}
	for _, want := range []string{"2 invoices from", "EUR: 1 invoices, net 15,227.74, tax 1,522.77, total 16,750.51", "USD: 1 invoices, net 19.48, tax 0.00, total 19.48"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	// an earlier register: no issue_date to select by; the pull itself still works
	old := invoiceStore(t)
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", old, "--out", t.TempDir(), "--issued", "2026-02"}, &stdout, &stderr); code != exitFailed || !strings.Contains(stderr.String(), "issue_date") {
		t.Errorf("--issued on an earlier register: exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", old, "--out", t.TempDir()}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "EUR: 2 invoices, net 9.04\n") {
		t.Errorf("earlier register: exit %d: %s", code, stdout.String())
	}
	if code := run(context.Background(), []string{"invoices", "--config", cfg, "--output", store, "--out", t.TempDir(), "--issued", "Feb"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("bad --issued: exit %d", code)
	}
}
