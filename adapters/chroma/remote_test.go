package chroma_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// databaseStatus asks the shared server, with a plain request, whether a database exists.
func databaseStatus(t *testing.T, name string) int {
	t.Helper()
	resp, err := http.Get(chromaURL + "/api/v2/tenants/default_tenant/databases/" + url.PathEscape(name))
	if err != nil {
		t.Fatalf("GET database %s: %v", name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTwoProjectsWithTheSameCollectionNameNeverSeeEachOthersDocuments(t *testing.T) {
	ctx := context.Background()
	a := open(t, remoteOptions(project(t), lexicalEmbeddings))
	b := open(t, remoteOptions(project(t), lexicalEmbeddings))
	if a.Info().Database == b.Info().Database {
		t.Fatalf("both projects use database %s", a.Info().Database)
	}
	if _, err := a.Upsert(ctx, "notes", docs(3, "alpha")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Upsert(ctx, "notes", docs(2, "beta")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    *chroma.Store
		want string
		n    int
	}{{a, "alpha", 3}, {b, "beta", 2}} {
		got, err := tc.s.Get(ctx, chroma.GetRequest{Collection: "notes"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.n {
			t.Errorf("%s project sees %d documents, want %d: %+v", tc.want, len(got), tc.n, got)
		}
		for _, d := range got {
			if !strings.HasPrefix(d.ID, tc.want) {
				t.Errorf("%s project sees the other project's document %s", tc.want, d.ID)
			}
		}
		// A query for the other project's exact text finds only this project's documents.
		other := map[string]string{"alpha": "beta document number 0", "beta": "alpha document number 0"}[tc.want]
		matches, err := tc.s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: other, NResults: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if !strings.HasPrefix(m.ID, tc.want) {
				t.Errorf("%s project's query returned %s", tc.want, m.ID)
			}
		}
	}
}

func TestRemoteDatabaseIsCreatedOnFirstUseAndReused(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	opts := remoteOptions(layout, lexicalEmbeddings)
	name := chroma.DatabaseName(layout.Root)
	if !strings.HasPrefix(name, "proj_") || !strings.HasSuffix(name, "_proj") || len(name) != len("proj_")+24+len("_proj") {
		t.Errorf("DatabaseName(%s) = %q, want proj_<24 hex>_proj", layout.Root, name)
	}
	if again := chroma.DatabaseName(layout.Root); again != name {
		t.Errorf("DatabaseName is not stable: %s then %s", name, again)
	}

	s, err := chroma.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Info(); got.Mode != chroma.ModeRemote || got.Database != name {
		t.Errorf("Info = %+v, want remote mode and database %s", got, name)
	}
	if st := databaseStatus(t, name); st != http.StatusNotFound {
		t.Fatalf("database %s answered %d after Open, want 404 (Open must not contact the server)", name, st)
	}
	if _, err := s.Upsert(ctx, "notes", docs(4, "x")); err != nil {
		t.Fatal(err)
	}
	if st := databaseStatus(t, name); st != http.StatusOK {
		t.Fatalf("database %s answered %d after the first upsert, want 200", name, st)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A new store for the same project finds the same database and its documents.
	s2 := open(t, opts)
	got, err := s2.Get(ctx, chroma.GetRequest{Collection: "notes"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("reopened store sees %d documents, want 4", len(got))
	}
}

func TestDatabaseNamesAreValidAndDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, root := range []string{"/home/u/my project", "/home/u/my-project", "/srv/ünïcödé", "/srv/..weird..name..", "/a", "/x/" + strings.Repeat("long", 30)} {
		name := chroma.DatabaseName(root)
		if prev, dup := seen[name]; dup {
			t.Errorf("%s and %s share database %s", prev, root, name)
		}
		seen[name] = root
		if len(name) < 3 || len(name) > 512 || strings.Contains(name, "..") {
			t.Errorf("DatabaseName(%q) = %q breaks Chroma's rule", root, name)
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
			if !ok {
				t.Errorf("DatabaseName(%q) = %q holds %q", root, name, c)
			}
		}
		last := name[len(name)-1]
		if !(last >= 'a' && last <= 'z' || last >= 'A' && last <= 'Z' || last >= '0' && last <= '9') {
			t.Errorf("DatabaseName(%q) = %q does not end with a letter or digit", root, name)
		}
	}
}

func TestRoundTripWithHashEmbeddings(t *testing.T) {
	ctx := context.Background()
	emb := lexicalEmbeddings
	emb.Dimensions = 64
	s := open(t, remoteOptions(project(t), emb))

	res, err := s.Upsert(ctx, "notes", docs(6, "n"))
	if err != nil {
		t.Fatal(err)
	}
	if res != (chroma.UpsertResult{Upserted: 6, Batches: 1, Dimensions: 64, Embedding: "lexical-v1"}) {
		t.Errorf("Upsert = %+v", res)
	}
	// Upsert replaces by id.
	if _, err := s.Upsert(ctx, "notes", []chroma.Document{{ID: "n-001", Text: "replaced text", Metadata: map[string]any{"n": 100}}}); err != nil {
		t.Fatal(err)
	}

	matches, err := s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "n document number 4", NResults: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 3 || matches[0].ID != "n-004" || matches[0].Text != "n document number 4" || matches[0].Distance > 1e-4 {
		t.Fatalf("Query = %+v, want n-004 first at distance 0", matches)
	}
	if matches[0].Metadata["n"] != int64(4) || matches[0].Metadata["even"] != true {
		t.Errorf("metadata = %#v", matches[0].Metadata)
	}
	// Filtered query.
	matches, err = s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "n document number 4", Where: map[string]any{"even": false}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		if m.Metadata["even"] != false {
			t.Errorf("where even=false returned %+v", m)
		}
	}

	got, err := s.Get(ctx, chroma.GetRequest{Collection: "notes", IDs: []string{"n-001", "n-002", "n-001", "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]chroma.Document{}
	for _, d := range got {
		byID[d.ID] = d
	}
	if len(got) != 2 || byID["n-001"].Text != "replaced text" || byID["n-002"].Metadata["prefix"] != "n" {
		t.Errorf("Get by ids = %+v", got)
	}
	got, err = s.Get(ctx, chroma.GetRequest{Collection: "notes", Where: map[string]any{"n": map[string]any{"$gte": 3, "$lt": 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("Get where 3 <= n < 5 = %+v, want n-003 and n-004", got)
	}
	page, err := s.Get(ctx, chroma.GetRequest{Collection: "notes", Limit: 4, Offset: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 {
		t.Errorf("Get limit 4 offset 4 of 6 = %d documents, want 2", len(page))
	}

	cols, err := s.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 1 || cols[0] != (chroma.CollectionInfo{Name: "notes", Count: 6, Embedding: "lexical-v1", Dimensions: 64, Space: "cosine"}) {
		t.Errorf("Collections = %+v", cols)
	}

	n, err := s.Delete(ctx, "notes", nil, map[string]any{"even": true})
	if err != nil || n != 3 {
		t.Fatalf("Delete where even = %d, %v; want 3", n, err)
	}
	n, err = s.Delete(ctx, "notes", []string{"n-001", "n-000", "nope"}, nil)
	if err != nil || n != 1 {
		t.Fatalf("Delete ids = %d, %v; want 1 (n-000 is gone, nope never existed)", n, err)
	}
	if c := count(t, s, "notes"); c != 2 {
		t.Errorf("count after deletes = %d, want 2", c)
	}
	_, err = s.Delete(ctx, "notes", nil, nil)
	wantKind(t, err, chroma.KindInvalid, "ids", "where")

	if err := s.DropCollection(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	if cols, err := s.Collections(ctx); err != nil || len(cols) != 0 {
		t.Errorf("Collections after drop = %+v, %v", cols, err)
	}
	wantKind(t, s.DropCollection(ctx, "notes"), chroma.KindNotFound, "notes", "vector_collections")
	_, err = s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "x"})
	wantKind(t, err, chroma.KindNotFound, "notes")
	_, err = s.Get(ctx, chroma.GetRequest{Collection: "notes"})
	wantKind(t, err, chroma.KindNotFound, "notes")
	_, err = s.Delete(ctx, "notes", []string{"a"}, nil)
	wantKind(t, err, chroma.KindNotFound, "notes")

	// Re-created under the same name after the drop: the cached handle is not reused.
	if _, err := s.Upsert(ctx, "notes", docs(1, "again")); err != nil {
		t.Fatal(err)
	}
	if c := count(t, s, "notes"); c != 1 {
		t.Errorf("count of the re-created collection = %d, want 1", c)
	}
}

func TestRoundTripWithCallerVectors(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), workspace.Embeddings{})) // no provider: callers send vectors
	in := []chroma.Document{
		{ID: "x", Text: "east", Embedding: []float32{1, 0, 0}},
		{ID: "y", Embedding: []float32{0, 1, 0}, Metadata: map[string]any{"axis": "y", "w": 0.5}},
		{ID: "z", Text: "up", Embedding: []float32{0, 0, 1}},
	}
	res, err := s.Upsert(ctx, "vecs", in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Embedding != "caller" || res.Dimensions != 3 || res.Upserted != 3 {
		t.Errorf("Upsert = %+v", res)
	}
	matches, err := s.Query(ctx, chroma.QueryRequest{Collection: "vecs", Embedding: []float32{0.1, 0.9, 0}, NResults: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 2 || matches[0].ID != "y" || matches[0].Metadata["w"] != 0.5 || matches[0].Text != "" {
		t.Errorf("Query = %+v, want y first", matches)
	}
	got, err := s.Get(ctx, chroma.GetRequest{Collection: "vecs", Where: map[string]any{"axis": map[string]any{"$in": []any{"y", "q"}}}})
	if err != nil || len(got) != 1 || got[0].ID != "y" {
		t.Errorf("Get where axis in [y q] = %+v, %v", got, err)
	}
	cols, err := s.Collections(ctx)
	if err != nil || len(cols) != 1 || cols[0] != (chroma.CollectionInfo{Name: "vecs", Count: 3, Embedding: "caller", Dimensions: 3, Space: "cosine"}) {
		t.Errorf("Collections = %+v, %v", cols, err)
	}
	// Text cannot search a collection of caller vectors.
	_, err = s.Query(ctx, chroma.QueryRequest{Collection: "vecs", Text: "east"})
	wantKind(t, err, chroma.KindEmbedding)
}

func TestDimensionMismatchIsRefusedAndNothingIsWritten(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), workspace.Embeddings{}))
	if _, err := s.Upsert(ctx, "vecs", []chroma.Document{{ID: "a", Embedding: []float32{1, 0, 0}}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Upsert(ctx, "vecs", []chroma.Document{{ID: "b", Embedding: []float32{1, 0, 0, 0}}})
	wantKind(t, err, chroma.KindDimension, "3-dimensional", "4 dimensions")
	_, err = s.Upsert(ctx, "vecs", []chroma.Document{{ID: "c", Embedding: []float32{1, 0, 0}}, {ID: "d", Embedding: []float32{1, 0}}})
	wantKind(t, err, chroma.KindDimension, "2 dimensions", "3")
	_, err = s.Query(ctx, chroma.QueryRequest{Collection: "vecs", Embedding: []float32{1, 0}})
	wantKind(t, err, chroma.KindDimension, "3-dimensional", "2 dimensions")
	if c := count(t, s, "vecs"); c != 1 {
		t.Errorf("count = %d after refused upserts, want 1", c)
	}
}

func TestEmbeddingMismatchBetweenCollectionAndConfiguration(t *testing.T) {
	ctx := context.Background()
	layout := project(t)
	lexStore := open(t, remoteOptions(layout, lexicalEmbeddings))
	if _, err := lexStore.Upsert(ctx, "notes", docs(2, "h")); err != nil {
		t.Fatal(err)
	}

	// Same project, configuration changed to another provider: refused
	// before the provider is ever called (nothing listens on that port).
	ollama := workspace.Embeddings{Provider: "ollama", BaseURL: "http://127.0.0.1:9", Timeout: 5}
	other := open(t, remoteOptions(layout, ollama))
	_, err := other.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "h document number 1"})
	wantKind(t, err, chroma.KindEmbedding, "lexical-v1", "ollama:nomic-embed-text", "vector_drop_collection")
	_, err = other.Upsert(ctx, "notes", docs(1, "o"))
	wantKind(t, err, chroma.KindEmbedding, "lexical-v1", "ollama:nomic-embed-text")

	// Same provider, other size.
	small := lexicalEmbeddings
	small.Dimensions = 16
	resized := open(t, remoteOptions(layout, small))
	_, err = resized.Upsert(ctx, "notes", docs(1, "s"))
	wantKind(t, err, chroma.KindDimension, "384-dimensional", "16 dimensions")

	// Caller vectors into a collection whose vectors come from lexical, and the reverse.
	none := open(t, remoteOptions(layout, workspace.Embeddings{}))
	_, err = none.Upsert(ctx, "notes", []chroma.Document{{ID: "v", Embedding: make384()}})
	wantKind(t, err, chroma.KindEmbedding, "lexical-v1", "own embeddings")
	_, err = none.Query(ctx, chroma.QueryRequest{Collection: "notes", Embedding: make384()})
	wantKind(t, err, chroma.KindEmbedding, "lexical-v1")
	_, err = none.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "h document number 1"})
	wantKind(t, err, chroma.KindEmbedding, "no embedding provider is configured", "lexical")
	if _, err := none.Upsert(ctx, "mine", []chroma.Document{{ID: "v", Embedding: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	_, err = lexStore.Upsert(ctx, "mine", docs(1, "t"))
	wantKind(t, err, chroma.KindEmbedding, "caller-supplied")

	if c := count(t, lexStore, "notes"); c != 2 {
		t.Errorf("count = %d after refused calls, want 2", c)
	}
}

func make384() []float32 {
	v := make([]float32, 384)
	v[0] = 1
	return v
}

func TestBadCollectionNamesExplainTheRule(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), lexicalEmbeddings))
	for _, name := range []string{"", "ab", "-abc", "abc_", "a..b", "has space", "192.168.0.1", "ünïcode", "a/b/c", strings.Repeat("x", 513)} {
		t.Run(fmt.Sprintf("%.12q", name), func(t *testing.T) {
			_, err := s.Upsert(ctx, name, docs(1, "d"))
			e := wantKind(t, err, chroma.KindInvalid, "3 to 512 characters", "starting and ending with a letter or digit")
			if e.Field != "collection" {
				t.Errorf("Field = %q, want collection", e.Field)
			}
			_, err = s.Query(ctx, chroma.QueryRequest{Collection: name, Text: "x"})
			wantKind(t, err, chroma.KindInvalid)
			_, err = s.Get(ctx, chroma.GetRequest{Collection: name})
			wantKind(t, err, chroma.KindInvalid)
			_, err = s.Delete(ctx, name, []string{"a"}, nil)
			wantKind(t, err, chroma.KindInvalid)
			wantKind(t, s.DropCollection(ctx, name), chroma.KindInvalid)
		})
	}
	if cols, err := s.Collections(ctx); err != nil || len(cols) != 0 {
		t.Errorf("Collections = %+v, %v; want none", cols, err)
	}
	// Names at the edges of the rule are accepted.
	for _, name := range []string{"abc", "a.b-c_d", "v1.2", strings.Repeat("y", 512)} {
		if _, err := s.Upsert(ctx, name, docs(1, "d")); err != nil {
			t.Errorf("Upsert into %.20q: %v", name, err)
		}
	}
}

func TestMalformedWhereIsRefusedWithAnExample(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), lexicalEmbeddings))
	if _, err := s.Upsert(ctx, "notes", docs(4, "w")); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		where map[string]any
		part  string
	}{
		"unknown operator":       {map[string]any{"n": map[string]any{"$regex": "x"}}, `unknown operator "$regex"`},
		"unknown logical":        {map[string]any{"$not": []any{map[string]any{"n": 1}}}, `"$not"`},
		"and not a list":         {map[string]any{"$and": map[string]any{"n": 1}}, "list of filters"},
		"and empty":              {map[string]any{"$and": []any{}}, "empty list"},
		"and of non-objects":     {map[string]any{"$or": []any{"n"}}, "where.$or[0]"},
		"gt of a string":         {map[string]any{"n": map[string]any{"$gt": "3"}}, "compares numbers"},
		"in not a list":          {map[string]any{"n": map[string]any{"$in": 3}}, "list of values"},
		"in empty":               {map[string]any{"n": map[string]any{"$in": []any{}}}, "at least one value"},
		"in mixed types":         {map[string]any{"n": map[string]any{"$in": []any{"a", 1}}}, "one type"},
		"list as value":          {map[string]any{"n": []any{1, 2}}, "$in"},
		"null value":             {map[string]any{"n": nil}, "null"},
		"object value":           {map[string]any{"n": map[string]any{"$eq": map[string]any{"a": 1}}}, "object"},
		"empty operator object":  {map[string]any{"n": map[string]any{}}, "empty object"},
		"reserved field":         {map[string]any{"#document": "x"}, "reserves"},
		"empty field":            {map[string]any{"": "x"}, "empty"},
		"and inside a field":     {map[string]any{"n": map[string]any{"$and": []any{}}}, "combines whole filters"},
		"nested error is placed": {map[string]any{"$and": []any{map[string]any{"n": 1}, map[string]any{"m": map[string]any{"$lt": true}}}}, "where.$and[1].m.$lt"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Get(ctx, chroma.GetRequest{Collection: "notes", Where: tc.where})
			wantKind(t, err, chroma.KindInvalid, "where filter", tc.part, "a valid filter looks like")
			_, err = s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "x", Where: tc.where})
			wantKind(t, err, chroma.KindInvalid, tc.part)
			_, err = s.Delete(ctx, "notes", nil, tc.where)
			wantKind(t, err, chroma.KindInvalid, tc.part)
		})
	}
	if c := count(t, s, "notes"); c != 4 {
		t.Errorf("count = %d after refused deletes, want 4", c)
	}

	// Well-formed filters reach the server and select the right documents.
	for name, tc := range map[string]struct {
		where map[string]any
		want  int
	}{
		"equality":            {map[string]any{"prefix": "w"}, 4},
		"two keys are and-ed": {map[string]any{"prefix": "w", "even": true}, 2},
		"ne":                  {map[string]any{"n": map[string]any{"$ne": 0}}, 3},
		"or":                  {map[string]any{"$or": []any{map[string]any{"n": 0}, map[string]any{"n": 3}}}, 2},
		"and of ranges":       {map[string]any{"$and": []any{map[string]any{"n": map[string]any{"$gt": 0.5}}, map[string]any{"n": map[string]any{"$lte": 2}}}}, 2},
		"nin ints":            {map[string]any{"n": map[string]any{"$nin": []any{1.0, 2}}}, 2},
		"in bools":            {map[string]any{"even": map[string]any{"$in": []any{false}}}, 2},
		"single-element and":  {map[string]any{"$and": []any{map[string]any{"n": 1}}}, 1},
	} {
		got, err := s.Get(ctx, chroma.GetRequest{Collection: "notes", Where: tc.where})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != tc.want {
			t.Errorf("%s: %d documents, want %d", name, len(got), tc.want)
		}
	}
}

func TestInvalidDocumentsAreRefusedBeforeAnythingIsWritten(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), lexicalEmbeddings))
	if _, err := s.Upsert(ctx, "notes", docs(1, "keep")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("i", 513)
	for name, tc := range map[string]struct {
		docs  []chroma.Document
		kind  chroma.Kind
		field string
	}{
		"no documents":       {nil, chroma.KindInvalid, "documents"},
		"empty id":           {[]chroma.Document{{ID: " ", Text: "a"}}, chroma.KindInvalid, "documents[0].id"},
		"long id":            {[]chroma.Document{{ID: long, Text: "a"}}, chroma.KindInvalid, "documents[0].id"},
		"duplicate id":       {[]chroma.Document{{ID: "a", Text: "a"}, {ID: "a", Text: "b"}}, chroma.KindInvalid, "documents[1].id"},
		"no text nor vector": {[]chroma.Document{{ID: "a", Text: "a"}, {ID: "b"}}, chroma.KindInvalid, "documents[1]"},
		"some vectors":       {[]chroma.Document{{ID: "a", Text: "a", Embedding: []float32{1}}, {ID: "b", Text: "b"}}, chroma.KindInvalid, "documents[1].embedding"},
		"nested metadata":    {[]chroma.Document{{ID: "a", Text: "a", Metadata: map[string]any{"o": map[string]any{}}}}, chroma.KindInvalid, "documents[0].metadata.o"},
		"list metadata":      {[]chroma.Document{{ID: "a", Text: "a", Metadata: map[string]any{"l": []any{1}}}}, chroma.KindInvalid, "documents[0].metadata.l"},
		"null metadata":      {[]chroma.Document{{ID: "a", Text: "a", Metadata: map[string]any{"z": nil}}}, chroma.KindInvalid, "documents[0].metadata.z"},
		"reserved key":       {[]chroma.Document{{ID: "a", Text: "a", Metadata: map[string]any{"$k": 1}}}, chroma.KindInvalid, "documents[0].metadata.$k"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Upsert(ctx, "notes", tc.docs)
			if e := wantKind(t, err, tc.kind); e.Field != tc.field {
				t.Errorf("Field = %q, want %q (%s)", e.Field, tc.field, e.Msg)
			}
		})
	}
	if c := count(t, s, "notes"); c != 1 {
		t.Errorf("count = %d, want 1: a refused call wrote something", c)
	}
	_, err := s.Query(ctx, chroma.QueryRequest{Collection: "notes", NResults: 101, Text: "x"})
	wantKind(t, err, chroma.KindInvalid, "n_results")
	_, err = s.Query(ctx, chroma.QueryRequest{Collection: "notes", Text: "x", Embedding: []float32{1}})
	wantKind(t, err, chroma.KindInvalid, "exactly one")
	_, err = s.Get(ctx, chroma.GetRequest{Collection: "notes", Limit: 1001})
	wantKind(t, err, chroma.KindInvalid, "limit")
}

func TestOversizedBatchIsRefused(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), lexicalEmbeddings))
	_, err := s.Upsert(ctx, "notes", docs(chroma.MaxUpsert+1, "big"))
	wantKind(t, err, chroma.KindInvalid, "10001 documents", "at most 10000")
	if c := count(t, s, "notes"); c != -1 {
		t.Errorf("collection exists with %d documents after a refused call", c)
	}
}

func TestTextWithoutAnyProviderIsRefusedAndNothingIsWritten(t *testing.T) {
	ctx := context.Background()
	s := open(t, remoteOptions(project(t), workspace.Embeddings{}))
	if _, err := s.Upsert(ctx, "notes", []chroma.Document{{ID: "v", Text: "with a vector", Embedding: []float32{1, 0}}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Upsert(ctx, "notes", []chroma.Document{{ID: "t", Text: "text only"}})
	wantKind(t, err, chroma.KindEmbedding, "this call has text but no embeddings, and no embedding provider is configured", "embeddings.provider")
	_, err = s.Upsert(ctx, "fresh", []chroma.Document{{ID: "t", Text: "text only"}})
	wantKind(t, err, chroma.KindEmbedding, "no embedding provider is configured")
	if c := count(t, s, "notes"); c != 1 {
		t.Errorf("count = %d, want 1", c)
	}
	if c := count(t, s, "fresh"); c != -1 {
		t.Errorf("collection fresh was created (%d documents) by a refused call", c)
	}
}

func TestLargeUpsertsAreSplitIntoServerSizedBatchesWithProgress(t *testing.T) {
	s := open(t, chroma.WithMaxBatch(remoteOptions(project(t), lexicalEmbeddings), 7))
	var reports []string
	ctx := progress.With(context.Background(), func(msg string, done, total float64) {
		reports = append(reports, fmt.Sprintf("%s [%g/%g]", msg, done, total))
	})
	res, err := s.Upsert(ctx, "notes", docs(20, "b"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Batches != 3 || res.Upserted != 20 {
		t.Errorf("Upsert = %+v, want 20 documents in 3 batches", res)
	}
	want := []string{"stored 7 of 20 documents in notes [7/20]", "stored 14 of 20 documents in notes [14/20]", "stored 20 of 20 documents in notes [20/20]"}
	if fmt.Sprint(reports) != fmt.Sprint(want) {
		t.Errorf("progress = %q, want %q", reports, want)
	}
	if c := count(t, s, "notes"); c != 20 {
		t.Errorf("count = %d, want 20", c)
	}
	// Delete pages through matches and deletes in batches of 7 too.
	n, err := s.Delete(ctx, "notes", nil, map[string]any{"prefix": "b"})
	if err != nil || n != 20 {
		t.Errorf("Delete = %d, %v; want 20", n, err)
	}
	if c := count(t, s, "notes"); c != 0 {
		t.Errorf("count after delete = %d, want 0", c)
	}
}

func TestOpenWithoutAnyChromaIsNotConfigured(t *testing.T) {
	layout := project(t)
	opts := chroma.Options{Workspace: layout.Root, Layout: layout, Settings: workspace.Defaults().DatabasePools.Vector,
		Logger: quiet, LookPath: noChroma}
	mode, reason := chroma.Resolve(opts)
	if mode != chroma.ModeNone || !strings.Contains(reason, "pip install chromadb") || !strings.Contains(reason, "CHROMA_URL") {
		t.Errorf("Resolve = %s, %q", mode, reason)
	}
	_, err := chroma.Open(context.Background(), opts)
	wantKind(t, err, chroma.KindNotConfigured, "vector search is not configured", "pip install chromadb", "CHROMA_URL")

	opts.Backends.ChromaCommand = "/nonexistent/chroma"
	opts.LookPath = nil
	mode, reason = chroma.Resolve(opts)
	if mode != chroma.ModeNone || !strings.Contains(reason, "/nonexistent/chroma") {
		t.Errorf("Resolve with a bad chroma_command = %s, %q", mode, reason)
	}

	opts.Backends.ChromaCommand = ""
	opts.LookPath = func(string) (string, error) { return chromaCommand, nil }
	if mode, reason = chroma.Resolve(opts); mode != chroma.ModeManaged || !strings.Contains(reason, layout.Databases) {
		t.Errorf("Resolve with chroma on PATH = %s, %q", mode, reason)
	}
	opts.Backends = workspace.Backends{ChromaURL: "http://user:secret@chroma.example:8000", ChromaToken: "tok-123"}
	mode, reason = chroma.Resolve(opts)
	if mode != chroma.ModeRemote || strings.Contains(reason, "secret") || !strings.Contains(reason, chroma.DatabaseName(layout.Root)) {
		t.Errorf("Resolve with CHROMA_URL = %s, %q", mode, reason)
	}
	opts.Backends.ChromaURL = "chroma.example:8000"
	_, err = chroma.Open(context.Background(), opts)
	wantKind(t, err, chroma.KindNotConfigured, "not an http(s) URL")
}

func TestCloseIsIdempotent(t *testing.T) {
	s, err := chroma.Open(context.Background(), remoteOptions(project(t), lexicalEmbeddings))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err = s.Get(context.Background(), chroma.GetRequest{Collection: "notes"})
	wantKind(t, err, chroma.KindUnavailable, "closed")
}
