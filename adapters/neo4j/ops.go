package neo4j

import (
	"context"
	"fmt"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/units"
)

// Every statement here is built from validated identifiers (between
// backquotes) and fixed text; every value travels as a parameter. On a shared
// server each node pattern also matches _project, so nothing outside this
// project is read or written.

// pattern is a node pattern for variable v matching label and the key in
// parameter keyParam (and, on a shared server, $project).
func (s *Store) pattern(v, label, keyParam string) string {
	if s.project != "" {
		return fmt.Sprintf("(%s:%s {_project: $project, key: $%s})", v, quote(label), keyParam)
	}
	return fmt.Sprintf("(%s:%s {key: $%s})", v, quote(label), keyParam)
}

// params starts a parameter map with $project on a shared server.
func (s *Store) params(kv ...any) map[string]any {
	p := map[string]any{}
	if s.project != "" {
		p["project"] = s.project
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

func (s *Store) nodeNotFound(field string, ref NodeRef) *Error {
	where := "this project's graph"
	if s.mode == ModeManaged {
		where = "the project's graph"
	}
	return &Error{Kind: KindNotFound, Field: field, Msg: fmt.Sprintf(
		"node (:%s {key: %q}) does not exist in %s; create it with graph_merge_node first, or check the label and key "+
			"(graph_schema lists the labels)", ref.Label, ref.Key, where)}
}

// constraintName is the name of the uniqueness constraint on label's keys.
func (s *Store) constraintName(label string) string {
	if s.project != "" {
		return "task_orchestrator_" + label + "_project_key"
	}
	return "task_orchestrator_" + label + "_key"
}

// ensureConstraint creates, on the first use of a label, the uniqueness
// constraint that makes MERGE safe under concurrent calls: on (_project, key)
// on a shared server, on key on the project's own server. IF NOT EXISTS makes
// it a no-op when it exists (also under another name).
func (s *Store) ensureConstraint(ctx context.Context, label string) error {
	s.mu.Lock()
	done := s.constrained[label]
	s.mu.Unlock()
	if done {
		return nil
	}
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	s.mu.Lock()
	done = s.constrained[label]
	s.mu.Unlock()
	if done {
		return nil
	}
	props := "n.key"
	if s.project != "" {
		props = "(n._project, n.key)"
	}
	q := fmt.Sprintf("CREATE CONSTRAINT %s IF NOT EXISTS FOR (n:%s) REQUIRE %s IS UNIQUE",
		quote(s.constraintName(label)), quote(label), props)
	_, err := transact(s, ctx, driver.AccessModeWrite, "creating the uniqueness constraint of label "+label, 0,
		func(ctx context.Context, tx driver.ManagedTransaction) (int, error) {
			res, err := tx.Run(ctx, q, nil)
			if err != nil {
				return 0, err
			}
			sum, err := res.Consume(ctx)
			if err != nil {
				return 0, err
			}
			return sum.Counters().ConstraintsAdded(), nil
		})
	if err != nil {
		ne := serverError(err)
		switch {
		case ne == nil:
			return err
		case ne.Code == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
			ne.Code == "Neo.ClientError.Schema.ConstraintAlreadyExists":
			// Created by another process at the same moment.
		case strings.HasPrefix(ne.Code, "Neo.ClientError.Security."):
			// A user without schema privileges: MERGE still works, only
			// without the guarantee against duplicates under concurrency.
			s.log.Warn("neo4j: cannot create a uniqueness constraint; merges of this label are not protected against "+
				"concurrent duplicates", "label", label, "code", ne.Code)
		case ne.Code == "Neo.DatabaseError.Schema.ConstraintCreationFailed":
			return &Error{Kind: KindInvalid, Field: "label", Err: err, Msg: fmt.Sprintf(
				"label %s already has several nodes with the same key in this graph (written by raw Cypher), so its "+
					"uniqueness constraint cannot be created: remove the duplicates, then retry (%s)", label, s.clean(ne.Msg))}
		default:
			return err
		}
	}
	s.mu.Lock()
	s.constrained[label] = true
	s.mu.Unlock()
	return nil
}

// single returns the first record of a result, or nil when there is none.
func single(ctx context.Context, res driver.ResultWithContext) (*driver.Record, error) {
	var rec *driver.Record
	if res.Next(ctx) {
		rec = res.Record()
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	_, err := res.Consume(ctx)
	return rec, err
}

// MergeNode creates the node with ref's label and key, or finds it, and sets
// props on it (others are kept; a null value removes a property). It returns
// the node as stored.
func (s *Store) MergeNode(ctx context.Context, ref NodeRef, props map[string]any) (Node, error) {
	if err := checkRef("", ref); err != nil {
		return Node{}, err
	}
	p, err := checkProps(props, true)
	if err != nil {
		return Node{}, err
	}
	if err := s.ensureConstraint(ctx, ref.Label); err != nil {
		return Node{}, err
	}
	q := "MERGE " + s.pattern("n", ref.Label, "key") + " SET n += $props RETURN n"
	params := s.params("key", ref.Key, "props", p)
	return transact(s, ctx, driver.AccessModeWrite, "merging a node", 0, func(ctx context.Context, tx driver.ManagedTransaction) (Node, error) {
		res, err := tx.Run(ctx, q, params)
		if err != nil {
			return Node{}, err
		}
		rec, err := single(ctx, res)
		if err != nil || rec == nil {
			return Node{}, err
		}
		n, _ := rec.Values[0].(dbtype.Node)
		return toNode(n), nil
	})
}

// MergeRelationship relates two existing nodes with a relationship of relType
// (created once per from, to and type) and sets props on it. A missing
// endpoint is a KindNotFound error that names it.
func (s *Store) MergeRelationship(ctx context.Context, from, to NodeRef, relType string, props map[string]any) (Relationship, error) {
	if err := checkRef("from.", from); err != nil {
		return Relationship{}, err
	}
	if err := checkRef("to.", to); err != nil {
		return Relationship{}, err
	}
	if err := checkIdent("type", "relationship type", relType); err != nil {
		return Relationship{}, err
	}
	p, err := checkProps(props, false)
	if err != nil {
		return Relationship{}, err
	}
	check := "OPTIONAL MATCH " + s.pattern("a", from.Label, "from") + " WITH a LIMIT 1 " +
		"OPTIONAL MATCH " + s.pattern("b", to.Label, "to") + " RETURN a IS NOT NULL AS a, b IS NOT NULL AS b LIMIT 1"
	merge := "MATCH " + s.pattern("a", from.Label, "from") + ", " + s.pattern("b", to.Label, "to") +
		" MERGE (a)-[r:" + quote(relType) + "]->(b) SET r += $props RETURN r"
	params := s.params("from", from.Key, "to", to.Key, "props", p)
	return transact(s, ctx, driver.AccessModeWrite, "merging a relationship", 0,
		func(ctx context.Context, tx driver.ManagedTransaction) (Relationship, error) {
			res, err := tx.Run(ctx, check, params)
			if err != nil {
				return Relationship{}, err
			}
			rec, err := single(ctx, res)
			if err != nil {
				return Relationship{}, err
			}
			hasFrom, hasTo := false, false
			if rec != nil {
				hasFrom, _ = rec.Values[0].(bool)
				hasTo, _ = rec.Values[1].(bool)
			}
			switch {
			case !hasFrom && !hasTo:
				e := s.nodeNotFound("from", from)
				e.Msg = fmt.Sprintf("neither node (:%s {key: %q}) nor node (:%s {key: %q}) exists; create both with "+
					"graph_merge_node first", from.Label, from.Key, to.Label, to.Key)
				return Relationship{}, e
			case !hasFrom:
				return Relationship{}, s.nodeNotFound("from", from)
			case !hasTo:
				return Relationship{}, s.nodeNotFound("to", to)
			}
			res, err = tx.Run(ctx, merge, params)
			if err != nil {
				return Relationship{}, err
			}
			rec, err = single(ctx, res)
			if err != nil || rec == nil {
				return Relationship{}, err
			}
			r, _ := rec.Values[0].(dbtype.Relationship)
			return Relationship{Type: r.Type, From: from, To: to, Properties: publicProps(r.Props, false)}, nil
		})
}

// Neighbors returns the nodes within Depth hops of From (following Types
// only, in Direction), nearest first, each with the length of a shortest
// path to it and the relationship types along that path, up to about
// MaxBytes of JSON (truncated says some were left out). On a shared server
// every node on the way belongs to this project.
func (s *Store) Neighbors(ctx context.Context, r NeighborsRequest) (ns []Neighbor, truncated bool, err error) {
	if err := checkRef("", r.From); err != nil {
		return nil, false, err
	}
	depth, limit := r.Depth, r.Limit
	if depth == 0 {
		depth = 1
	}
	if depth < 1 || depth > MaxDepth {
		return nil, false, invalid("depth", "depth %d is out of range: 1 to %d hops", r.Depth, MaxDepth)
	}
	if limit == 0 {
		limit = DefaultNeighbors
	}
	if limit < 1 || limit > MaxNeighbors {
		return nil, false, invalid("limit", "limit %d is out of range: 1 to %d neighbours", r.Limit, MaxNeighbors)
	}
	for i, t := range r.Types {
		if err := checkIdent(fmt.Sprintf("types[%d]", i), "relationship type", t); err != nil {
			return nil, false, err
		}
	}
	rel := ""
	if len(r.Types) > 0 {
		quoted := make([]string, len(r.Types))
		for i, t := range r.Types {
			quoted[i] = quote(t)
		}
		rel = ":" + strings.Join(quoted, "|")
	}
	rel = fmt.Sprintf("[%s*1..%d]", rel, depth)
	var path string
	switch r.Direction {
	case "", "both":
		path = "(s)-" + rel + "-(n)"
	case "out":
		path = "(s)-" + rel + "->(n)"
	case "in":
		path = "(s)<-" + rel + "-(n)"
	default:
		return nil, false, invalid("direction", "direction %q is not valid: out, in or both", truncate(r.Direction, 40))
	}
	inProject := ""
	if s.project != "" {
		inProject = " AND all(x IN nodes(p) WHERE x._project = $project)"
	}
	// Whether the start node exists, then its neighbours one row each (so
	// reading stops at the byte cap): distinct ones first (a pruning
	// breadth-first expand), then one shortest path to each, nearest first.
	exists := "OPTIONAL MATCH " + s.pattern("s", r.From.Label, "key") + " RETURN s IS NOT NULL AS found LIMIT 1"
	q := "MATCH " + s.pattern("s", r.From.Label, "key") +
		" CALL { WITH s" +
		" MATCH p = " + path + " WHERE n <> s" + inProject +
		" WITH DISTINCT s, n" +
		" MATCH p = shortestPath(" + path + ") WHERE true" + inProject +
		" WITH n, p ORDER BY length(p), n.key LIMIT $limit" +
		" RETURN n, length(p) AS distance, [r IN relationships(p) | type(r)] AS via }" +
		" RETURN n, distance, via ORDER BY distance, n.key"
	params := s.params("key", r.From.Key, "limit", int64(limit))
	type page struct {
		ns        []Neighbor
		truncated bool
	}
	pg, err := transact(s, ctx, driver.AccessModeRead, "finding neighbours", limit,
		func(ctx context.Context, tx driver.ManagedTransaction) (page, error) {
			res, err := tx.Run(ctx, exists, params)
			if err != nil {
				return page{}, err
			}
			rec, err := single(ctx, res)
			if err != nil {
				return page{}, err
			}
			if found, _ := recValue(rec, 0).(bool); !found {
				return page{}, s.nodeNotFound("key", r.From)
			}
			if res, err = tx.Run(ctx, q, params); err != nil {
				return page{}, err
			}
			rd := reader{left: s.opts.maxBytes()}
			out := page{ns: []Neighbor{}}
			for {
				rec, _, stop := rd.next(ctx, res)
				if stop {
					if len(out.ns) == 0 {
						e := s.tooLarge("graph_neighbors", nil)
						e.Msg = fmt.Sprintf("the nearest neighbour of (:%s {key: %q}) alone is larger than graph_neighbors' byte cap "+
							"(%s of JSON): read it with graph_query, returning only the properties you need", r.From.Label, r.From.Key,
							units.Bytes(s.opts.maxBytes()))
						e.Err = errStopReading
						return page{}, e
					}
					out.truncated = true
					return out, errStopReading
				}
				if rec == nil {
					break
				}
				rd.left--
				n, _ := recValue(rec, 0).(dbtype.Node)
				dist, _ := recValue(rec, 1).(int64)
				via := []string{}
				vs, _ := recValue(rec, 2).([]any)
				for _, v := range vs {
					if t, ok := v.(string); ok {
						via = append(via, t)
					}
				}
				out.ns = append(out.ns, Neighbor{Node: toNode(n), Distance: int(dist), Via: via})
			}
			return out, res.Err()
		})
	if err != nil {
		return nil, false, err
	}
	return pg.ns, pg.truncated, nil
}

// recValue is the i-th value of rec, or nil.
func recValue(rec *driver.Record, i int) any {
	if rec == nil || i >= len(rec.Values) {
		return nil
	}
	return rec.Values[i]
}

// DeleteNode deletes the node and every relationship it has, and returns how
// many relationships went with it. An unknown node is KindNotFound.
func (s *Store) DeleteNode(ctx context.Context, ref NodeRef) (int, error) {
	if err := checkRef("", ref); err != nil {
		return 0, err
	}
	q := "MATCH " + s.pattern("n", ref.Label, "key") + " DETACH DELETE n"
	params := s.params("key", ref.Key)
	return transact(s, ctx, driver.AccessModeWrite, "deleting a node", 0, func(ctx context.Context, tx driver.ManagedTransaction) (int, error) {
		res, err := tx.Run(ctx, q, params)
		if err != nil {
			return 0, err
		}
		sum, err := res.Consume(ctx)
		if err != nil {
			return 0, err
		}
		if sum.Counters().NodesDeleted() == 0 {
			return 0, s.nodeNotFound("key", ref)
		}
		return sum.Counters().RelationshipsDeleted(), nil
	})
}

// Schema lists the labels, relationship types and property keys in use: the
// database's own lists (db.labels() and friends, no APOC) on the project's
// own server; on a shared server, those of this project's nodes and their
// relationships only. The store's own properties are left out. The names are
// read one row at a time, up to about MaxBytes of JSON in all (Truncated
// says some were left out).
func (s *Store) Schema(ctx context.Context) (Schema, error) {
	type query struct {
		cypher string
		into   *[]string
	}
	var sc Schema
	var queries []query
	var nodeKeys, relKeys []string
	if s.project == "" {
		queries = []query{
			{"CALL db.labels() YIELD label RETURN label", &sc.Labels},
			{"CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType", &sc.RelationshipTypes},
			{"CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey", &sc.PropertyKeys},
		}
	} else {
		queries = []query{
			{"MATCH (n) WHERE n._project = $project UNWIND labels(n) AS l RETURN DISTINCT l", &sc.Labels},
			{"MATCH (n) WHERE n._project = $project UNWIND keys(n) AS k RETURN DISTINCT k", &nodeKeys},
			{"MATCH (n)-[r]->(m) WHERE n._project = $project AND m._project = $project RETURN DISTINCT type(r)", &sc.RelationshipTypes},
			{"MATCH (n)-[r]->(m) WHERE n._project = $project AND m._project = $project UNWIND keys(r) AS k RETURN DISTINCT k", &relKeys},
		}
	}
	params := s.params()
	sc, err := transact(s, ctx, driver.AccessModeRead, "reading the schema", 0, func(ctx context.Context, tx driver.ManagedTransaction) (Schema, error) {
		for _, q := range queries {
			*q.into = nil
		}
		rd := reader{left: s.opts.maxBytes()}
		for _, q := range queries {
			res, err := tx.Run(ctx, q.cypher, params)
			if err != nil {
				return Schema{}, err
			}
			for {
				rec, _, stop := rd.next(ctx, res)
				if stop {
					sc.Truncated = true
					return sc, errStopReading
				}
				if rec == nil {
					break
				}
				if n, ok := recValue(rec, 0).(string); ok {
					*q.into = append(*q.into, n)
				}
			}
			if err := res.Err(); err != nil {
				return Schema{}, err
			}
		}
		return sc, nil
	})
	if err != nil {
		return Schema{}, err
	}
	if s.project != "" {
		sc.PropertyKeys = append(nodeKeys, relKeys...)
	}
	sc.Labels, sc.RelationshipTypes, sc.PropertyKeys = sortedUnique(sc.Labels), sortedUnique(sc.RelationshipTypes), sortedUnique(sc.PropertyKeys)
	return sc, nil
}
