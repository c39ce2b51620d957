package neo4j

import (
	"context"
	"fmt"
	"sort"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Bulk operations for a mirror kept by this server (the task mirror): many
// nodes of one label in one transaction, each with exactly the outgoing
// relationships it should have, idempotently.

// NodeState is what one node of a mirror should be: its key, its properties
// (set on top of the stored ones) and, for each managed relationship type,
// the keys of the nodes (of the same label) it points to.
type NodeState struct {
	Key   string
	Props map[string]any
	Out   map[string][]string
}

// Edge is one relationship between two nodes of the same label, by key.
type Edge struct {
	From string `json:"from"`
	Type string `json:"type"`
	To   string `json:"to"`
}

// SyncNodes merges every node of states with label, sets its properties, and
// makes its outgoing relationships of the types in relTypes (to nodes of
// label) exactly the ones its state lists: missing ones are merged (a target
// node that does not exist yet is merged by key, its properties coming with
// its own state), others are deleted. Relationships of other types, and to
// nodes of other labels, are left alone. One transaction; safe to repeat.
func (s *Store) SyncNodes(ctx context.Context, label string, relTypes []string, states []NodeState) error {
	if len(states) == 0 {
		return nil
	}
	if err := checkIdent("label", "label", label); err != nil {
		return err
	}
	for i, t := range relTypes {
		if err := checkIdent(fmt.Sprintf("types[%d]", i), "relationship type", t); err != nil {
			return err
		}
	}
	rows := make([]any, len(states))
	for i, st := range states {
		if err := checkRef(fmt.Sprintf("states[%d].", i), NodeRef{Label: label, Key: st.Key}); err != nil {
			return err
		}
		p, err := checkProps(st.Props, true)
		if err != nil {
			return err
		}
		out := map[string]any{}
		for _, t := range relTypes {
			keys := make([]any, 0, len(st.Out[t]))
			for _, k := range st.Out[t] {
				if err := checkRef(fmt.Sprintf("states[%d].out.%s.", i, t), NodeRef{Label: label, Key: k}); err != nil {
					return err
				}
				keys = append(keys, k)
			}
			out[t] = keys
		}
		rows[i] = map[string]any{"key": st.Key, "props": p, "out": out}
	}
	if err := s.ensureConstraint(ctx, label); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("UNWIND $rows AS row MERGE " + s.pattern("n", label, "__rowkey") + " SET n += row.props WITH n, row")
	if len(relTypes) > 0 {
		quoted := make([]string, len(relTypes))
		for i, t := range relTypes {
			quoted[i] = quote(t)
		}
		target := "(m:" + quote(label) + ")"
		inProject := ""
		if s.project != "" {
			inProject = " AND m._project = $project"
		}
		b.WriteString(" CALL { WITH n, row OPTIONAL MATCH (n)-[r:" + strings.Join(quoted, "|") + "]->" + target +
			" WHERE NOT m.key IN coalesce(row.out[type(r)], [])" + inProject + " DELETE r }")
		for _, t := range relTypes {
			b.WriteString(" CALL { WITH n, row UNWIND row.out['" + t + "'] AS k MERGE " +
				s.pattern("m", label, "__k") + " MERGE (n)-[:" + quote(t) + "]->(m) }")
		}
	}
	// pattern names parameters; inside UNWIND they are the row's fields.
	q := strings.NewReplacer("$__rowkey", "row.key", "$__k", "k").Replace(b.String())
	params := s.params("rows", rows)
	_, err := transact(s, ctx, driver.AccessModeWrite, fmt.Sprintf("mirroring %d %s node(s)", len(states), label), 0,
		func(ctx context.Context, tx driver.ManagedTransaction) (int, error) {
			res, err := tx.Run(ctx, q, params)
			if err != nil {
				return 0, err
			}
			_, err = res.Consume(ctx)
			return 0, err
		})
	return err
}

// DeleteNodes deletes the nodes of label with these keys and all their
// relationships; keys that are not there are skipped. It returns how many
// nodes went.
func (s *Store) DeleteNodes(ctx context.Context, label string, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if err := checkIdent("label", "label", label); err != nil {
		return 0, err
	}
	ks := make([]any, len(keys))
	for i, k := range keys {
		if err := checkRef(fmt.Sprintf("keys[%d].", i), NodeRef{Label: label, Key: k}); err != nil {
			return 0, err
		}
		ks[i] = k
	}
	q := strings.Replace("UNWIND $keys AS k MATCH "+s.pattern("n", label, "__k")+" DETACH DELETE n", "$__k", "k", 1)
	return transact(s, ctx, driver.AccessModeWrite, fmt.Sprintf("deleting %d %s node(s)", len(keys), label), 0,
		func(ctx context.Context, tx driver.ManagedTransaction) (int, error) {
			res, err := tx.Run(ctx, q, s.params("keys", ks))
			if err != nil {
				return 0, err
			}
			sum, err := res.Consume(ctx)
			if err != nil {
				return 0, err
			}
			return sum.Counters().NodesDeleted(), nil
		})
}

// NodeKeys returns the keys of every node of label (in this project), sorted.
func (s *Store) NodeKeys(ctx context.Context, label string) ([]string, error) {
	if err := checkIdent("label", "label", label); err != nil {
		return nil, err
	}
	where := ""
	if s.project != "" {
		where = " WHERE n._project = $project"
	}
	q := "MATCH (n:" + quote(label) + ")" + where + " RETURN n.key AS key"
	return transact(s, ctx, driver.AccessModeRead, "listing "+label+" nodes", 0,
		func(ctx context.Context, tx driver.ManagedTransaction) ([]string, error) {
			res, err := tx.Run(ctx, q, s.params())
			if err != nil {
				return nil, err
			}
			out := []string{}
			for res.Next(ctx) {
				if k, ok := res.Record().Values[0].(string); ok {
					out = append(out, k)
				}
			}
			if err := res.Err(); err != nil {
				return nil, err
			}
			sort.Strings(out)
			return out, nil
		})
}

// Edges returns every relationship of the types in relTypes between two
// nodes of label (in this project), sorted. Duplicates are kept: a caller
// can see them.
func (s *Store) Edges(ctx context.Context, label string, relTypes []string) ([]Edge, error) {
	if err := checkIdent("label", "label", label); err != nil {
		return nil, err
	}
	quoted := make([]string, len(relTypes))
	for i, t := range relTypes {
		if err := checkIdent(fmt.Sprintf("types[%d]", i), "relationship type", t); err != nil {
			return nil, err
		}
		quoted[i] = quote(t)
	}
	where := ""
	if s.project != "" {
		where = " WHERE a._project = $project AND b._project = $project"
	}
	q := "MATCH (a:" + quote(label) + ")-[r:" + strings.Join(quoted, "|") + "]->(b:" + quote(label) + ")" + where +
		" RETURN a.key, type(r), b.key"
	return transact(s, ctx, driver.AccessModeRead, "listing "+label+" relationships", 0,
		func(ctx context.Context, tx driver.ManagedTransaction) ([]Edge, error) {
			res, err := tx.Run(ctx, q, s.params())
			if err != nil {
				return nil, err
			}
			out := []Edge{}
			for res.Next(ctx) {
				v := res.Record().Values
				a, _ := v[0].(string)
				t, _ := v[1].(string)
				b, _ := v[2].(string)
				out = append(out, Edge{From: a, Type: t, To: b})
			}
			if err := res.Err(); err != nil {
				return nil, err
			}
			sort.Slice(out, func(i, j int) bool {
				x, y := out[i], out[j]
				if x.From != y.From {
					return x.From < y.From
				}
				if x.Type != y.Type {
					return x.Type < y.Type
				}
				return x.To < y.To
			})
			return out, nil
		})
}
