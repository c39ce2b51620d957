package project

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// maxLogBytes is the size at which a project's log file is rotated to
// server.log.1 (a variable for tests).
var maxLogBytes int64 = 10 << 20

// logRecheck is how often a log file checks that server.log is still the file
// it writes to and not full: another server process on the project may have
// rotated it (a variable for tests).
var logRecheck = time.Second

// logger returns the project's logger: stderr and the project's
// .task_orchestrator/logs/server.log, one handle shared by every backend. A log
// file that cannot be opened is reported on stderr and skipped: logging must
// never stop a tool call.
func (p *Project) logger() *slog.Logger {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.log != nil {
		return p.log
	}
	base := p.reg.log.With("workspace", p.layout.Root)
	if p.logClosed {
		return base
	}
	f, err := openLogFile(p.layout)
	if err != nil {
		// Not remembered: the next backend to open tries again.
		base.Warn("cannot open the project log file; logging to stderr only", "path", filepath.Join(p.layout.Logs, "server.log"), "err", workspace.UnsafeFileMessage(err))
		return base
	}
	h := p.reg.cfg.LogHandler
	level := slog.LevelInfo
	if h != nil {
		for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
			if h.Enabled(context.Background(), l) {
				level = l
				break
			}
		}
	}
	fileHandler := slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level})
	var out slog.Handler = fileHandler
	if h != nil {
		out = fanout{h, fileHandler}
	}
	p.logFile = f
	p.log = slog.New(out).With("workspace", p.layout.Root)
	return p.log
}

// closeLog closes the project's log file; records logged afterwards (by a
// backend still closing) go to stderr only.
func (p *Project) closeLog() error {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	p.logClosed = true
	if p.logFile == nil {
		return nil
	}
	return p.logFile.Close()
}

// logFile is a project's server.log, opened without following links. It
// rotates itself past maxLogBytes and follows a rotation made by another
// server process on the same project (it reopens server.log when the name no
// longer points at the file it holds), so no process keeps writing to
// server.log.1 for ever.
type logFile struct {
	layout workspace.Layout
	path   string

	mu      sync.Mutex // guards the fields below; held while writing one record
	f       *os.File   // nil once closed: records are dropped
	checked time.Time  // when the name was last compared with f
}

func openLogFile(layout workspace.Layout) (*logFile, error) {
	l := &logFile{layout: layout, path: filepath.Join(layout.Logs, "server.log")}
	f, err := l.open()
	if err != nil {
		return nil, err
	}
	l.f, l.checked = f, time.Now()
	l.rotateIfFull()
	return l, nil
}

// open opens server.log for appending; a symlinked server.log is refused,
// never appended to.
func (l *logFile) open() (*os.File, error) {
	return workspace.OpenProjectFile(l.layout, l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}

// rotateIfFull moves a full server.log to server.log.1 and starts a new one.
// Rename replaces a link at server.log.1 rather than writing through it, and
// a link planted there is refused first. Called with mu held (or before l
// is shared).
func (l *logFile) rotateIfFull() {
	fi, err := l.f.Stat()
	if err != nil || fi.Size() <= maxLogBytes {
		return
	}
	if _, cerr := workspace.CheckProjectFile(l.layout, l.path+".1"); cerr != nil {
		return
	}
	// Only rotate the file we hold: another process may have rotated already.
	if cur, err := os.Lstat(l.path); err != nil || !os.SameFile(cur, fi) {
		l.reopen()
		return
	}
	_ = os.Rename(l.path, l.path+".1")
	l.reopen()
}

// reopen swaps f for a fresh handle on server.log; on failure it keeps the
// old one (writing to the rotated file beats losing the record).
func (l *logFile) reopen() {
	f, err := l.open()
	if err != nil {
		return
	}
	_ = l.f.Close()
	l.f = f
}

func (l *logFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(b), nil
	}
	if now := time.Now(); now.Sub(l.checked) >= logRecheck {
		l.checked = now
		if cur, err := os.Lstat(l.path); err != nil {
			l.reopen()
		} else if fi, err := l.f.Stat(); err == nil && !os.SameFile(cur, fi) {
			l.reopen()
		}
		l.rotateIfFull()
	}
	return l.f.Write(b)
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// fanout sends each record to every handler that wants it.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
