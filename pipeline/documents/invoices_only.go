package documents

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
)

// WriteInvoices renders into dir the documents of the invoices run runSeq issued (invoices,
// invoice_lines) and keeps them in the database's documents table, as Write does for a
// run, without any workbook: the close step of a sharded round numbers the invoices of
// every shard and renders their documents, while each shard renders its tenants'
// workbooks (README, "Past one machine"). It returns the documents' keys.
func WriteInvoices(ctx context.Context, conn *sql.Conn, dir string, runSeq int) ([]string, error) {
	invoices, err := readInvoices(ctx, conn, runSeq)
	if err != nil {
		return nil, err
	}
	if len(invoices) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "invoices"), 0o700); err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	if err := parallel(invoices, func(inv *invoice) error {
		if err := writeInvoice(dir, inv); err != nil {
			return fmt.Errorf("documents: invoice %s: %w", inv.Number, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var keys []string
	for _, inv := range invoices {
		keys = append(keys, InvoiceKey(inv.Number, "csv"), InvoiceKey(inv.Number, "xlsx"))
	}
	return keys, keep(ctx, conn, dir, keys, runSeq)
}
