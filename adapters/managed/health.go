package managed

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTPOK is a Spec.Health for servers whose readiness is an HTTP GET of path
// answering 200 (Chroma's /api/v2/heartbeat, the embedder's /health). The
// body is read (at most 64 KiB) and dropped, so the connection is reused.
func HTTPOK(path string) func(ctx context.Context, hc *http.Client, baseURL string) error {
	return func(ctx context.Context, hc *http.Client, baseURL string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+path, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s answered HTTP %d", path, resp.StatusCode)
		}
		return nil
	}
}
