//go:build !unix

package objstore

import "os"

// Without flock the lock file's compare-and-swap is only atomic within a process.
func flock(*os.File) error   { return nil }
func funlock(*os.File) error { return nil }
