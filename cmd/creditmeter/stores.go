package main

import (
	"context"
	"log/slog"

	"github.com/creditmeter/creditmeter/pipeline/objstore"
	"github.com/creditmeter/creditmeter/schemas"
)

// storeOptions says how sources and outputs are opened: local directories always; s3://
// locations with the configuration's s3: block over the standard AWS chain (environment
// including AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, shared config, profiles, roles).
func storeOptions(cfg *schemas.Config, log *slog.Logger) objstore.Options {
	var c objstore.S3Config
	if cfg != nil {
		c.Region = cfg.S3.Region
		c.Endpoint = cfg.S3.Endpoint
		c.PathStyle = cfg.S3.PathStyle
	}
	return objstore.Options{OpenS3: func(ctx context.Context, location string) (objstore.Store, error) {
		s, err := objstore.NewS3(ctx, location, c)
		if err != nil {
			return nil, err
		}
		if log != nil {
			log.Debug("opened object store", "store", s.String())
		}
		return s, nil
	}}
}
