// Package logcapture is a slog.Handler for tests that keeps every record, with
// the attributes added by Logger.With, so a test can assert what was logged.
// It imports nothing of this module.
package logcapture

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Record is one kept log record; Attrs holds every attribute as text.
type Record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// Store keeps the records of every logger New made it for. Safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	records []Record
}

// New returns a logger whose records are kept in the returned Store.
func New() (*slog.Logger, *Store) {
	s := &Store{}
	return slog.New(&handler{store: s}), s
}

// Matching returns the records whose message contains substr.
func (s *Store) Matching(substr string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		if strings.Contains(r.Msg, substr) {
			out = append(out, r)
		}
	}
	return out
}

type handler struct {
	store *Store
	attrs []slog.Attr
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.records = append(h.store.records, rec)
	h.store.mu.Unlock()
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{store: h.store, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *handler) WithGroup(string) slog.Handler { return h }
