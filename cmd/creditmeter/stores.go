package main

import (
	"log/slog"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/schemas"
)

// storeOptions says how sources and outputs are opened: local directories always; S3 when
// built in.
func storeOptions(_ *schemas.Config, _ *slog.Logger) objstore.Options {
	return objstore.Options{}
}
