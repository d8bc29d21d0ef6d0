package schemas

import (
	"strings"
	"testing"
)

// TestParseFinanceFields (issue 12): payment terms as days, "net N" or "due on receipt"
// (net 30 when absent); the customer invoiced; a tax with a label and a rate, or a
// reverse-charge note; the issuer's bank details.
func TestParseFinanceFields(t *testing.T) {
	tenant := func(extra string) string {
		return strings.Replace(validBase, "    notify: {thresholds: [0.9, 1.0], email: [billing@acme.example]}\n",
			"    notify: {thresholds: [0.9, 1.0], email: [billing@acme.example]}\n"+extra, 1)
	}
	for _, c := range []struct {
		name, edit string
		days       int
		check      func(t *testing.T, c *Config)
	}{
		{"default net 30", "", 30, nil},
		{"net 14", "    payment_terms: net 14\n", 14, nil},
		{"Net60 without a space", "    payment_terms: Net60\n", 60, nil},
		{"days", "    payment_terms: 45\n", 45, nil},
		{"due on receipt", "    payment_terms: due on receipt\n", 0, nil},
		{"customer, GST, bank", "    customer: {legal_name: Acme S.r.l., address: \"Via Roma 1\\n00184 Roma\", tax_id: IT1, po_reference: PO-9}\n" +
			"    tax: {label: GST, rate: 0.10}\n", 30, func(t *testing.T, c *Config) {
			tn := c.Tenants[0]
			if tn.Customer != (Customer{LegalName: "Acme S.r.l.", Address: "Via Roma 1\n00184 Roma", TaxID: "IT1", POReference: "PO-9"}) || tn.InvoiceName() != "Acme S.r.l." {
				t.Errorf("customer %+v", tn.Customer)
			}
			if tn.Tax == nil || tn.Tax.Label != "GST" || !tn.Tax.Rate.Equal(dec("0.1")) || tn.Tax.ReverseCharge != "" {
				t.Errorf("tax %+v", tn.Tax)
			}
		}},
		{"reverse charge", "    tax: {reverse_charge: \"VAT reverse charge: art. 196\"}\n", 30, func(t *testing.T, c *Config) {
			if tx := c.Tenants[0].Tax; tx == nil || tx.ReverseCharge != "VAT reverse charge: art. 196" || !tx.Rate.IsZero() {
				t.Errorf("tax %+v", tx)
			}
			if got := c.Tenants[0].InvoiceName(); got != "acme" { // no legal name, no name: the id
				t.Errorf("invoice name %q", got)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tenant(c.edit)), "c.yaml", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Tenants[0].PaymentTerms.DaysOrDefault(); got != c.days {
				t.Errorf("payment days %d, want %d", got, c.days)
			}
			if c.check != nil {
				c.check(t, cfg)
			}
		})
	}

	bank := "issuer: {name: X, bank: {bank_name: Example Bank, account_name: X Pty Ltd, account_number: \"123\", branch_code: \"062-000\", iban: \"\", bic: EXBKAU2S}}\n"
	cfg, err := ParseConfig([]byte(bank+validBase), "c.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Issuer.Bank.Lines(), "|"); got != "Bank: Example Bank|Account name: X Pty Ltd|Account number: 123|Branch code: 062-000|BIC: EXBKAU2S" {
		t.Errorf("bank lines %q", got)
	}

	for _, c := range []struct{ name, edit, path, reason string }{
		{"terms in words", "    payment_terms: soon\n", "tenants[0].payment_terms", "soon"},
		{"terms too long", "    payment_terms: 400\n", "tenants[0].payment_terms", "365"},
		{"net too long", "    payment_terms: net 400\n", "tenants[0].payment_terms", "between 0 and 365"},
		{"tax without a rate", "    tax: {label: VAT}\n", "tenants[0].tax.rate", "missing required field"},
		{"tax rate above 1", "    tax: {label: VAT, rate: 22}\n", "tenants[0].tax.rate", "maximum"},
		{"tax rate finer than 6 places", "    tax: {label: VAT, rate: 0.2212345}\n", "tenants[0].tax.rate", "6 decimal places"},
		{"tax and reverse charge", "    tax: {label: VAT, rate: 0.2, reverse_charge: x}\n", "tenants[0].tax", "not both"},
		{"unknown customer field", "    customer: {vat: 1}\n", "tenants[0].customer.vat", "unknown field"},
		{"unknown bank field", "", "issuer.bank.swift", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			text := tenant(c.edit)
			if c.edit == "" {
				text = "issuer: {bank: {swift: X}}\n" + validBase
			}
			_, err := ParseConfig([]byte(text), "c.yaml", t.TempDir())
			ce := configError(t, err)
			found := false
			for _, p := range ce.Problems {
				if p.Path == c.path && strings.Contains(p.Reason, c.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: ...%s...; got %v", c.path, c.reason, ce.Problems)
			}
		})
	}
}
