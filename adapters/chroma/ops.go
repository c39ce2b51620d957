package chroma

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	v2 "github.com/amikos-tech/chroma-go/pkg/api/v2"
	"github.com/amikos-tech/chroma-go/pkg/embeddings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/progress"
)

// Metadata keys recorded on every collection this package creates.
const (
	metaEmbedding  = "embedding"
	metaDimensions = "dimensions"
	metaSpace      = "hnsw:space"
)

// Upsert adds or replaces documents (by id) in collection, creating the
// collection on first use. Everything is validated first; vectors are the
// caller's (every document has one) or computed with the configured provider;
// then the documents are sent in batches of the server's max_batch_size,
// reporting progress per batch. Metadata of an existing document is merged
// with the new one, as Chroma does.
func (s *Store) Upsert(ctx context.Context, collection string, docs []Document) (UpsertResult, error) {
	if err := validateCollection(collection); err != nil {
		return UpsertResult{}, err
	}
	b, err := validateDocs(docs)
	if err != nil {
		return UpsertResult{}, err
	}
	label, dims := labelCaller, 0
	if b.vectors != nil {
		dims = len(b.vectors[0])
	} else {
		switch {
		case s.provider == nil:
			return UpsertResult{}, &Error{Kind: KindEmbedding, Field: "documents",
				Msg: "this call has text but no embeddings, and " + msgNoProvider + " with every document"}
		case s.provider.err != nil:
			return UpsertResult{}, s.provider.err
		}
		label, dims = s.provider.label, s.provider.dims
	}

	// The collection as it is now (nil: it does not exist yet), checked
	// before any embedding is computed.
	col, err := s.lookup(ctx, collection)
	if err != nil {
		return UpsertResult{}, err
	}
	if col != nil {
		if err := checkEmbedding(collection, col, label, dims, false); err != nil {
			return UpsertResult{}, err
		}
	}

	vectors := b.vectors
	if vectors == nil {
		if vectors, err = s.embedTexts(ctx, b.texts); err != nil {
			return UpsertResult{}, err
		}
		dims = len(vectors[0])
		for i, v := range vectors {
			if len(v) != dims {
				return UpsertResult{}, &Error{Kind: KindEmbedding, Msg: fmt.Sprintf(
					"embedding provider %s returned vectors of %d and %d dimensions (documents[0] and documents[%d]); check the provider",
					label, dims, len(v), i)}
			}
		}
		if col != nil {
			if err := checkEmbedding(collection, col, label, dims, false); err != nil {
				return UpsertResult{}, err
			}
		}
	}

	if col == nil {
		err = s.with(ctx, func(c *client) error {
			var err error
			col, err = s.createCollection(ctx, c, collection, label, dims)
			return err
		})
		if err != nil {
			return UpsertResult{}, err
		}
		// Someone may have created it first, with other settings.
		if err := checkEmbedding(collection, col, label, dims, false); err != nil {
			return UpsertResult{}, err
		}
	}

	size := s.knownBatchSize()
	if size == 0 {
		if err := s.with(ctx, func(c *client) error {
			var err error
			size, err = s.batchSize(ctx, c)
			return err
		}); err != nil {
			return UpsertResult{}, err
		}
	}
	res := UpsertResult{Embedding: label, Dimensions: dims}
	total := len(b.ids)
	for start := 0; start < total; start += size {
		end := min(start+size, total)
		opts := []v2.CollectionAddOption{
			v2.WithIDs(b.ids[start:end]...),
			v2.WithTexts(b.texts[start:end]...),
			v2.WithEmbeddings(toEmbeddings(vectors[start:end])...),
		}
		if b.metadatas != nil {
			opts = append(opts, v2.WithMetadatas(b.metadatas[start:end]...))
		}
		what := fmt.Sprintf("storing documents %d to %d of %d in collection %s", start+1, end, total, collection)
		err := s.with(ctx, func(c *client) error {
			return s.onCollection(ctx, c, collection, func(col *coll) error {
				// Opened again when it was re-created elsewhere: check it again.
				if err := checkEmbedding(collection, col, label, dims, false); err != nil {
					return err
				}
				return s.request(ctx, what, func(ctx context.Context) error { return col.h.Upsert(ctx, opts...) })
			})
		})
		if err != nil {
			return res, partial(err, fmt.Sprintf("%d of %d documents were stored before this failure (upsert replaces by id: retry the whole call)", res.Upserted, total), res.Upserted)
		}
		res.Upserted, res.Batches = end, res.Batches+1
		progress.Report(ctx, fmt.Sprintf("stored %d of %d documents in %s", end, total, collection), float64(end), float64(total))
	}
	return res, nil
}

// partial adds to an error what was done before it (note), when something was.
func partial(err error, note string, done int) error {
	e, ok := err.(*Error)
	if !ok || done == 0 {
		return err
	}
	cp := *e
	cp.Msg = e.Msg + "; " + note
	return &cp
}

// Query returns the documents of a collection nearest to q.Text (embedded with
// the collection's provider, which must be the configured one) or to
// q.Embedding (for collections of caller-supplied vectors), nearest first.
func (s *Store) Query(ctx context.Context, q QueryRequest) ([]Match, error) {
	if err := validateCollection(q.Collection); err != nil {
		return nil, err
	}
	n := q.NResults
	if n == 0 {
		n = 10
	}
	if n < 1 || n > MaxNResults {
		return nil, invalid("n_results", "n_results is %d; it must be between 1 and %d", q.NResults, MaxNResults)
	}
	hasText, hasVec := strings.TrimSpace(q.Text) != "", len(q.Embedding) > 0
	if hasText == hasVec {
		return nil, invalid("text", "pass exactly one of \"text\" (embedded with the configured provider) or \"embedding\" (a vector)")
	}
	for i, x := range q.Embedding {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, invalid("embedding", "embedding[%d] is not a finite number", i)
		}
	}
	where, err := buildWhere(q.Where)
	if err != nil {
		return nil, err
	}
	col, err := s.lookup(ctx, q.Collection)
	if err != nil {
		return nil, err
	}
	if col == nil {
		return nil, collectionNotFound(q.Collection)
	}
	vec := q.Embedding
	if hasVec {
		if err := checkEmbedding(q.Collection, col, labelCaller, len(vec), true); err != nil {
			return nil, err
		}
	} else {
		switch {
		case s.provider == nil:
			return nil, &Error{Kind: KindEmbedding, Field: "text", Msg: fmt.Sprintf(
				"this call has text but no embedding, and %s (collection %q holds %s vectors)", msgNoProvider, q.Collection, col.embedding)}
		case s.provider.err != nil:
			return nil, s.provider.err
		}
		if err := checkEmbedding(q.Collection, col, s.provider.label, s.provider.dims, true); err != nil {
			return nil, err
		}
		vs, err := s.embedTexts(ctx, []string{q.Text})
		if err != nil {
			return nil, err
		}
		vec = vs[0]
		if err := checkEmbedding(q.Collection, col, s.provider.label, len(vec), true); err != nil {
			return nil, err
		}
	}
	opts := []v2.CollectionQueryOption{
		v2.WithQueryEmbeddings(embeddings.NewEmbeddingFromFloat32(vec)),
		v2.WithNResults(n),
		v2.WithInclude(v2.IncludeDocuments, v2.IncludeMetadatas, v2.IncludeDistances),
	}
	if where != nil {
		opts = append(opts, v2.WithWhere(where))
	}
	label := labelCaller
	if !hasVec {
		label = s.provider.label
	}
	var res v2.QueryResult
	err = s.with(ctx, func(c *client) error {
		return s.onCollection(ctx, c, q.Collection, func(col *coll) error {
			// Opened again when it was re-created elsewhere: check it again,
			// or vectors of two models would be compared.
			if err := checkEmbedding(q.Collection, col, label, len(vec), true); err != nil {
				return err
			}
			return s.request(ctx, "querying collection "+q.Collection, func(ctx context.Context) error {
				var err error
				res, err = col.h.Query(ctx, opts...)
				return err
			})
		})
	})
	if err != nil {
		return nil, err
	}
	groups := res.GetIDGroups()
	if len(groups) == 0 {
		return []Match{}, nil
	}
	docs, metas, dists := res.GetDocumentsGroups(), res.GetMetadatasGroups(), res.GetDistancesGroups()
	out := make([]Match, len(groups[0]))
	for i, id := range groups[0] {
		m := Match{ID: string(id), Metadata: map[string]any{}}
		if len(docs) > 0 && i < len(docs[0]) && docs[0][i] != nil {
			m.Text = docs[0][i].ContentString()
		}
		if len(metas) > 0 && i < len(metas[0]) {
			if md := metaMap(metas[0][i]); md != nil {
				m.Metadata = md
			}
		}
		if len(dists) > 0 && i < len(dists[0]) {
			m.Distance = float64(dists[0][i])
		}
		out[i] = m
	}
	return out, nil
}

// Get returns documents of a collection by id and/or metadata filter (all of
// them, paged, when neither is given).
func (s *Store) Get(ctx context.Context, g GetRequest) ([]Document, error) {
	if err := validateCollection(g.Collection); err != nil {
		return nil, err
	}
	limit := g.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > MaxGetLimit {
		return nil, invalid("limit", "limit is %d; it must be between 1 and %d", g.Limit, MaxGetLimit)
	}
	if g.Offset < 0 {
		return nil, invalid("offset", "offset is %d; it must not be negative", g.Offset)
	}
	ids, err := validateIDs("ids", g.IDs)
	if err != nil {
		return nil, err
	}
	where, err := buildWhere(g.Where)
	if err != nil {
		return nil, err
	}
	opts := []v2.CollectionGetOption{
		v2.WithInclude(v2.IncludeDocuments, v2.IncludeMetadatas),
		v2.WithLimit(limit),
		v2.WithOffset(g.Offset),
	}
	if len(ids) > 0 {
		opts = append(opts, v2.WithIDs(ids...))
	}
	if where != nil {
		opts = append(opts, v2.WithWhere(where))
	}
	var res v2.GetResult
	err = s.with(ctx, func(c *client) error {
		return s.onCollection(ctx, c, g.Collection, func(col *coll) error {
			return s.request(ctx, "reading collection "+g.Collection, func(ctx context.Context) error {
				var err error
				res, err = col.h.Get(ctx, opts...)
				return err
			})
		})
	})
	if err != nil {
		return nil, err
	}
	gotIDs, docs, metas := res.GetIDs(), res.GetDocuments(), res.GetMetadatas()
	out := make([]Document, len(gotIDs))
	for i, id := range gotIDs {
		d := Document{ID: string(id)}
		if i < len(docs) && docs[i] != nil {
			d.Text = docs[i].ContentString()
		}
		if i < len(metas) {
			d.Metadata = metaMap(metas[i])
		}
		out[i] = d
	}
	return out, nil
}

// Delete removes the documents of a collection that match ids and/or where
// (at least one of them) and returns how many there were: the matches are
// listed first and exactly those ids are deleted.
func (s *Store) Delete(ctx context.Context, collection string, ids []string, where map[string]any) (int, error) {
	if err := validateCollection(collection); err != nil {
		return 0, err
	}
	if len(ids) == 0 && len(where) == 0 {
		return 0, invalid("ids", "pass \"ids\" or \"where\" to say which documents to delete "+
			"(to delete a whole collection use vector_drop_collection)")
	}
	dids, err := validateIDs("ids", ids)
	if err != nil {
		return 0, err
	}
	w, err := buildWhere(where)
	if err != nil {
		return 0, err
	}
	var matched []v2.DocumentID
	err = s.with(ctx, func(c *client) error {
		size, err := s.batchSize(ctx, c)
		if err != nil {
			return err
		}
		return s.onCollection(ctx, c, collection, func(col *coll) error {
			matched = matched[:0]
			for offset := 0; ; offset += size {
				opts := []v2.CollectionGetOption{v2.WithInclude(v2.IncludeURIs), v2.WithLimit(size), v2.WithOffset(offset)}
				if len(dids) > 0 {
					opts = append(opts, v2.WithIDs(dids...))
				}
				if w != nil {
					opts = append(opts, v2.WithWhere(w))
				}
				var res v2.GetResult
				err := s.request(ctx, "finding the documents to delete in "+collection, func(ctx context.Context) error {
					var err error
					res, err = col.h.Get(ctx, opts...)
					return err
				})
				if err != nil {
					return err
				}
				matched = append(matched, res.GetIDs()...)
				if len(res.GetIDs()) < size {
					break
				}
			}
			for start := 0; start < len(matched); start += size {
				chunk := matched[start:min(start+size, len(matched))]
				err := s.request(ctx, "deleting documents from "+collection, func(ctx context.Context) error {
					return col.h.Delete(ctx, v2.WithIDs(chunk...))
				})
				if err != nil {
					return partial(err, fmt.Sprintf("%d of the %d matching documents were deleted before this failure; retry the call", start, len(matched)), start)
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return len(matched), nil
}

// Collections lists the project's collections with their document counts and
// the embedding settings recorded at creation.
func (s *Store) Collections(ctx context.Context) ([]CollectionInfo, error) {
	var out []CollectionInfo
	err := s.with(ctx, func(c *client) error {
		out = out[:0]
		// Listed with a plain request: chroma-go's ListCollections rebuilds
		// each collection's embedding function from its stored configuration,
		// which for a "default" one downloads a model.
		base := "tenants/" + url.PathEscape(s.tenant) + "/databases/" + url.PathEscape(s.database) + "/collections"
		const page = 100
		for offset := 0; ; offset += page {
			var body []byte
			err := s.request(ctx, "listing collections", func(ctx context.Context) error {
				var err error
				body, err = c.api.ExecuteRequest(ctx, http.MethodGet, fmt.Sprintf("%s?limit=%d&offset=%d", base, page, offset), nil)
				return err
			})
			if err != nil {
				return err
			}
			var raws []rawCollection
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&raws); err != nil {
				return s.fail(ctx, "listing collections", fmt.Errorf("decode the collection list: %w", err))
			}
			for _, rc := range raws {
				info := rc.info()
				err := s.request(ctx, "counting the documents of "+rc.Name, func(ctx context.Context) error {
					body, err := c.api.ExecuteRequest(ctx, http.MethodGet, base+"/"+url.PathEscape(rc.ID)+"/count", nil)
					if err != nil {
						return err
					}
					info.Count, err = strconv.Atoi(strings.TrimSpace(string(body)))
					return err
				})
				if err != nil {
					return err
				}
				out = append(out, info)
			}
			if len(raws) < page {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DropCollection deletes a collection and every document in it.
func (s *Store) DropCollection(ctx context.Context, name string) error {
	if err := validateCollection(name); err != nil {
		return err
	}
	return s.with(ctx, func(c *client) error {
		err := s.request(ctx, "dropping collection "+name, func(ctx context.Context) error {
			return c.api.DeleteCollection(ctx, name)
		})
		c.forget(name)
		if IsKind(err, KindNotFound) {
			return collectionNotFound(name)
		}
		return err
	})
}

// ---- collections ----

// lookup returns the collection as it is now, or nil when it does not exist.
// A collection opened before is answered from the client's cache without a
// request (a stale entry is caught by onCollection when it is used).
func (s *Store) lookup(ctx context.Context, name string) (*coll, error) {
	if col := s.peek(name); col != nil {
		return col, nil
	}
	var col *coll
	err := s.with(ctx, func(c *client) error {
		var err error
		col, _, err = s.collection(ctx, c, name)
		if IsKind(err, KindNotFound) {
			col = nil
			return nil
		}
		return err
	})
	return col, err
}

// peek returns the collection from the current client's cache, if it is there.
func (s *Store) peek(name string) *coll {
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.colls[name]
}

// collection opens a collection through c, from c's cache when it was opened
// before (cached says so). A missing collection is a KindNotFound *Error.
func (s *Store) collection(ctx context.Context, c *client, name string) (col *coll, cached bool, err error) {
	c.mu.Lock()
	col = c.colls[name]
	c.mu.Unlock()
	if col != nil {
		return col, true, nil
	}
	var h v2.Collection
	err = s.request(ctx, "opening collection "+name, func(ctx context.Context) error {
		var err error
		h, err = c.api.GetCollection(ctx, name,
			v2.WithEmbeddingFunctionGet(refuseEF{}), v2.WithContentEmbeddingFunctionGet(refuseEF{}))
		if err != nil {
			s.forgetDatabase(err)
		}
		return err
	})
	if IsKind(err, KindNotFound) {
		return nil, false, collectionNotFound(name)
	}
	if err != nil {
		return nil, false, err
	}
	col = describe(h)
	c.remember(name, col)
	return col, false, nil
}

// onCollection runs fn on a collection; when the handle came from the cache
// and the server no longer knows it (dropped, maybe re-created elsewhere), it
// is opened again once.
func (s *Store) onCollection(ctx context.Context, c *client, name string, fn func(col *coll) error) error {
	col, cached, err := s.collection(ctx, c, name)
	if err != nil {
		return err
	}
	err = fn(col)
	if cached && IsKind(err, KindNotFound) {
		c.forget(name)
		if col, _, err = s.collection(ctx, c, name); err != nil {
			return err
		}
		err = fn(col)
	}
	if IsKind(err, KindNotFound) {
		c.forget(name)
		return collectionNotFound(name)
	}
	return err
}

// createCollection creates (or, when it appeared meanwhile, opens) a
// collection, recording where its vectors come from, their size and the
// cosine space. chroma-go must not store an embedding function
// configuration: other clients would try to rebuild ours.
func (s *Store) createCollection(ctx context.Context, c *client, name, label string, dims int) (*coll, error) {
	md := v2.NewMetadata(
		v2.NewStringAttribute(metaEmbedding, label),
		v2.NewIntAttribute(metaDimensions, int64(dims)),
	)
	var h v2.Collection
	err := s.request(ctx, "creating collection "+name, func(ctx context.Context) error {
		var err error
		h, err = c.api.CreateCollection(ctx, name,
			// WithCollectionMetadataCreate replaces the whole metadata map, so
			// the space goes after it.
			v2.WithCollectionMetadataCreate(md),
			v2.WithHNSWSpaceCreate(embeddings.COSINE),
			v2.WithEmbeddingFunctionCreate(refuseEF{}),
			v2.WithDisableEFConfigStorage(),
			v2.WithIfNotExistsCreate(),
		)
		return err
	})
	if err != nil {
		return nil, err
	}
	col := describe(h)
	c.remember(name, col)
	s.log.Info("chroma: created collection", "collection", name, "embedding", col.embedding, "dimensions", col.dims)
	return col, nil
}

func (c *client) remember(name string, col *coll) {
	c.mu.Lock()
	c.colls[name] = col
	c.mu.Unlock()
}

func (c *client) forget(name string) {
	c.mu.Lock()
	delete(c.colls, name)
	c.mu.Unlock()
}

// describe reads the embedding settings recorded in a collection's metadata.
func describe(h v2.Collection) *coll {
	col := &coll{h: h, embedding: labelUnknown, space: "l2"}
	if md := h.Metadata(); md != nil {
		if v, ok := md.GetString(metaEmbedding); ok && v != "" {
			col.embedding = v
		}
		if v, ok := md.GetInt(metaDimensions); ok {
			col.dims = int(v)
		} else if f, ok := md.GetFloat(metaDimensions); ok {
			col.dims = int(f)
		}
		if v, ok := md.GetString(metaSpace); ok && v != "" {
			col.space = v
		}
	}
	if col.dims == 0 {
		col.dims = h.Dimension()
	}
	return col
}

// rawCollection is one entry of GET .../collections.
type rawCollection struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Metadata      map[string]any `json:"metadata"`
	Dimension     *int           `json:"dimension"`
	Configuration map[string]any `json:"configuration_json"`
}

func (rc rawCollection) info() CollectionInfo {
	in := CollectionInfo{Name: rc.Name, Embedding: labelUnknown, Space: "l2"}
	if v, ok := rc.Metadata[metaEmbedding].(string); ok && v != "" {
		in.Embedding = v
	}
	if n, ok := number(rc.Metadata[metaDimensions]); ok {
		in.Dimensions = int(n.i)
	}
	if in.Dimensions == 0 && rc.Dimension != nil {
		in.Dimensions = *rc.Dimension
	}
	if v, ok := rc.Metadata[metaSpace].(string); ok && v != "" {
		in.Space = v
	} else if hnsw, ok := rc.Configuration["hnsw"].(map[string]any); ok {
		if v, ok := hnsw["space"].(string); ok && v != "" {
			in.Space = v
		}
	}
	return in
}

// checkEmbedding refuses to mix vector spaces: the vectors of this call
// (label, dims) must come from where the collection's came from. query says
// whether the vectors are a query's.
func checkEmbedding(name string, col *coll, label string, dims int, query bool) error {
	if col.embedding != labelUnknown && col.embedding != label {
		var msg string
		switch {
		case col.embedding == labelCaller && query:
			msg = fmt.Sprintf("collection %q holds caller-supplied vectors, so it cannot be searched with text: "+
				"query it with an \"embedding\" of %d dimensions", name, col.dims)
		case col.embedding == labelCaller:
			msg = fmt.Sprintf("collection %q holds caller-supplied vectors (%d dimensions), but this call has no embeddings, "+
				"so its vectors would come from %s instead: send an \"embedding\" with every document, or use another collection",
				name, col.dims, label)
		case label == labelCaller && query:
			msg = fmt.Sprintf("collection %q holds vectors from %s: query it with \"text\" (embedded with %s), "+
				"not with an embedding of your own", name, col.embedding, col.embedding)
		case label == labelCaller:
			msg = fmt.Sprintf("collection %q holds vectors from %s, but this call sends its own embeddings: leave them out "+
				"(the text is then embedded with %s), or put your own vectors in another collection", name, col.embedding, col.embedding)
		case col.embedding == labelHashV0:
			msg = oldHashMessage(name, label)
		default:
			msg = MixedEmbeddingMessage(name, col.embedding, label)
		}
		return &Error{Kind: KindEmbedding, Field: "collection", Msg: msg}
	}
	if dims > 0 && col.dims > 0 && dims != col.dims {
		what := "this call's vectors have"
		fix := "send vectors of that size, or use another collection"
		if label != labelCaller {
			what = fmt.Sprintf("%s now gives", label)
			fix = "set embeddings.dimensions back, or use a new collection"
		}
		field := "embedding"
		if !query {
			field = "documents"
		}
		return &Error{Kind: KindDimension, Field: field, Msg: fmt.Sprintf(
			"collection %q holds %d-dimensional vectors but %s %d dimensions: %s", name, col.dims, what, dims, fix)}
	}
	return nil
}

// MixedEmbeddingMessage is the refusal of vectors from provider want in a
// collection that holds vectors from held, with the steps that move the
// collection to want (docs/users/troubleshooting.md quotes it).
func MixedEmbeddingMessage(name, held, want string) string {
	return fmt.Sprintf("collection %q holds vectors from %s, but the configured embedding provider is %s, and vectors of "+
		"different models cannot be compared: to move the collection to %s, read its documents with vector_get "+
		"(1000 per call, paged with offset), drop it with vector_drop_collection, then vector_upsert them again "+
		"without embeddings; or set embeddings.provider/model back to %s", name, held, want, want, held)
}

// Drift compares the embedding a collection records with the configured
// provider's.
type Drift struct {
	Held     string // the collection's embedding label ("" when it does not exist)
	HeldDims int
	Want     string // the configured provider's label ("" when none is usable)
	WantDims int    // 0 until the provider has answered once (openai, ollama)
}

// Stale reports whether the collection's vectors cannot be compared with the
// configured provider's: another label, or another size when both are known.
func (d Drift) Stale() bool {
	if d.Held == "" || d.Want == "" {
		return false
	}
	if d.Held != labelUnknown && d.Held != d.Want {
		return true
	}
	return d.HeldDims > 0 && d.WantDims > 0 && d.HeldDims != d.WantDims
}

// String says what the collection holds and what is configured.
func (d Drift) String() string {
	held, want := d.Held, d.Want
	if d.HeldDims > 0 {
		held = fmt.Sprintf("%s (%d dimensions)", held, d.HeldDims)
	}
	if d.WantDims > 0 {
		want = fmt.Sprintf("%s (%d dimensions)", want, d.WantDims)
	}
	return fmt.Sprintf("vectors from %s, but the configured embedding provider is %s", held, want)
}

// EmbeddingDrift reads a collection's recorded embedding afresh (another
// process may have re-created it) and compares it with the configured
// provider's. A missing collection, or no usable provider, is no drift.
func (s *Store) EmbeddingDrift(ctx context.Context, name string) (Drift, error) {
	if err := validateCollection(name); err != nil {
		return Drift{}, err
	}
	p := s.provider
	if p == nil || p.err != nil {
		return Drift{}, nil
	}
	var d Drift
	err := s.with(ctx, func(c *client) error {
		c.forget(name)
		col, _, err := s.collection(ctx, c, name)
		if IsKind(err, KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		d = Drift{Held: col.embedding, HeldDims: col.dims, Want: p.label, WantDims: p.dims}
		return nil
	})
	return d, err
}

// ResetCollection drops a collection (a missing one is fine), so that the
// next Upsert creates it under the configured provider. It is for the
// server's own collection (the task mirror, which it can rebuild) only: a
// user's collection is never dropped for a provider change.
func (s *Store) ResetCollection(ctx context.Context, name string) error {
	err := s.DropCollection(ctx, name)
	if IsKind(err, KindNotFound) {
		return nil
	}
	return err
}

// IsMixedEmbedding reports whether err refuses vectors because the collection
// holds vectors of another provider or size than the call's.
func IsMixedEmbedding(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	// Only checkEmbedding gives these kinds with these fields.
	switch e.Kind {
	case KindEmbedding:
		return e.Field == "collection"
	case KindDimension:
		return e.Field == "documents" || e.Field == "embedding"
	}
	return false
}

// metaMap turns chroma-go metadata into a plain map (nil when there is none).
func metaMap(md v2.DocumentMetadata) map[string]any {
	if md == nil {
		return nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&raw) != nil || len(raw) == 0 {
		return nil
	}
	for k, v := range raw {
		// chroma-go decodes query results without UseNumber, so an integer
		// may arrive as 4.0: whole numbers are given back as integers.
		if n, ok := number(v); ok {
			if n.isInt {
				raw[k] = n.i
			} else {
				raw[k] = n.f
			}
		}
	}
	return raw
}
