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
// skipped unless DOCS_OUT names a directory): case 05 with beta-rome on no plan and no bank,
// so that its February invoice has a late-usage line, an issuer, and February current.
//
//	DOCS_OUT=/tmp/docs go test ./pipeline/documents/ -run TestManualRender
//	soffice --headless --convert-to pdf --outdir /tmp/docs/pdf /tmp/docs/invoices/INV-2026-000003.xlsx
//	pdftoppm -r 80 -png /tmp/docs/pdf/INV-2026-000003.pdf /tmp/docs/pdf/inv
func TestManualRender(t *testing.T) {
	if os.Getenv("DOCS_OUT") == "" {
		t.Skip()
	}
	fx := prepare(t, "05-rate-card-versions-and-late-events", func(cfg *schemas.Config) {
		cfg.Issuer = schemas.Issuer{Name: "Example Learning Pty Ltd", Address: "1 Example St, Sydney", TaxID: "ABN 00 000 000 000"}
		for i := range cfg.Tenants {
			if cfg.Tenants[i].ID == "beta-rome" {
				cfg.Tenants[i].CreditsPlan = decimal.Zero
				cfg.Tenants[i].Bank = nil
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
