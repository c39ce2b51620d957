package work

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strings"
)

// The work graph: tasks, what each waits for, and the questions task_graph
// answers about it. Each source (the SQLite store, the Neo4j mirror) only
// supplies the data; the chains are computed here, by one algorithm, so both
// sources give the same answer for the same data.
//
// A task waits for its dependencies and, when it is a parent, for its open
// subtasks (a parent with open subtasks cannot be completed). Both count as
// blockers. The critical path follows dependencies only: it is the longest
// chain of work where each task needs the one before it done, and a
// parent's subtasks are its parts, not steps before it.

// GraphNode is a task as a node of the work graph.
type GraphNode struct {
	ID       string
	Title    string
	Status   Status
	Priority string
}

// Graph is tasks and the edges among them. Build it with AddTask,
// AddDependency and AddSubtask, then ask it. Edges may name tasks that
// were not added: they are not open work, and the walks ignore them. A
// Graph is not safe for concurrent use.
type Graph struct {
	tasks    map[string]GraphNode
	deps     map[string][]string // task -> its dependencies
	rdeps    map[string][]string // task -> the tasks that depend on it
	children map[string][]string // parent -> its subtasks
	sorted   bool
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{tasks: map[string]GraphNode{}, deps: map[string][]string{}, rdeps: map[string][]string{},
		children: map[string][]string{}}
}

// AddTask adds (or replaces) a task.
func (g *Graph) AddTask(n GraphNode) { g.tasks[n.ID] = n }

// Task returns a task added to the graph.
func (g *Graph) Task(id string) (GraphNode, bool) { t, ok := g.tasks[id]; return t, ok }

// AddDependency says that task depends on dependsOn.
func (g *Graph) AddDependency(task, dependsOn string) {
	g.deps[task] = append(g.deps[task], dependsOn)
	g.rdeps[dependsOn] = append(g.rdeps[dependsOn], task)
	g.sorted = false
}

// AddSubtask says that child is a subtask of parent: while child is open,
// it blocks parent.
func (g *Graph) AddSubtask(parent, child string) {
	g.children[parent] = append(g.children[parent], child)
	g.sorted = false
}

// sort sorts and deduplicates the adjacency lists, so that every walk is
// deterministic whatever order the edges came in.
func (g *Graph) sort() {
	if g.sorted {
		return
	}
	for _, m := range []map[string][]string{g.deps, g.rdeps, g.children} {
		for k, v := range m {
			slices.Sort(v)
			m[k] = slices.Compact(v)
		}
	}
	g.sorted = true
}

func (g *Graph) open(id string) bool {
	t, ok := g.tasks[id]
	return ok && t.Status.IsOpen()
}

// waitsFor lists what n waits for, by id: its dependencies, then its
// subtasks (both sorted; a task that is both appears once, as a dependency).
func (g *Graph) waitsFor(n string) []string {
	d, c := g.deps[n], g.children[n]
	if len(c) == 0 {
		return d
	}
	out := slices.Concat(d, c)
	slices.Sort(out)
	return slices.Compact(out)
}

// Blocker is an open task that blocks the task asked about: directly (a
// dependency, or an open subtask of it) or through other open tasks.
type Blocker struct {
	GraphNode
	// Depth is the number of hops along the shortest chain of open tasks:
	// 1 is a direct dependency or subtask.
	Depth int
	// Path is that chain: the task's direct blocker first, this one last.
	Path []string
	// Startable says it waits for no open task itself.
	Startable bool
}

// Blockers walks breadth-first from focus along what each task waits for
// (dependencies and subtasks), to open tasks only: a finished task ends a
// chain. Neighbours are visited in id order, so each blocker's depth is its
// shortest distance and its path the first shortest chain in that order.
// The answer is ordered by depth, then id.
func (g *Graph) Blockers(focus string) []Blocker {
	g.sort()
	prev := map[string]string{focus: ""}
	depth := map[string]int{focus: 0}
	queue := []string{focus}
	var found []string
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range g.waitsFor(n) {
			if !g.open(m) {
				continue
			}
			if _, seen := prev[m]; seen {
				continue
			}
			prev[m], depth[m] = n, depth[n]+1
			queue = append(queue, m)
			found = append(found, m)
		}
	}
	out := make([]Blocker, 0, len(found))
	for _, id := range found {
		var path []string
		for v := id; v != focus; v = prev[v] {
			path = append(path, v)
		}
		slices.Reverse(path)
		startable := !slices.ContainsFunc(g.waitsFor(id), g.open)
		out = append(out, Blocker{GraphNode: g.tasks[id], Depth: depth[id], Path: path, Startable: startable})
	}
	slices.SortStableFunc(out, func(a, b Blocker) int {
		return cmp.Or(cmp.Compare(a.Depth, b.Depth), strings.Compare(a.ID, b.ID))
	})
	return out
}

// CriticalPath is the longest chain of open work.
type CriticalPath struct {
	// Tasks in order of work: each depends on the one before it.
	Tasks []GraphNode
	// OpenTasks counts the open tasks of the graph.
	OpenTasks int
}

// CycleError says that dependencies among open tasks form a cycle. The task
// store refuses cycles, so only data changed outside it (a graph mirror
// edited by hand) can hold one.
type CycleError struct {
	// IDs are the tasks left unordered (on a cycle, or after one), by id.
	IDs []string
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("the dependencies among unfinished tasks form a cycle through %s", strings.Join(e.IDs[:min(len(e.IDs), 5)], ", "))
}

// CriticalPath returns the longest chain of open tasks t1, t2, … tk where
// each t(i+1) depends on t(i). Of all longest chains it returns the one
// whose ids, compared in order of work, sort first. It works on open tasks
// and dependencies only (subtask edges are not steps of work), and answers
// a *CycleError when the dependencies among open tasks form a cycle.
func (g *Graph) CriticalPath() (CriticalPath, error) {
	g.sort()
	var open []string
	for id, t := range g.tasks {
		if t.Status.IsOpen() {
			open = append(open, id)
		}
	}
	slices.Sort(open)
	order, stuck := TopoOrder(open, func(id string) []string { return g.deps[id] }, g.open)
	if len(stuck) > 0 {
		slices.Sort(stuck)
		return CriticalPath{}, &CycleError{IDs: stuck}
	}
	// down[n]: the most tasks on a chain that starts at n and goes on to
	// tasks that depend on it. Computed from the last task in order back.
	down := map[string]int{}
	for i := len(order) - 1; i >= 0; i-- {
		n, best := order[i], 0
		for _, m := range g.rdeps[n] {
			if g.open(m) && down[m] > best {
				best = down[m]
			}
		}
		down[n] = best + 1
	}
	cp := CriticalPath{Tasks: []GraphNode{}, OpenTasks: len(open)}
	cur := ""
	for _, id := range open { // sorted: the smallest id among the longest starts
		if cur == "" || down[id] > down[cur] {
			cur = id
		}
	}
	for cur != "" {
		cp.Tasks = append(cp.Tasks, g.tasks[cur])
		next := ""
		for _, m := range g.rdeps[cur] { // sorted
			if g.open(m) && down[m] == down[cur]-1 {
				next = m
				break
			}
		}
		cur = next
	}
	return cp, nil
}

// TopoOrder orders nodes so that every node comes after what it needs
// (needs(n), restricted to members of nodes for which keep is true; keep nil
// keeps every member). Among nodes that are free at the same time the one
// earlier in nodes comes first, so the order is stable: nodes already in a
// valid order come back unchanged. stuck lists, in input order, the nodes
// that could not be placed because they are on a cycle or wait for one.
func TopoOrder(nodes []string, needs func(string) []string, keep func(string) bool) (order, stuck []string) {
	pos := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := pos[n]; !dup {
			pos[n] = i
		}
	}
	member := func(n string) bool {
		_, ok := pos[n]
		return ok && (keep == nil || keep(n))
	}
	indeg := make([]int, len(nodes))
	users := make(map[string][]int, len(nodes))
	for i, n := range nodes {
		if pos[n] != i {
			continue // a duplicate: placed once, at its first position
		}
		for _, d := range uniq(needs(n)) {
			if d == n || member(d) {
				indeg[i]++
				users[d] = append(users[d], i)
			}
		}
	}
	h := &positions{}
	for i, n := range nodes {
		if pos[n] == i && indeg[i] == 0 {
			heap.Push(h, i)
		}
	}
	placed := make([]bool, len(nodes))
	for h.Len() > 0 {
		i := heap.Pop(h).(int)
		placed[i] = true
		order = append(order, nodes[i])
		for _, u := range users[nodes[i]] {
			if indeg[u]--; indeg[u] == 0 {
				heap.Push(h, u)
			}
		}
	}
	for i, n := range nodes {
		if pos[n] == i && !placed[i] {
			stuck = append(stuck, n)
		}
	}
	return order, stuck
}

func uniq(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// positions is a min-heap of positions (container/heap): the earliest
// free node goes first.
type positions []int

func (h positions) Len() int           { return len(h) }
func (h positions) Less(i, j int) bool { return h[i] < h[j] }
func (h positions) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *positions) Push(x any)        { *h = append(*h, x.(int)) }
func (h *positions) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// WouldBecomeReady says whether a task that waits for the one being
// completed becomes claimable by that completion: it is pending and waits
// for nothing else.
func WouldBecomeReady(status Status, waitingOn []string) bool {
	return status == Pending && len(waitingOn) == 0
}
