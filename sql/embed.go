// Package sqlfiles embeds the DuckDB SQL of the pipeline. Each file starts with a header
// comment naming the tables it reads and writes; Go code runs them by name.
package sqlfiles

import (
	"embed"
	"fmt"
)

//go:embed *.sql
var files embed.FS

// Get returns the text of the named SQL file (e.g. "schema.sql").
func Get(name string) (string, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read embedded sql %s: %w", name, err)
	}
	return string(b), nil
}

// MustGet is Get for files that exist at build time; it panics on a missing name, which a
// test catches before any release.
func MustGet(name string) string {
	s, err := Get(name)
	if err != nil {
		panic(err)
	}
	return s
}

// Names lists the embedded files.
func Names() ([]string, error) {
	ents, err := files.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("list embedded sql: %w", err)
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, nil
}
