package chroma

import (
	"context"

	"github.com/amikos-tech/chroma-go/pkg/embeddings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Test-only access to the lexical embedding and to the retired hash provider.

// LexicalVector is the lexical embedding of text in dims dimensions.
func LexicalVector(text string, dims int) []float32 { return lexicalVector(text, dims) }

// LexicalWords is the normalisation step of the lexical embedding.
func LexicalWords(text string) []string { return lexicalWords(text) }

// LexicalGrams is the character n-gram step of the lexical embedding.
func LexicalGrams(word string, n int) []string { return lexicalGrams(word, n) }

// LabelLexical is the label lexical vectors carry in a collection's metadata.
const LabelLexical = labelLexical

// oldHashProvider is the provider "hash" meant before lexical-v1:
// chroma-go's consistent hash of the whole text, labelled "hash".
func oldHashProvider(dims int) *provider {
	ef, err := embeddings.NewConsistentHashEmbeddingFunctionFromConfig(embeddings.EmbeddingFunctionConfig{"dim": dims})
	if err != nil {
		panic(err)
	}
	return &provider{name: "hash", label: labelHash, dims: dims, timeout: defaultEmbedTimeout, ef: ef}
}

// Embed embeds texts the way a store configured with e does (the same
// provider set-up, batching and checks), without a Chroma server.
func Embed(ctx context.Context, e workspace.Embeddings, texts []string) ([][]float32, error) {
	p := newProvider(e)
	if p == nil {
		return nil, &Error{Kind: KindEmbedding, Msg: msgNoProvider}
	}
	s := &Store{provider: p}
	return s.embedTexts(ctx, texts)
}

// EmbedOldHash embeds texts with the retired hash provider (384 dimensions).
func EmbedOldHash(ctx context.Context, texts []string) ([][]float32, error) {
	s := &Store{provider: oldHashProvider(defaultHashDimensions)}
	return s.embedTexts(ctx, texts)
}

// UseOldHash makes s embed with the retired hash provider, as a server
// before lexical-v1 did; call it before s is used.
func UseOldHash(s *Store) { s.provider = oldHashProvider(defaultHashDimensions) }

// ProviderLabel is the label s records for the vectors its provider makes.
func ProviderLabel(s *Store) string { return s.provider.label }
