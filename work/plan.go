package work

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/internal/clienterr"
)

// A plan is a tree of new tasks sent in one call (task_plan). Each task has a
// ref, a name chosen by the caller and meaningful only within the plan;
// parent and depends_on name either a ref of the plan or an existing task.
// Refs may not look like task ids, so the two never collide. The plan is
// checked whole (every problem is listed, by ref, and nothing is written),
// ordered so that every task comes after what it names, and written by the
// store in one transaction.

// MaxRefLength is the longest ref of a plan task.
const MaxRefLength = 64

// maxProblemsShown caps the problems one refusal lists.
const maxProblemsShown = 50

var (
	refPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	// idShape is what task ids look like: this server's (tsk_ and 16 hex
	// digits) and those imported from the Python server's task breakdowns
	// (task_ and 8 hex digits).
	idShape = regexp.MustCompile(`^(tsk_[0-9a-f]{16}|task_[0-9a-f]{8})$`)
)

// LooksLikeID says whether s has the shape of a task id this server makes
// (tsk_0123456789abcdef) or imports from the Python server (task_0123abcd).
func LooksLikeID(s string) bool { return idShape.MatchString(s) }

// Plan validates a whole plan (refs, parents, dependencies, cycles, fields:
// every problem listed by ref, nothing written) and writes it in one
// transaction. progress, if not nil, is called as tasks are validated and
// written (done of total).
func Plan(ctx context.Context, store PlanStore, tasks []PlanTask, actor string, progress func(done, total int)) (PlanResult, error) {
	total := 2 * len(tasks) // validating, then writing
	report := func(done int) {
		if progress != nil {
			progress(done, total)
		}
	}
	report(0)
	resolved, err := CheckPlan(tasks, store.CheckNewTask)
	if err != nil {
		return PlanResult{}, err
	}
	report(len(tasks))
	if err := ctx.Err(); err != nil {
		return PlanResult{}, err
	}
	res, err := store.CreatePlan(ctx, resolved, actor)
	if err != nil {
		return PlanResult{}, err
	}
	report(total)
	return res, nil
}

// planProblems collects what is wrong with a plan, each problem prefixed
// with the task it is about.
type planProblems struct {
	tasks  []PlanTask
	list   []problem
	cycles int // how many of list are cycles
}

type problem struct {
	task int
	text string
}

func (p *planProblems) add(i int, format string, a ...any) {
	prefix := fmt.Sprintf("tasks[%d]", i)
	if r := p.tasks[i].Ref; r != "" {
		prefix += fmt.Sprintf(" (ref %q)", clip(r, MaxRefLength))
	}
	p.list = append(p.list, problem{task: i, text: prefix + ": " + fmt.Sprintf(format, a...)})
}

func (p *planProblems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	kind := clienterr.InvalidArgument
	if p.cycles == len(p.list) {
		kind = clienterr.DependencyCycle
	}
	// By task, and in the order found within a task.
	slices.SortStableFunc(p.list, func(a, b problem) int { return a.task - b.task })
	shown := make([]string, 0, min(len(p.list), maxProblemsShown))
	for _, pr := range p.list[:cap(shown)] {
		shown = append(shown, pr.text)
	}
	msg := fmt.Sprintf("the plan was not written: %d problem%s: %s", len(p.list), plural(len(p.list)), strings.Join(shown, "; "))
	if more := len(p.list) - len(shown); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return &clienterr.Error{Kind: kind, Field: "tasks", Msg: msg}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// CheckPlan checks a plan without touching a store (checkFields applies the
// field rules of a new task; nil skips them) and returns it resolved, in
// the order to write it: every task after its parent and its dependencies,
// in plan order otherwise. On any problem it returns one client error that
// lists every problem (DependencyCycle when all of them are cycles).
func CheckPlan(tasks []PlanTask, checkFields func(NewTask) error) ([]ResolvedPlanTask, error) {
	switch {
	case len(tasks) == 0:
		return nil, &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "tasks",
			Msg: fmt.Sprintf("the plan has no tasks; pass 1 to %d tasks", MaxPlanTasks)}
	case len(tasks) > MaxPlanTasks:
		return nil, &clienterr.Error{Kind: clienterr.InvalidArgument, Field: "tasks", Msg: fmt.Sprintf(
			"the plan has %d tasks; the limit is %d per call: split it, and name the tasks of the first part by id in the next",
			len(tasks), MaxPlanTasks)}
	}
	p := &planProblems{tasks: tasks}

	// Refs: required, well-formed, not an id, unique.
	index := make(map[string]int, len(tasks)) // ref -> first task with it
	for i, t := range tasks {
		r := t.Ref
		switch {
		case r == "":
			p.add(i, "ref is required: give every task a short name of its own, such as \"design\" or \"step-1\"")
		case len(r) > MaxRefLength:
			p.add(i, "ref is %d characters; use at most %d", len(r), MaxRefLength)
		case !refPattern.MatchString(r):
			p.add(i, "ref %q may hold only letters, digits and _ . : -", clip(r, MaxRefLength))
		case LooksLikeID(r):
			p.add(i, "ref %q has the shape of a task id; choose a ref that does not (such as \"step-1\"), so refs and ids never mix", r)
		default:
			if j, dup := index[r]; dup {
				p.add(i, "ref %q is already the ref of tasks[%d]; refs must be unique within a plan", r, j)
			} else {
				index[r] = i
			}
		}
	}
	isRef := func(name string) (int, bool) { j, ok := index[name]; return j, ok }

	// Parents and dependencies: a ref of this plan or an existing task's id.
	out := make([]ResolvedPlanTask, len(tasks))
	for i, t := range tasks {
		rt := ResolvedPlanTask{Index: i, Task: t}
		if t.Parent != "" {
			switch _, ok := isRef(t.Parent); {
			case t.Parent == t.Ref:
				p.add(i, "a task cannot be its own parent")
			case ok:
				rt.ParentRef = t.Parent
			case LooksLikeID(t.Parent):
				rt.ParentID = t.Parent
			default:
				p.add(i, "parent %q names no ref of this plan and is not a task id (ids look like tsk_0123456789abcdef)", clip(t.Parent, MaxRefLength))
			}
		}
		seen := map[string]bool{}
		for _, d := range t.DependsOn {
			if seen[d] {
				continue
			}
			seen[d] = true
			switch _, ok := isRef(d); {
			case d == t.Ref:
				p.add(i, "a task cannot depend on itself")
			case ok:
				rt.DependsRefs = append(rt.DependsRefs, d)
			case LooksLikeID(d):
				rt.DependsIDs = append(rt.DependsIDs, d)
			default:
				p.add(i, "depends_on %q names no ref of this plan and is not a task id (ids look like tsk_0123456789abcdef)", clip(d, MaxRefLength))
			}
		}
		if checkFields != nil {
			nt := NewTask{Title: t.Title, Description: t.Description, Priority: t.Priority, Labels: t.Labels, Role: t.Role, Metadata: t.Metadata}
			if err := checkFields(nt); err != nil {
				p.add(i, "%s", err.Error())
			}
		}
		out[i] = rt
	}

	// Dependencies along a task's own parent chain cannot be written in one
	// order, and mean nothing (a parent waits for its subtasks anyway) or
	// never end (a subtask waiting for its parent, which waits for it).
	parentOf := func(ref string) (string, bool) {
		j, ok := index[ref]
		if !ok || out[j].ParentRef == "" {
			return "", false
		}
		return out[j].ParentRef, true
	}
	ancestor := func(of, anc string) bool { // is anc a parent, grandparent, … of of?
		seen := map[string]bool{}
		for cur, ok := parentOf(of); ok && !seen[cur]; cur, ok = parentOf(cur) {
			if cur == anc {
				return true
			}
			seen[cur] = true
		}
		return false
	}
	for i := range out {
		t := &out[i]
		if _, ok := index[t.Task.Ref]; !ok || index[t.Task.Ref] != i {
			continue // a bad or duplicate ref: already reported
		}
		kept := t.DependsRefs[:0:0]
		for _, d := range t.DependsRefs {
			switch {
			case ancestor(d, t.Task.Ref):
				p.add(i, "depends_on %q names its own subtask; a parent already waits for its open subtasks: drop it from depends_on", d)
			case ancestor(t.Task.Ref, d):
				p.add(i, "depends_on %q names its own parent, which cannot be completed before this subtask: it would wait forever", d)
			default:
				kept = append(kept, d)
			}
		}
		t.DependsRefs = kept
	}

	// Order: each task after the refs it names; what is left is on a cycle.
	refs := make([]string, 0, len(index))
	for i, t := range tasks {
		if j, ok := index[t.Ref]; ok && j == i {
			refs = append(refs, t.Ref)
		}
	}
	needs := func(ref string) []string {
		t := out[index[ref]]
		if t.ParentRef != "" {
			return append(slices.Clone(t.DependsRefs), t.ParentRef)
		}
		return t.DependsRefs
	}
	order, stuck := TopoOrder(refs, needs, nil)
	if len(stuck) > 0 {
		for _, cyc := range cycles(stuck, needs) {
			first := slices.MinFunc(cyc, func(a, b string) int { return index[a] - index[b] })
			quoted := make([]string, len(cyc))
			for k, r := range cyc {
				quoted[k] = fmt.Sprintf("%q", r)
			}
			p.add(index[first], "its dependencies and parents form a cycle through the refs %s; break it by dropping one of "+
				"these dependencies or parents", strings.Join(quoted, ", "))
			p.cycles++
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	resolved := make([]ResolvedPlanTask, 0, len(order))
	for _, r := range order {
		resolved = append(resolved, out[index[r]])
	}
	return resolved, nil
}

// cycles returns the cycles among nodes (the strongly connected components
// of more than one node, or of one with an edge to itself), each in the
// order of nodes, by Tarjan's algorithm. Edges leaving nodes are ignored.
func cycles(nodes []string, needs func(string) []string) [][]string {
	in := make(map[string]int, len(nodes))
	for i, n := range nodes {
		in[n] = i
	}
	var (
		counter int
		num     = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		out     [][]string
		visit   func(string)
	)
	visit = func(v string) {
		counter++
		num[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		self := false
		for _, w := range needs(v) {
			if _, ok := in[w]; !ok {
				continue
			}
			if w == v {
				self = true
			}
			if num[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], num[w])
			}
		}
		if low[v] != num[v] {
			return
		}
		var comp []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 || self {
			slices.SortFunc(comp, func(a, b string) int { return in[a] - in[b] })
			out = append(out, comp)
		}
	}
	for _, n := range nodes {
		if num[n] == 0 {
			visit(n)
		}
	}
	slices.SortFunc(out, func(a, b []string) int { return in[a[0]] - in[b[0]] })
	return out
}
