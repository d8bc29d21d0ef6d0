package documents_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/creditmeter/creditmeter/schemas"
)

// TestManualRender writes sample documents for a look by eye (not part of make test: it is
// skipped unless DOCS_OUT names a directory): case 05 with beta-rome on no plan and no bank
// under a reverse charge (lateUsage), so that its February invoice has a late-usage line,
// an issuer with its bank, and February current; alpha-la with a customer, GST and net 14.
//
//	DOCS_OUT=/tmp/docs go test ./pipeline/documents/ -run TestManualRender
//	soffice --headless --convert-to pdf --outdir /tmp/docs/pdf /tmp/docs/invoices/INV-2026-000003.xlsx
//	pdftoppm -r 80 -png /tmp/docs/pdf/INV-2026-000003.pdf /tmp/docs/pdf/inv
func TestManualRender(t *testing.T) {
	if os.Getenv("DOCS_OUT") == "" {
		t.Skip()
	}
	fx := prepare(t, "05-rate-card-versions-and-late-events", func(cfg *schemas.Config) {
		lateUsage(cfg)
		cfg.Issuer = schemas.Issuer{Name: "Example Learning Pty Ltd", Address: "1 Example St\nSydney NSW 2000\nAustralia", TaxID: "ABN 00 000 000 000",
			Bank: schemas.BankAccount{BankName: "Example Bank", AccountName: "Example Learning Pty Ltd", AccountNumber: "12345678",
				BranchCode: "062-000", BIC: "EXBKAU2S"}}
		for i := range cfg.Tenants {
			if cfg.Tenants[i].ID == "alpha-la" {
				cfg.Tenants[i].Customer = schemas.Customer{LegalName: "Alpha Learning Inc.", Address: "350 S Grand Ave\nLos Angeles, CA 90071\nUSA",
					TaxID: "EIN 12-3456789", POReference: "PO-2026-0042"}
				cfg.Tenants[i].Tax = &schemas.Tax{Label: "GST", Rate: decimal.RequireFromString("0.10")}
				cfg.Tenants[i].PaymentTerms = schemas.PaymentTerms{Days: 14, Set: true}
			}
		}
	})
	fx.now = time.Date(2026, 2, 21, 0, 0, 0, 0, time.UTC)
	_, files := render(t, fx)
	for k, v := range files {
		p := filepath.Join(os.Getenv("DOCS_OUT"), k)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, v, 0o644)
	}
}
