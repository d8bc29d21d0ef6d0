package main

import (
	"context"
	"fmt"
	"io"
)

func cmdServe(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "creditmeter serve: not built yet")
	return exitFailed
}
