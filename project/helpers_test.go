package project_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received within 5s")
		panic("unreachable")
	}
}

// captureHandler is a slog.Handler that keeps every record, with the
// attributes added by Logger.With.
type captureHandler struct {
	store *captureStore
	attrs []slog.Attr
}

type captureStore struct {
	mu      sync.Mutex
	records []capturedRecord
}

type capturedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newCapture() (*slog.Logger, *captureStore) {
	s := &captureStore{}
	return slog.New(&captureHandler{store: s}), s
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := capturedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.records = append(h.store.records, rec)
	h.store.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &captureHandler{store: h.store, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// matching returns the records whose message contains substr.
func (s *captureStore) matching(substr string) []capturedRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []capturedRecord
	for _, r := range s.records {
		if strings.Contains(r.msg, substr) {
			out = append(out, r)
		}
	}
	return out
}
