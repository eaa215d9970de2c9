package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress draws a bar with the rate and the time left on a terminal, at
// most ten times a second, and nothing when stdout is not a terminal (a
// pipe, a file, CI).
type Progress struct {
	w     io.Writer
	unit  string  // what the rate counts, "trips"
	total float64 // of units
	start time.Time

	mu   sync.Mutex
	last time.Time
	on   bool
}

// NewProgress returns a bar on w for total units, drawn only if stdout
// and w are terminals.
func NewProgress(stdout, w io.Writer, total float64, unit string) *Progress {
	return &Progress{w: w, unit: unit, total: total, start: time.Now(), on: IsTerminal(stdout) && IsTerminal(w)}
}

func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// set shows done units of total.
func (p *Progress) Set(done float64) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < p.total {
		return
	}
	p.last = now
	fmt.Fprint(p.w, "\r"+bar(done, p.total, now.Sub(p.start), p.unit))
}

// clear removes the bar before the report is printed.
func (p *Progress) Clear() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}

// bar renders "[=====>    ]  42%  1.3 trips/s  0:12 left".
func bar(done, total float64, elapsed time.Duration, unit string) string {
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(max(done/total, 0), 1)
	}
	n := int(frac * width)
	b := strings.Repeat("=", n)
	if n < width {
		b += ">" + strings.Repeat(" ", width-n-1)
	}
	rate := done / max(elapsed.Seconds(), 1e-3)
	left := "--:--"
	if rate > 0 && frac > 0 {
		left = fmtLeft(time.Duration((total - done) / rate * float64(time.Second)))
	}
	return fmt.Sprintf("[%s] %3.0f%%  %.2f %s/s  %s left", b, 100*frac, rate, unit, left)
}

func fmtLeft(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= time.Hour {
		return fmt.Sprintf("%d:%02d:%02d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%d:%02d", d/time.Minute, d%time.Minute/time.Second)
}
