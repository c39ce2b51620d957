package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkStartup is the server's part of a client's start-up, in process:
// flags, config, the tool set, initialize and tools/list over the stdio
// transport, then shutdown at end of input. The process start and the
// runtime's package initialisation are not in it (docs/performance.md
// measures those end to end against the floor server).
func BenchmarkStartup(b *testing.B) {
	b.Setenv("XDG_CONFIG_HOME", b.TempDir())
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`,
	}, "\n") + "\n"
	for b.Loop() {
		var out bytes.Buffer
		if code := run([]string{"--log-level", "error"}, strings.NewReader(in), &out, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
		if !strings.Contains(out.String(), `"task_get"`) {
			b.Fatalf("no tools/list answer in %q", out.String())
		}
	}
}
