package main

import (
	"context"
	"fmt"
	"io"
)

func cmdQuery(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "creditmeter query: not built yet")
	return exitFailed
}
