package neo4j

import (
	"context"
	"fmt"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The task mirror as task_graph reads it: the project's unfinished work, read
// in one transaction and handed to the caller, who walks it. Walking it here
// with variable-length patterns would enumerate paths, which grows
// exponentially with a DAG's width; reading the nodes and edges is linear.
// The caller names the mirror's shape (label, relationship type, statuses),
// so this package knows nothing of tasks beyond it.

// TaskShape says how tasks are stored in the graph.
type TaskShape struct {
	Label     string   // e.g. Task; nodes carry id, title, status and priority
	DependsOn string   // e.g. DEPENDS_ON, from a task to its dependency
	Open      []string // statuses of unfinished work
	Completed string   // the status that satisfies a dependency
}

// TaskNode is a task's node: its key is the task id.
type TaskNode struct {
	ID       string
	Title    string
	Status   string
	Priority string
}

// TaskEdge says that Task depends on DependsOn.
type TaskEdge struct{ Task, DependsOn string }

// TaskDependent is an unfinished task that depends directly on the focus,
// with its other dependencies that are not completed (by id).
type TaskDependent struct {
	TaskNode
	Waiting []string
}

// TaskWork is the project's unfinished work as the graph holds it.
type TaskWork struct {
	// Tasks are the nodes in an open status, by id.
	Tasks []TaskNode
	// Edges are the dependency edges between two open tasks, and from the
	// focus to an open task, by task then dependency.
	Edges []TaskEdge
	// Focus is the focus task's node; nil when the graph has no such node.
	Focus *TaskNode
	// Dependents are the focus's open direct dependents, by id.
	Dependents []TaskDependent
}

// TaskWork reads the project's unfinished work and, when focus is not "",
// that task's node, its edges to open tasks and its open dependents, all in
// one read transaction. Nodes with no status are not open.
func (s *Store) TaskWork(ctx context.Context, shape TaskShape, focus string) (TaskWork, error) {
	if err := checkIdent("label", "label", shape.Label); err != nil {
		return TaskWork{}, err
	}
	if err := checkIdent("type", "relationship type", shape.DependsOn); err != nil {
		return TaskWork{}, err
	}
	if len(shape.Open) == 0 || shape.Completed == "" {
		return TaskWork{}, invalid("statuses", "the open statuses and the completed status are needed")
	}
	if len(focus) > MaxKeyLength {
		return TaskWork{}, invalid("key", "key is %d bytes; the limit is %d", len(focus), MaxKeyLength)
	}
	label, rel := quote(shape.Label), quote(shape.DependsOn)
	// On a shared server "key IS NOT NULL" beside _project lets the planner
	// seek the (_project, key) uniqueness index by its prefix instead of
	// scanning every project's tasks (measured: 8 ms instead of 55 ms with
	// 17,000 tasks of other projects on the server).
	in := func(vars ...string) string {
		if s.project == "" {
			return "true"
		}
		w := make([]string, len(vars))
		for i, v := range vars {
			w[i] = v + "._project = $project AND " + v + ".key IS NOT NULL"
		}
		return strings.Join(w, " AND ")
	}
	nodes := fmt.Sprintf("MATCH (n:%s) WHERE %s AND (n.status IN $open OR n.key = $focus) "+
		"RETURN n.key, n.title, n.status, n.priority ORDER BY n.key", label, in("n"))
	edges := fmt.Sprintf("MATCH (a:%s)-[:%s]->(b:%s) WHERE %s AND (a.status IN $open OR a.key = $focus) AND b.status IN $open "+
		"RETURN DISTINCT a.key, b.key ORDER BY a.key, b.key", label, rel, label, in("a", "b"))
	dependents := fmt.Sprintf("MATCH (d:%s)-[:%s]->(t:%s {key: $focus}) WHERE %s AND d.status IN $open "+
		"WITH DISTINCT d, t OPTIONAL MATCH (d)-[:%s]->(o:%s) WHERE o <> t AND %s AND coalesce(o.status, '') <> $completed "+
		"WITH d, o ORDER BY o.key RETURN d.key, d.title, d.status, d.priority, collect(DISTINCT o.key) ORDER BY d.key",
		label, rel, label, in("d", "t"), rel, label, in("o"))
	open := make([]any, len(shape.Open))
	for i, st := range shape.Open {
		open[i] = st
	}
	params := s.params("open", open, "focus", focus, "completed", shape.Completed)
	return transact(s, ctx, driver.AccessModeRead, "reading the task graph", 0,
		func(ctx context.Context, tx driver.ManagedTransaction) (TaskWork, error) {
			w := TaskWork{Tasks: []TaskNode{}, Edges: []TaskEdge{}, Dependents: []TaskDependent{}}
			err := each(ctx, tx, nodes, params, func(v []any) {
				n := TaskNode{ID: str(v[0]), Title: str(v[1]), Status: str(v[2]), Priority: str(v[3])}
				if focus != "" && n.ID == focus {
					f := n
					w.Focus = &f
				}
				for _, o := range shape.Open {
					if n.Status == o {
						w.Tasks = append(w.Tasks, n)
						break
					}
				}
			})
			if err != nil {
				return TaskWork{}, err
			}
			if err := each(ctx, tx, edges, params, func(v []any) {
				w.Edges = append(w.Edges, TaskEdge{Task: str(v[0]), DependsOn: str(v[1])})
			}); err != nil {
				return TaskWork{}, err
			}
			if focus == "" || w.Focus == nil {
				return w, nil
			}
			err = each(ctx, tx, dependents, params, func(v []any) {
				d := TaskDependent{TaskNode: TaskNode{ID: str(v[0]), Title: str(v[1]), Status: str(v[2]), Priority: str(v[3])},
					Waiting: []string{}}
				ws, _ := v[4].([]any)
				for _, x := range ws {
					if id, ok := x.(string); ok {
						d.Waiting = append(d.Waiting, id)
					}
				}
				w.Dependents = append(w.Dependents, d)
			})
			return w, err
		})
}

// each runs q and calls fn with every record's values.
func each(ctx context.Context, tx driver.ManagedTransaction, q string, params map[string]any, fn func([]any)) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	for res.Next(ctx) {
		fn(res.Record().Values)
	}
	return res.Err()
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// CheckLink validates, without touching the server, everything a link of
// node to another node by relType will send: the node's reference and
// properties, the type and the relationship's properties. A caller that
// merges several things for one link checks first, so that a bad argument
// leaves nothing half-written.
func CheckLink(node NodeRef, nodeProps map[string]any, relType string, relProps map[string]any) error {
	if err := checkRef("node.", node); err != nil {
		return err
	}
	if _, err := checkProps(nodeProps, true); err != nil {
		return err
	}
	if err := checkIdent("type", "relationship type", relType); err != nil {
		return err
	}
	_, err := checkProps(relProps, false)
	return err
}
