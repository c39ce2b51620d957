package managed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/managed"
)

func TestHTTPOKWantsA200OnItsPath(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/heartbeat" {
			http.NotFound(w, r)
			return
		}
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	check := managed.HTTPOK("/api/v2/heartbeat")
	if err := check(context.Background(), client, srv.URL); err == nil || err.Error() != "GET /api/v2/heartbeat answered HTTP 503" {
		t.Fatalf("while starting: %v, want GET /api/v2/heartbeat answered HTTP 503", err)
	}
	ready.Store(true)
	if err := check(context.Background(), client, srv.URL); err != nil {
		t.Fatalf("when ready: %v", err)
	}
	if err := managed.HTTPOK("/health")(context.Background(), client, srv.URL); err == nil || err.Error() != "GET /health answered HTTP 404" {
		t.Fatalf("another path: %v, want GET /health answered HTTP 404", err)
	}
}
