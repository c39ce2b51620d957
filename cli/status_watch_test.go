package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// countingSource gives snapshots and cancels the watch after n of them.
type countingSource struct {
	n, seen int
	cancel  context.CancelFunc
}

func (c *countingSource) snapshot(context.Context) Snapshot {
	c.seen++
	if c.seen >= c.n {
		c.cancel()
	}
	return Snapshot{Source: "test", Taken: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), Note: "snapshot"}
}
func (c *countingSource) close() {}

// Into a pipe or a file, status --watch writes plain text: each snapshot
// after the last, no escape codes; on a terminal it redraws in place.
func TestStatusWatchWritesEscapeCodesOnlyToATerminal(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		src := &countingSource{n: 3, cancel: cancel}
		var out bytes.Buffer
		if code := watch(ctx, src, &out, time.Millisecond, func() int { return 80 }, tty); code != ExitOK {
			t.Fatalf("tty %v: exit %d", tty, code)
		}
		cancel()
		got := out.String()
		one := strings.Join(render(src.snapshot(context.Background()), 80, time.Millisecond), "\n") + "\n"
		if !tty {
			if want := one + "\n" + one + "\n" + one; got != want {
				t.Errorf("into a pipe:\n got %q\nwant %q", got, want)
			}
			continue
		}
		if !strings.HasPrefix(got, "\x1b[?25l\x1b[2J\x1b[H") || !strings.HasSuffix(got, "\x1b[J\x1b[?25h\x1b[J\n") {
			t.Errorf("on a terminal, no redraw codes: %q", got)
		}
	}
}
