package tools

import (
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/sqlite"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Every adapter's error reaches the client the same way: "kind: msg", with
// paths inside the project made relative, credentials masked and the length
// capped, as any other client error.
func TestToolErrorShowsEveryAdaptersErrorAsKindColonMessageWithProjectRelativePaths(t *testing.T) {
	const root = "/home/u/proj"
	log := root + "/.task_orchestrator/logs/chroma.log"
	for name, err := range map[string]error{
		"sqlite": &sqlite.Error{Kind: sqlite.KindBusy, Msg: "the task database could not be opened; read " + log},
		"chroma": &chroma.Error{Kind: chroma.KindUnavailable, Msg: "Chroma did not answer; read " + log},
		"neo4j":  &neo4j.Error{Kind: neo4j.KindUnavailable, Msg: "Neo4j did not answer; read " + log},
	} {
		got := errorText(t, root, fmt.Errorf("open the %s backend of %s: %w", name, root, err))
		if strings.Contains(got, root) || !strings.HasPrefix(got, "unavailable: ") || !strings.HasSuffix(got, "; read .task_orchestrator/logs/chroma.log") {
			t.Errorf("%s: got %q, want \"unavailable: …; read .task_orchestrator/logs/chroma.log\"", name, got)
		}
	}
}

func TestToolErrorMasksCredentialsAndCapsAnAdaptersMessage(t *testing.T) {
	err := &sqlite.Error{Kind: sqlite.KindInvalid, Field: "title",
		Msg: "title is too long (http://admin:hunter2@db.example): " + strings.Repeat("x", 10_000)}
	got := errorText(t, "", err)
	if strings.Contains(got, "hunter2") {
		t.Fatalf("the password is shown: %.120q", got)
	}
	if len(got) > maxClientMessage || !strings.HasSuffix(got, "(cut: the message was too long)") {
		t.Fatalf("the message is %d bytes, not cut to %d: …%q", len(got), maxClientMessage, got[max(0, len(got)-60):])
	}
}

// A managed server's hook answers "unavailable" when a file of its data
// folder is a link; the client is shown the refusal itself, which says
// which file and what to do.
func TestToolErrorShowsAFileRefusalRatherThanTheAdapterErrorWrappingIt(t *testing.T) {
	refusal := &workspace.UnsafeFileError{Path: ".task_orchestrator/databases/neo4j/.password", Why: "is a symbolic link"}
	err := &neo4j.Error{Kind: neo4j.KindUnavailable, Msg: workspace.UnsafeFileMessage(refusal), Err: refusal}
	if got, want := errorText(t, "/p", err), refusal.Error(); got != want {
		t.Fatalf("got %q, want the refusal %q", got, want)
	}
}

// The tool layer renders client errors through one interface: it does not
// know the adapters' error types, so it imports no adapter.
func TestToolErrorKnowsNoAdapter(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "call.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(path, "/adapters/") && !strings.HasSuffix(path, "/adapters/progress") {
			t.Errorf("call.go imports %s", path)
		}
	}
}

// BenchmarkToolErrorOfAnAdapterError is the cost of rendering one adapter
// error (a path made relative, credentials masked, length capped).
func BenchmarkToolErrorOfAnAdapterError(b *testing.B) {
	d := &Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := fmt.Errorf("task_update: %w", &sqlite.Error{Kind: sqlite.KindConflict, Field: "version",
		Msg: "task t-1 was changed by another call (version 3, you sent 2); read it again with task_get and retry"})
	for b.Loop() {
		_ = toolErrorIn(d, "task_update", "/home/u/proj", err)
	}
}
