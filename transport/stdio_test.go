package transport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
)

func TestIDOfAnOversizedLineIsFoundOnlyAtItsStart(t *testing.T) {
	for head, want := range map[string]any{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{"content":"xxxxx`: json.Number("7"),
		`{"id":"abc","params":{"x":"yyyy`:                       "abc",
		` { "method" : "x", "id" : 12 , "params":"zzzzzz`:       json.Number("12"),
		`{"jsonrpc":"2.0","params":{"arguments":{"content":"xx`: nil, // the id would come after: not looked for
		`{"id":{"x":1},"params":"`:                              nil, // not a valid id
		`[{"id":3}`:                                             nil,
		`garbage`:                                               nil,
	} {
		if got := transport.IDOf(head); got != want {
			t.Errorf("IDOf(%.40q) = %#v, want %#v", head, got, want)
		}
	}
}

// stdioSession runs a real mcp-go StdioServer behind LimitStdio on pipes.
type stdioSession struct {
	in   *io.PipeWriter
	out  *bufio.Reader
	logs *logBuffer
	done chan error
}

func startStdio(t *testing.T, limit int) *stdioSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	logs := &logBuffer{}
	in, out := transport.LimitStdio(inR, outW, limit, slog.New(slog.NewTextHandler(logs, nil)))
	srv := server.NewStdioServer(newMCP(newGate()))
	ctx, cancel := context.WithCancel(context.Background())
	s := &stdioSession{in: inW, out: bufio.NewReaderSize(outR, 1<<20), logs: logs, done: make(chan error, 1)}
	go func() { s.done <- srv.Listen(ctx, in, out) }()
	t.Cleanup(func() {
		_ = inW.Close()
		cancel()
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		<-s.done
		_ = outW.Close()
	})
	return s
}

func (s *stdioSession) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

type rpcAnswer struct {
	ID     any             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int            `json:"code"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	} `json:"error"`
}

func (s *stdioSession) read(t *testing.T) rpcAnswer {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := s.out.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		var a rpcAnswer
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("not JSON-RPC on stdout: %.200q", line)
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer on stdout within 10 s")
		return rpcAnswer{}
	}
}

func TestOversizedStdioLineIsRefusedWhileReadAndTheSessionGoesOn(t *testing.T) {
	const limit = 64 << 10
	s := startStdio(t, limit)
	s.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if a := s.read(t); a.Error != nil || a.Result == nil {
		t.Fatalf("initialize: %+v", a)
	}
	s.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	// A line 80 times the limit: written by a goroutine, since the server
	// answers before it has read the whole line.
	big := `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` +
		strings.Repeat("x", 80*limit) + `"}}}`
	wrote := make(chan error, 1)
	go func() { _, err := io.WriteString(s.in, big+"\n"); wrote <- err }()
	a := s.read(t)
	if a.Error == nil || a.ID != float64(42) || a.Error.Code != -32600 ||
		!strings.Contains(a.Error.Message, "the message is larger than 65536 bytes") ||
		!strings.Contains(a.Error.Message, "--max-message-bytes") || a.Error.Data["max_message_bytes"] != float64(limit) {
		t.Fatalf("oversized line: %+v, want an error for id 42 naming the limit", a)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("writing the oversized line: %v (the server stopped reading)", err)
	}

	// The session goes on: a call at the limit's edge passes whole.
	edge := `{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`
	tail := `"}}}`
	text := strings.Repeat("y", limit-len(edge)-len(tail)-1) // the newline counts
	s.send(t, edge+text+tail)
	a = s.read(t)
	if a.Error != nil || a.ID != float64(43) || !strings.Contains(string(a.Result), text[:100]) {
		t.Fatalf("call at the limit: id %v error %+v", a.ID, a.Error)
	}
	// One byte more is refused, with id null when the id comes late.
	s.send(t, `{"jsonrpc":"2.0","params":{"name":"echo","arguments":{"text":"`+text+`y"}},"id":44,"method":"tools/call"}`)
	if a = s.read(t); a.Error == nil || a.ID != nil {
		t.Fatalf("one byte over the limit: %+v, want an error with id null", a)
	}
	s.send(t, `{"jsonrpc":"2.0","id":45,"method":"ping"}`)
	if a = s.read(t); a.Error != nil || a.ID != float64(45) {
		t.Fatalf("ping after the refusals: %+v", a)
	}
	if n := strings.Count(s.logs.String(), "refused an oversized JSON-RPC message"); n != 2 {
		t.Fatalf("%d oversized messages logged, want 2:\n%s", n, s.logs.String())
	}
}
