package tools

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// ---- shapes ----

type vectorDocArg struct {
	ID        string         `json:"id" jsonschema:"Document id, unique in the collection"`
	Text      string         `json:"text,omitempty" jsonschema:"The text to store and embed"`
	Metadata  map[string]any `json:"metadata,omitempty" jsonschema:"Flat object of string, number or boolean values, usable in where filters"`
	Embedding []float32      `json:"embedding,omitempty" jsonschema:"The vector, when you compute embeddings yourself (all documents of a collection must use the same size)"`
}

type vectorUpsertArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	Collection string         `json:"collection" jsonschema:"Collection name (3-512 characters: letters, digits, . _ -; created on first use)"`
	Documents  []vectorDocArg `json:"documents" jsonschema:"Documents to add or replace (by id)"`
}

type vectorQueryArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	Collection string         `json:"collection"`
	Text       string         `json:"text,omitempty" jsonschema:"Find documents similar in meaning to this text (needs an embedding provider)"`
	Embedding  []float32      `json:"embedding,omitempty" jsonschema:"Or: find documents nearest to this vector"`
	NResults   *int           `json:"n_results,omitempty" jsonschema:"How many matches, 1 to 100 (default 10)"`
	Where      map[string]any `json:"where,omitempty" jsonschema:"Metadata filter, e.g. {\"kind\": \"note\"} or {\"$and\": [{\"year\": {\"$gte\": 2024}}, {\"tag\": {\"$in\": [\"a\", \"b\"]}}]}"`
}

type vectorGetArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	Collection string         `json:"collection"`
	IDs        []string       `json:"ids,omitempty" jsonschema:"Documents to fetch by id"`
	Where      map[string]any `json:"where,omitempty" jsonschema:"Or: a metadata filter"`
	Limit      *int           `json:"limit,omitempty" jsonschema:"At most this many, 1 to 1000 (default 100)"`
	Offset     *int           `json:"offset,omitempty" jsonschema:"Skip this many (paging)"`
}

type vectorDeleteArgs struct {
	Workspace  string         `json:"workspace,omitempty"`
	Collection string         `json:"collection"`
	IDs        []string       `json:"ids,omitempty" jsonschema:"Documents to delete by id"`
	Where      map[string]any `json:"where,omitempty" jsonschema:"Or: delete every document matching this metadata filter"`
}

type vectorCollectionsArgs struct {
	Workspace string `json:"workspace,omitempty"`
}

type vectorDropArgs struct {
	Workspace  string `json:"workspace,omitempty"`
	Collection string `json:"collection" jsonschema:"The collection to delete with all its documents"`
}

// QueryResult is vector_query's answer.
type QueryResult struct {
	Matches []chroma.Match `json:"matches"`
}

// GetResult is vector_get's answer.
type GetResult struct {
	Documents []chroma.Document `json:"documents"`
}

// VectorDeleteResult is vector_delete's answer.
type VectorDeleteResult struct {
	Deleted int `json:"deleted"`
}

// CollectionsResult is vector_collections' answer.
type CollectionsResult struct {
	Collections []chroma.CollectionInfo `json:"collections"`
}

// DropResult is vector_drop_collection's answer.
type DropResult struct {
	Dropped string `json:"dropped"`
}

// ---- helpers ----

// withVectors resolves the workspace and borrows its vector store for fn.
func withVectors[T any](ctx context.Context, c *call, ws string, fn func(*chroma.Store) (T, error)) (T, error) {
	return withBackend(ctx, c, ws, c.deps.vectorStore, fn)
}

// withBackend resolves the workspace, borrows one of its backends with get, and
// runs fn on it, releasing the backend afterwards.
func withBackend[S, T any](ctx context.Context, c *call, ws string,
	get func(context.Context, workspace.Root) (S, func(), error), fn func(S) (T, error)) (T, error) {
	var zero T
	root, err := c.workspace(ctx, ws)
	if err != nil {
		return zero, err
	}
	store, release, err := get(ctx, root)
	if err != nil {
		return zero, err
	}
	defer release()
	return fn(store)
}

// offMachine reports whether a configured server URL points beyond loopback.
func offMachine(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func optInt(name string, v *int, lo, hi, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, badArg("argument %q must be between %d and %d, not %d", name, lo, hi, *v)
	}
	return *v, nil
}

// vectorOpenWorld reports whether the vector tools reach beyond this machine: a
// remote Chroma or an embedding provider that is not on loopback.
func vectorOpenWorld(d *Deps) bool {
	e := d.Config.Embeddings
	if e.Provider == "openai" && e.BaseURL == "" {
		return true // the default OpenAI endpoint
	}
	if e.Provider == "default" {
		return true // downloads its model on first use
	}
	return offMachine(d.Config.Backends.ChromaURL) || ((e.Provider == "openai" || e.Provider == "ollama") && offMachine(e.BaseURL))
}

// ---- tools ----

func vectorUpsert(d *Deps) server.ServerTool {
	tool := newTool("vector_upsert", "Store documents for semantic search",
		"Add documents to a collection of the project's vector store, or update them by id (text and vector are replaced; metadata keys are merged into the existing ones). Text is embedded with the configured provider unless you send embeddings. Large batches are split to the server's limit.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorUpsertArgs](), outputSchema[chroma.UpsertResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorUpsertArgs) (any, string, error) {
		if err := required("collection", a.Collection); err != nil {
			return nil, "", err
		}
		if len(a.Documents) == 0 {
			return nil, "", badArg("argument \"documents\" must hold at least one document: [{\"id\": \"...\", \"text\": \"...\"}]")
		}
		docs := make([]chroma.Document, len(a.Documents))
		for i, doc := range a.Documents {
			docs[i] = chroma.Document{ID: doc.ID, Text: doc.Text, Metadata: doc.Metadata, Embedding: doc.Embedding}
		}
		res, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) (chroma.UpsertResult, error) {
			return s.Upsert(ctx, a.Collection, docs)
		})
		if err != nil {
			return nil, "", err
		}
		return res, fmt.Sprintf("Upserted %d document(s) into %s (%d-dimensional, %s embeddings)", res.Upserted, a.Collection, res.Dimensions, res.Embedding), nil
	})}
}

func vectorQuery(d *Deps) server.ServerTool {
	tool := newTool("vector_query", "Semantic search",
		"Find the documents of a collection nearest in meaning to a text (or to a vector), optionally filtered by metadata (where).",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorQueryArgs](), outputSchema[QueryResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorQueryArgs) (any, string, error) {
		if err := required("collection", a.Collection); err != nil {
			return nil, "", err
		}
		if (a.Text == "") == (len(a.Embedding) == 0) {
			return nil, "", badArg("pass exactly one of \"text\" (embedded by the configured provider) or \"embedding\" (a vector)")
		}
		n, err := optInt("n_results", a.NResults, 1, 100, 10)
		if err != nil {
			return nil, "", err
		}
		matches, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) ([]chroma.Match, error) {
			return s.Query(ctx, chroma.QueryRequest{Collection: a.Collection, Text: a.Text, Embedding: a.Embedding, NResults: n, Where: a.Where})
		})
		if err != nil {
			return nil, "", err
		}
		if matches == nil {
			matches = []chroma.Match{}
		}
		text := fmt.Sprintf("%d match(es) in %s", len(matches), a.Collection)
		if len(matches) > 0 {
			text += fmt.Sprintf("; nearest: %s (distance %.4f)", matches[0].ID, matches[0].Distance)
		}
		return QueryResult{Matches: matches}, text, nil
	})}
}

func vectorGet(d *Deps) server.ServerTool {
	tool := newTool("vector_get", "Get documents",
		"Fetch documents of a collection by id or by metadata filter, with paging.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorGetArgs](), outputSchema[GetResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorGetArgs) (any, string, error) {
		if err := required("collection", a.Collection); err != nil {
			return nil, "", err
		}
		limit, err := optInt("limit", a.Limit, 1, 1000, 100)
		if err != nil {
			return nil, "", err
		}
		offset, err := optInt("offset", a.Offset, 0, 1<<30, 0)
		if err != nil {
			return nil, "", err
		}
		docs, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) ([]chroma.Document, error) {
			return s.Get(ctx, chroma.GetRequest{Collection: a.Collection, IDs: a.IDs, Where: a.Where, Limit: limit, Offset: offset})
		})
		if err != nil {
			return nil, "", err
		}
		if docs == nil {
			docs = []chroma.Document{}
		}
		return GetResult{Documents: docs}, fmt.Sprintf("%d document(s) from %s", len(docs), a.Collection), nil
	})}
}

func vectorDelete(d *Deps) server.ServerTool {
	tool := newTool("vector_delete", "Delete documents",
		"Delete documents of a collection by id or by metadata filter (at least one of them).",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorDeleteArgs](), outputSchema[VectorDeleteResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorDeleteArgs) (any, string, error) {
		if err := required("collection", a.Collection); err != nil {
			return nil, "", err
		}
		if len(a.IDs) == 0 && len(a.Where) == 0 {
			return nil, "", badArg("pass \"ids\" or \"where\" to say which documents to delete (to delete a whole collection use vector_drop_collection)")
		}
		n, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) (int, error) {
			return s.Delete(ctx, a.Collection, a.IDs, a.Where)
		})
		if err != nil {
			return nil, "", err
		}
		return VectorDeleteResult{Deleted: n}, fmt.Sprintf("Deleted %d document(s) from %s", n, a.Collection), nil
	})}
}

func vectorCollections(d *Deps) server.ServerTool {
	tool := newTool("vector_collections", "List collections",
		"List the project's vector collections with their document counts and embedding settings.",
		hints{readOnly: true, destructive: false, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorCollectionsArgs](), outputSchema[CollectionsResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorCollectionsArgs) (any, string, error) {
		cols, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) ([]chroma.CollectionInfo, error) {
			return s.Collections(ctx)
		})
		if err != nil {
			return nil, "", err
		}
		if cols == nil {
			cols = []chroma.CollectionInfo{}
		}
		names := make([]string, len(cols))
		for i, col := range cols {
			names[i] = fmt.Sprintf("%s (%d)", col.Name, col.Count)
		}
		return CollectionsResult{Collections: cols}, fmt.Sprintf("%d collection(s): %s", len(cols), strings.Join(names, ", ")), nil
	})}
}

func vectorDropCollection(d *Deps) server.ServerTool {
	tool := newTool("vector_drop_collection", "Delete a collection",
		"Delete a whole collection and every document in it.",
		hints{readOnly: false, destructive: true, idempotent: true, openWorld: vectorOpenWorld(d)},
		inputSchema[vectorDropArgs](), outputSchema[DropResult]())
	return server.ServerTool{Tool: tool, Handler: handle(d, tool.Name, func(ctx context.Context, c *call, a vectorDropArgs) (any, string, error) {
		if err := required("collection", a.Collection); err != nil {
			return nil, "", err
		}
		_, err := withVectors(ctx, c, a.Workspace, func(s *chroma.Store) (struct{}, error) {
			return struct{}{}, s.DropCollection(ctx, a.Collection)
		})
		if err != nil {
			return nil, "", err
		}
		return DropResult{Dropped: a.Collection}, "Dropped collection " + a.Collection, nil
	})}
}
