package chroma_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// retrievalSet is testdata/retrieval.json: task titles and labelled queries.
type retrievalSet struct {
	Documents []struct {
		ID, Topic, Text string
	}
	Queries []struct {
		Kind, Text string
		Relevant   []string
	}
}

func loadRetrievalSet(t testing.TB) retrievalSet {
	t.Helper()
	b, err := os.ReadFile("testdata/retrieval.json")
	if err != nil {
		t.Fatal(err)
	}
	var set retrievalSet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Documents) < 40 || len(set.Queries) < 24 {
		t.Fatalf("testdata/retrieval.json has %d documents and %d queries; want 40 and 24", len(set.Documents), len(set.Queries))
	}
	return set
}

// retrievalScore is recall@5 and MRR over the queries of one kind.
type retrievalScore struct {
	n              int
	recall5, mrr   float64
	firstMissQuery string // the first query whose top hit is not relevant
}

func (r retrievalScore) String() string { return fmt.Sprintf("%.2f / %.2f", r.recall5, r.mrr) }

// cosine of two vectors (the providers' vectors need not be normalised).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// scoreRetrieval embeds the documents and queries with embed, ranks the
// documents by cosine for each query, and scores each kind of query.
func scoreRetrieval(t *testing.T, set retrievalSet, embed func([]string) ([][]float32, error)) map[string]retrievalScore {
	t.Helper()
	texts := make([]string, 0, len(set.Documents)+len(set.Queries))
	for _, d := range set.Documents {
		texts = append(texts, d.Text)
	}
	for _, q := range set.Queries {
		texts = append(texts, q.Text)
	}
	vecs, err := embed(texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
	}
	docs, queries := vecs[:len(set.Documents)], vecs[len(set.Documents):]
	out := map[string]retrievalScore{}
	for qi, q := range set.Queries {
		order := make([]int, len(docs))
		sims := make([]float64, len(docs))
		for i := range docs {
			order[i], sims[i] = i, cosine(queries[qi], docs[i])
		}
		// Ties are broken by position, so a constant embedding cannot score by luck of the order... mostly.
		sort.SliceStable(order, func(a, b int) bool { return sims[order[a]] > sims[order[b]] })
		relevant := map[string]bool{}
		for _, id := range q.Relevant {
			relevant[id] = true
		}
		found, rr := 0, 0.0
		for rank, i := range order {
			if !relevant[set.Documents[i].ID] {
				continue
			}
			if rr == 0 {
				rr = 1 / float64(rank+1)
			}
			if rank < 5 {
				found++
			}
		}
		for _, kind := range []string{q.Kind, "all"} {
			s := out[kind]
			s.n++
			s.recall5 += float64(found) / float64(len(q.Relevant))
			s.mrr += rr
			if rr < 1 && s.firstMissQuery == "" {
				s.firstMissQuery = fmt.Sprintf("%q (top hit %q)", q.Text, set.Documents[order[0]].Text)
			}
			out[kind] = s
		}
	}
	for k, s := range out {
		s.recall5 /= float64(s.n)
		s.mrr /= float64(s.n)
		out[k] = s
	}
	return out
}

// TestRetrievalQuality measures recall@5 and MRR on testdata/retrieval.json
// for the retired hash provider, the lexical provider and (with the local
// embedder the tests run) a semantic model through the openai provider,
// and logs a table. The lexical provider must find every exact or
// near-exact title first and beat the old hash.
func TestRetrievalQuality(t *testing.T) {
	ctx := context.Background()
	set := loadRetrievalSet(t)
	type column struct {
		name  string
		score map[string]retrievalScore
	}
	var cols []column

	oldHash := scoreRetrieval(t, set, func(texts []string) ([][]float32, error) { return chroma.EmbedOldHash(ctx, texts) })
	cols = append(cols, column{"hash (old)", oldHash})
	lexical := scoreRetrieval(t, set, func(texts []string) ([][]float32, error) {
		return chroma.Embed(ctx, workspace.Embeddings{Provider: "lexical", Timeout: 30}, texts)
	})
	cols = append(cols, column{chroma.LabelLexical, lexical})

	url := os.Getenv("TASK_ORCHESTRATOR_TEST_EMBEDDER_URL")
	var semantic map[string]retrievalScore
	switch {
	case url != "":
		semantic = scoreRetrieval(t, set, func(texts []string) ([][]float32, error) {
			return chroma.Embed(ctx, workspace.Embeddings{Provider: "openai", BaseURL: url, Model: "all-MiniLM-L6-v2", Timeout: 60}, texts)
		})
		cols = append(cols, column{"openai:all-MiniLM-L6-v2", semantic})
	case os.Getenv("CI") != "":
		t.Error("TASK_ORCHESTRATOR_TEST_EMBEDDER_URL is not set, so the semantic column cannot be measured: " +
			"run the tests with `bash integration/test-all.sh`, which starts the local embedding model (integration/embedder.sh start)")
	default:
		t.Log("TASK_ORCHESTRATOR_TEST_EMBEDDER_URL is not set: the semantic column is left out " +
			"(start one with `bash integration/embedder.sh start` and export its URL)")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nretrieval on testdata/retrieval.json (%d titles), recall@5 / MRR, ranked by cosine\n", len(set.Documents))
	fmt.Fprintf(&b, "| queries | %s |\n|---|", strings.Join(func() []string {
		var names []string
		for _, c := range cols {
			names = append(names, c.name)
		}
		return names
	}(), " | "))
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, kind := range []string{"reworded", "exact", "all"} {
		fmt.Fprintf(&b, "| %s (%d) |", kind, oldHash[kind].n)
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c.score[kind])
		}
		b.WriteString("\n")
	}
	t.Log(b.String())

	if s := lexical["exact"]; s.mrr != 1 {
		t.Errorf("lexical: MRR on exact and near-exact titles = %.3f, want 1 (every title first); first miss: %s", s.mrr, s.firstMissQuery)
	}
	if l, h := lexical["all"], oldHash["all"]; l.mrr <= h.mrr || l.recall5 <= h.recall5 {
		t.Errorf("lexical (%s) does not beat the old hash (%s) on all queries (recall@5 / MRR)", l, h)
	}
	// The goal for the semantic path: it finds what reworded queries mean, where shared words fail.
	if semantic != nil {
		if s, l := semantic["reworded"], lexical["reworded"]; s.mrr <= l.mrr {
			t.Errorf("the semantic model (%s) does not beat lexical (%s) on reworded queries (recall@5 / MRR)", s, l)
		}
	}
}

func TestLexicalNormalisation(t *testing.T) {
	for _, tc := range []struct {
		text string
		want string
	}{
		{"The health endpoint returns JSON", "health endpoint returns json"},
		{"  Login-fails: 500 (when  password==ÉTÉ)!", "login fails 500 password été"},
		{"snake_case and dotted.names", "snake case dotted names"},
		{"Größe ändern, 日本語 テキスト", "größe ändern 日本語 テキスト"},
		{"the of to", ""},
		{"", ""},
	} {
		if got := strings.Join(chroma.LexicalWords(tc.text), " "); got != tc.want {
			t.Errorf("LexicalWords(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	if got := chroma.LexicalGrams("login", 3); strings.Join(got, " ") != "<lo log ogi gin in>" {
		t.Errorf("LexicalGrams(login, 3) = %q", got)
	}
	if got := chroma.LexicalGrams("a", 3); strings.Join(got, " ") != "<a>" {
		t.Errorf("LexicalGrams(a, 3) = %q", got)
	}
	if got := chroma.LexicalGrams("été", 3); strings.Join(got, " ") != "<ét été té>" {
		t.Errorf("LexicalGrams(été, 3) = %q (n-grams are of runes, not bytes)", got)
	}
}

func TestLexicalVectorIsDeterministicNormalisedAndSized(t *testing.T) {
	const text = "Rotate the OAuth client secret for the GitHub integration"
	a, b := chroma.LexicalVector(text, 384), chroma.LexicalVector(text, 384)
	if len(a) != 384 {
		t.Fatalf("len = %d, want 384", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("two embeddings of one text differ at %d: %v, %v", i, a[i], b[i])
		}
	}
	// A golden value pins the hashing: a change of the features or the
	// hash must come with a new label (lexical-v2), never silently.
	var sum float64
	nonzero := 0
	for i, x := range a {
		sum += float64(i) * float64(x)
		if x != 0 {
			nonzero++
		}
	}
	t.Logf("fingerprint %.6f, %d non-zero dimensions", sum, nonzero)
	if math.Abs(sum-lexicalFingerprint) > 1e-3 {
		t.Errorf("fingerprint of %q = %.6f, want %.6f: the lexical embedding changed; give it a new label", text, sum, lexicalFingerprint)
	}
	for _, tc := range []struct {
		text string
		dims int
		want int
	}{{text, 16, 16}, {text, 1536, 1536}, {text, 0, 384}, {"", 64, 64}, {"!!! ...", 64, 64}} {
		v := chroma.LexicalVector(tc.text, tc.dims)
		if len(v) != tc.want {
			t.Errorf("LexicalVector(%q, %d) has %d dimensions, want %d", tc.text, tc.dims, len(v), tc.want)
		}
		var n float64
		for _, x := range v {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("LexicalVector(%q, %d) has squared norm %f, want 1", tc.text, tc.dims, n)
		}
	}
	// Shared words make texts near; case and punctuation do not matter.
	health := chroma.LexicalVector("The health endpoint returns JSON with the server's status", 384)
	if c := cosine(chroma.LexicalVector("HEALTH", 384), health); c < 0.2 {
		t.Errorf("cosine(health, a text about the health endpoint) = %.3f, want >= 0.2", c)
	}
	if c := cosine(chroma.LexicalVector("HEALTH", 384), chroma.LexicalVector("Rotate the OAuth client secret", 384)); c > 0.1 {
		t.Errorf("cosine(health, an unrelated text) = %.3f, want <= 0.1", c)
	}
	if c := cosine(chroma.LexicalVector("health endpoint returns json with the server's status", 384), health); c < 0.999 {
		t.Errorf("cosine of a text and its re-cased copy = %.4f, want 1", c)
	}
}

// TestHashIsReadAsLexical: "hash" in the config is the deprecated name of
// lexical, labelled lexical-v1 like it.
func TestHashIsReadAsLexical(t *testing.T) {
	ctx := context.Background()
	texts := []string{"Fix broken links in the README", "Upgrade PostgreSQL from 14 to 16"}
	a, err := chroma.Embed(ctx, workspace.Embeddings{Provider: "hash", Dimensions: 64}, texts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chroma.Embed(ctx, workspace.Embeddings{Provider: "lexical", Dimensions: 64}, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if len(a[i]) != 64 || cosine(a[i], b[i]) < 0.99999 {
			t.Errorf("text %d: hash gives %d dimensions, cosine %.5f with lexical; want 64 and 1", i, len(a[i]), cosine(a[i], b[i]))
		}
	}
	s := open(t, remoteOptions(project(t), workspace.Embeddings{Provider: "hash", Timeout: 30}))
	if got := chroma.ProviderLabel(s); got != "lexical-v1" {
		t.Errorf("provider hash records %q, want lexical-v1", got)
	}
	// The configuration accepts both names and names lexical in its rule.
	for _, name := range []string{"lexical", "hash"} {
		cfg := workspace.Defaults()
		cfg.Embeddings.Provider = name
		if err := cfg.Validate(); err != nil {
			t.Errorf("embeddings.provider %s: %v", name, err)
		}
	}
	cfg := workspace.Defaults()
	cfg.Embeddings.Provider = "simhash"
	const rule = `must be one of "" (none: callers send vectors), "lexical", "local", "openai", "ollama", "default"`
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), rule) {
		t.Errorf("embeddings.provider simhash: %v, want the rule %s", err, rule)
	}
}

// TestOldHashCollectionIsRefusedWithTheStepsToReembed: a collection written
// by a server before lexical-v1 (labelled "hash") is never mixed with
// lexical vectors, and the error says how to re-embed it.
func TestOldHashCollectionIsRefusedWithTheStepsToReembed(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	old := open(t, remoteOptions(layout, lexicalEmbeddings))
	chroma.UseOldHash(old)
	if res, err := old.Upsert(ctx, "notes", docs(2, "h")); err != nil || res.Embedding != "hash" {
		t.Fatalf("old hash upsert = %+v, %v", res, err)
	}
	s := open(t, remoteOptions(layout, workspace.Embeddings{Provider: "hash", Timeout: 30}))
	const want = `collection "notes" holds vectors from the old hash provider (a hash of the whole text, retired: ` +
		`"hash" in the config now means lexical, recorded as lexical-v1), and the configured embedding provider is lexical-v1: ` +
		`re-embed it (vector_drop_collection, then upsert the documents again; a task mirror is rebuilt by task_reconcile with mirror "vector")`
	_, err := s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "h document number 1"})
	if e := wantKind(t, err, chroma.KindEmbedding); e.Msg != want {
		t.Errorf("query:\n got %s\nwant %s", e.Msg, want)
	}
	_, err = s.Upsert(ctx, "notes", docs(1, "l"))
	if e := wantKind(t, err, chroma.KindEmbedding); e.Msg != want {
		t.Errorf("upsert:\n got %s\nwant %s", e.Msg, want)
	}
	if c := count(t, s, "notes"); c != 2 {
		t.Errorf("count = %d after refused calls, want 2", c)
	}
}

func BenchmarkLexicalVector(b *testing.B) {
	const text = "Add an index on invoices.customer_id to speed up the report query"
	for b.Loop() {
		chroma.LexicalVector(text, 384)
	}
}

// lexicalFingerprint is Σ i·v[i] of the lexical-v1 vector of the text in
// TestLexicalVectorIsDeterministicNormalisedAndSized.
const lexicalFingerprint = -172.088566
