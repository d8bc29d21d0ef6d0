package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestProgressOnlyOnTerminal: nothing of the progress display exists on a non-terminal;
// on a terminal, a log line clears the bar's line first.
func TestProgressOnlyOnTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	if p != nil || p.Jobs() != nil {
		t.Fatal("a progress display on a buffer")
	}
	if w := p.LogWriter(&b); w != &b {
		t.Error("logs should go straight to stderr without a display")
	}
	p.Close()

	tp := &termProgress{w: &b}
	tp.Stage("ingest", 0, 0)
	tp.Stage("ingest", 3, 12)
	if !strings.Contains(b.String(), "ingest") || !strings.Contains(b.String(), "3/12") {
		t.Errorf("display: %q", b.String())
	}
	b.Reset()
	if _, err := tp.Write([]byte("log line\n")); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.HasPrefix(out, "\r") || !strings.HasSuffix(out, "log line\n") {
		t.Errorf("a log line should clear the bar first: %q", out)
	}
	tp.Close()
}
