package chroma_test

import (
	"os"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
)

// The troubleshooting page quotes the refusal of mixed embeddings word for
// word, so that a user who searches the page for the message finds it.
func TestTroubleshootingQuotesTheMixedEmbeddingMessage(t *testing.T) {
	doc, err := os.ReadFile("../../docs/users/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "`embedding_error: " + chroma.MixedEmbeddingMessage("NAME", "OLD", "NEW") + "`"
	if !strings.Contains(string(doc), want) {
		t.Fatalf("docs/users/troubleshooting.md does not quote the message the server gives; put this in its row:\n%s", want)
	}
}

func TestMixedEmbeddingMessageGivesTheSteps(t *testing.T) {
	got := chroma.MixedEmbeddingMessage("notes", "hash", "openai:all-MiniLM-L6-v2")
	want := `collection "notes" holds vectors from hash, but the configured embedding provider is openai:all-MiniLM-L6-v2, ` +
		"and vectors of different models cannot be compared: to move the collection to openai:all-MiniLM-L6-v2, read its " +
		"documents with vector_get (1000 per call, paged with offset), drop it with vector_drop_collection, then " +
		"vector_upsert them again without embeddings; or set embeddings.provider/model back to hash"
	if got != want {
		t.Fatalf("message =\n%s\nwant\n%s", got, want)
	}
}
