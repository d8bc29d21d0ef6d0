package main

import (
	"context"
	"fmt"
	"io"
)

func cmdGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "creditmeter generate: not built yet")
	return exitFailed
}
