package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/creditmeter/creditmeter/jobs"
)

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// termProgress shows the run's stages on an interactive terminal: a bar with counts for a
// stage that knows its total (objects ingested of those to read), a spinner with the
// elapsed time for the others. Log lines written through it clear the bar first, so the
// two never share a line.
type termProgress struct {
	mu    sync.Mutex
	w     io.Writer
	bar   *progressbar.ProgressBar
	stage string
	total int64
	// active is true from a stage's advance until the next log line; only then does the
	// ticker redraw the bar (spinner and elapsed time).
	active  bool
	ticking bool
}

// newProgress returns the progress display for stderr, or nil when stderr is not a
// terminal (nothing of it is then written).
func newProgress(stderr io.Writer) *termProgress {
	if !isTerminal(stderr) {
		return nil
	}
	return &termProgress{w: stderr}
}

// Jobs is the display as a jobs.Progress; nil (no display) stays a nil interface.
func (p *termProgress) Jobs() jobs.Progress {
	if p == nil {
		return nil
	}
	return p
}

// LogWriter is where log lines go: through the display when there is one.
func (p *termProgress) LogWriter(stderr io.Writer) io.Writer {
	if p == nil {
		return stderr
	}
	return p
}

// Stage implements jobs.Progress.
func (p *termProgress) Stage(name string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = true
	if !p.ticking {
		p.ticking = true
		go p.tick()
	}
	if p.bar == nil || name != p.stage || (total > 0 && p.total <= 0) {
		p.finishLocked()
		p.stage, p.total = name, total
		max := total
		if max <= 0 {
			max = -1 // a spinner
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(fmt.Sprintf("%-9s", name)),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetSpinnerChangeInterval(0), // no drawing goroutine of its own
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		}
		if total > 0 {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true))
		} else {
			opts = append(opts, progressbar.OptionSetPredictTime(false))
		}
		p.bar = progressbar.NewOptions64(max, opts...)
	}
	if total > 0 {
		_ = p.bar.Set64(done)
	} else {
		_ = p.bar.RenderBlank()
	}
}

// Detail implements jobs.Progress: the text follows the stage name on the bar's line.
func (p *termProgress) Detail(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%-9s %s", p.stage, text))
	}
}

// tick redraws the bar of the stage going, so that its spinner turns and its elapsed time
// counts while the stage reports nothing.
func (p *termProgress) tick() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		if p.active && p.bar != nil {
			_ = p.bar.RenderBlank() // draws the current state (Add64(0) draws only on change)
		}
		p.mu.Unlock()
	}
}

func (p *termProgress) finishLocked() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

// Write clears the bar's line before a log line; the bar is drawn again at its next
// advance, so nothing of it is left behind once the run has logged its end.
func (p *termProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil && p.active {
		_ = p.bar.Clear()
	}
	p.active = false
	return p.w.Write(b)
}

// Close removes the display.
func (p *termProgress) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}
