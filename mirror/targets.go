package mirror

import (
	"context"
	"fmt"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/chroma"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/neo4j"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

// Names of the mirrors: their cursors in the outbox and their names in
// pool_status and task_reconcile.
const (
	Vector = workspace.BackendVector
	Graph  = workspace.BackendGraph
)

// Target is one mirror's backend. Every write is idempotent: delivering the
// same state twice leaves the mirror as delivering it once.
type Target interface {
	// Name is Vector or Graph.
	Name() string
	// Apply makes the mirror hold tasks as they are and not hold deleted.
	Apply(ctx context.Context, tasks []work.Task, deleted []string) error
	// Keys lists the ids of every task the mirror holds.
	Keys(ctx context.Context) ([]string, error)
	// Empty reports whether the mirror holds no task at all.
	Empty(ctx context.Context) (bool, error)
}

// Borrow lends a backend's store for one batch; release gives it back.
type Borrow[T any] func(ctx context.Context) (store T, release func(), err error)

// VectorTarget mirrors tasks into the collection Collection of Chroma.
type VectorTarget struct{ Borrow Borrow[*chroma.Store] }

// Name implements Target.
func (VectorTarget) Name() string { return Vector }

// memo is what a syncer knows of a mirror from its own writes, while it
// holds the mirror's lease without a break (nobody else writes the mirror
// meanwhile): the ids whose entry in the vector mirror has no role (or is
// absent), so that taking a role away needs no read of the mirror first.
// nil or empty: nothing known.
type memo map[string]bool

// memoTarget is a Target that reads the mirror back less when it is told
// what the syncer last wrote there, and records what it writes in the memo.
type memoTarget interface {
	applyMemo(ctx context.Context, tasks []work.Task, deleted []string, m memo) error
}

// Apply upserts one document per task and deletes the deleted ones. Chroma
// merges metadata on upsert, so a document whose task lost its role is
// deleted first: the contract says the key is then absent.
func (v VectorTarget) Apply(ctx context.Context, tasks []work.Task, deleted []string) error {
	return v.applyMemo(ctx, tasks, deleted, nil)
}

// applyMemo is Apply knowing, from m, which documents have no role: their
// tasks need no read of the mirror to tell whether a role must be taken
// away. On success m records the batch; on failure the caller clears it.
func (v VectorTarget) applyMemo(ctx context.Context, tasks []work.Task, deleted []string, m memo) error {
	s, release, err := v.Borrow(ctx)
	if err != nil {
		return err
	}
	defer release()
	var roleless []string
	docs := make([]chroma.Document, len(tasks))
	for i, t := range tasks {
		docs[i] = Document(t)
		// Only an update can take a role away: a task at version 1 was
		// just created, its document cannot have one; nor can one this
		// syncer last wrote without a role.
		if _, ok := docs[i].Metadata[MetaRole]; !ok && t.Version > 1 && !m[t.ID] {
			roleless = append(roleless, t.ID)
		}
	}
	drop := append([]string{}, deleted...)
	if len(roleless) > 0 {
		had, err := s.Get(ctx, chroma.GetRequest{Collection: Collection, IDs: roleless, Limit: len(roleless)})
		switch {
		case chroma.IsKind(err, chroma.KindNotFound):
		case err != nil:
			return err
		}
		for _, d := range had {
			if _, ok := d.Metadata[MetaRole]; ok {
				drop = append(drop, d.ID)
			}
		}
	}
	if len(drop) > 0 {
		if _, err := s.Delete(ctx, Collection, drop, nil); err != nil && !chroma.IsKind(err, chroma.KindNotFound) {
			return err
		}
	}
	if len(docs) > 0 {
		if _, err := s.Upsert(ctx, Collection, docs); err != nil {
			return err
		}
	}
	if m != nil {
		for _, id := range deleted {
			delete(m, id) // never written again: its id is not reused
		}
		for _, d := range docs {
			_, has := d.Metadata[MetaRole]
			m[d.ID] = !has
		}
	}
	return nil
}

// Keys implements Target.
func (v VectorTarget) Keys(ctx context.Context) ([]string, error) {
	s, release, err := v.Borrow(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []string
	for offset := 0; ; offset += chroma.MaxGetLimit {
		docs, err := s.Get(ctx, chroma.GetRequest{Collection: Collection, Limit: chroma.MaxGetLimit, Offset: offset})
		if chroma.IsKind(err, chroma.KindNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			out = append(out, d.ID)
		}
		if len(docs) < chroma.MaxGetLimit {
			return out, nil
		}
	}
}

// Empty implements Target.
func (v VectorTarget) Empty(ctx context.Context) (bool, error) {
	s, release, err := v.Borrow(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	docs, err := s.Get(ctx, chroma.GetRequest{Collection: Collection, Limit: 1})
	if chroma.IsKind(err, chroma.KindNotFound) {
		return true, nil
	}
	return len(docs) == 0, err
}

// Reembedder is a Target whose entries carry vectors of the configured
// embedding: when the provider changes, what it holds cannot be compared with
// new vectors, and the mirror (the server's own) is rebuilt from scratch.
type Reembedder interface {
	// Drift says what the mirror holds and what is configured, when the two
	// differ (why is "" when they agree or the mirror does not exist yet);
	// now names the configured embedding.
	Drift(ctx context.Context) (why, now string, err error)
	// Reset empties the mirror so that the next Apply recreates it under the
	// configured embedding. Only the holder of the mirror's lease calls it.
	Reset(ctx context.Context) error
	// Mixed reports whether an Apply failed because the mirror holds vectors
	// of another embedding.
	Mixed(err error) bool
}

// Drift implements Reembedder.
func (v VectorTarget) Drift(ctx context.Context) (why, now string, err error) {
	s, release, err := v.Borrow(ctx)
	if err != nil {
		return "", "", err
	}
	defer release()
	d, err := s.EmbeddingDrift(ctx, Collection)
	if err != nil || !d.Stale() {
		return "", d.Want, err
	}
	return fmt.Sprintf("the %s collection held %s", Collection, d), d.Want, nil
}

// Reset implements Reembedder: it drops the mirror's collection (never any
// other), which Apply creates again under the configured embedding.
func (v VectorTarget) Reset(ctx context.Context) error {
	s, release, err := v.Borrow(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.ResetCollection(ctx, Collection)
}

// Mixed implements Reembedder.
func (VectorTarget) Mixed(err error) bool { return chroma.IsMixedEmbedding(err) }

// GraphTarget mirrors tasks as (:Task) nodes with their DEPENDS_ON and
// SUBTASK_OF relationships.
type GraphTarget struct{ Borrow Borrow[*neo4j.Store] }

// Name implements Target.
func (GraphTarget) Name() string { return Graph }

// relTypes are the relationships the mirror owns: a task's outgoing ones of
// these types to other tasks are exactly its dependencies and its parent.
var relTypes = []string{RelDependsOn, RelSubtaskOf}

// GraphNode is a task's node as the graph mirror holds it.
func GraphNode(t work.Task) neo4j.NodeState {
	out := map[string][]string{RelDependsOn: t.DependsOn, RelSubtaskOf: {}}
	if t.ParentID != nil && *t.ParentID != "" {
		out[RelSubtaskOf] = []string{*t.ParentID}
	}
	return neo4j.NodeState{Key: t.ID, Props: NodeProps(t), Out: out}
}

// Apply deletes the deleted tasks' nodes, then merges the others with exactly
// their current relationships, each in one transaction.
func (g GraphTarget) Apply(ctx context.Context, tasks []work.Task, deleted []string) error {
	s, release, err := g.Borrow(ctx)
	if err != nil {
		return err
	}
	defer release()
	if _, err := s.DeleteNodes(ctx, TaskLabel, deleted); err != nil {
		return err
	}
	states := make([]neo4j.NodeState, len(tasks))
	for i, t := range tasks {
		states[i] = GraphNode(t)
	}
	return s.SyncNodes(ctx, TaskLabel, relTypes, states)
}

// Keys implements Target.
func (g GraphTarget) Keys(ctx context.Context) ([]string, error) {
	s, release, err := g.Borrow(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.NodeKeys(ctx, TaskLabel)
}

// Empty implements Target.
func (g GraphTarget) Empty(ctx context.Context) (bool, error) {
	keys, err := g.Keys(ctx)
	return len(keys) == 0, err
}

// GraphEdges lists the task relationships the graph mirror holds.
func GraphEdges(ctx context.Context, s *neo4j.Store) ([]neo4j.Edge, error) {
	return s.Edges(ctx, TaskLabel, relTypes)
}

// SubtaskEdge says that Child is a subtask of Parent in the graph mirror.
type SubtaskEdge struct{ Parent, Child string }

// SubtaskEdges lists the parent relationships (SUBTASK_OF) the graph mirror
// holds, whatever the status of their tasks.
func SubtaskEdges(ctx context.Context, s *neo4j.Store) ([]SubtaskEdge, error) {
	edges, err := s.Edges(ctx, TaskLabel, []string{RelSubtaskOf})
	if err != nil {
		return nil, err
	}
	out := make([]SubtaskEdge, 0, len(edges))
	for _, e := range edges {
		out = append(out, SubtaskEdge{Parent: e.To, Child: e.From})
	}
	return out, nil
}
