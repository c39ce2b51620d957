package cli

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// Column widths of the pool table at 80 columns; a wider terminal gives the
// extra room to the bar.
const (
	colName   = 14
	colState  = 9
	barInner  = 10 // cells between the brackets at 80 columns
	colCounts = 11
	colWait   = 4
	colTmo    = 5
	colAcq    = 7
	colP99    = 7
	minWidth  = 40
)

// render lays a snapshot out as lines no wider than width. interval > 0 is
// shown in the header (a watch).
func render(s Snapshot, width int, interval time.Duration) []string {
	width = max(width, minWidth)
	var out []string
	add := func(format string, args ...any) { out = append(out, fit(fmt.Sprintf(format, args...), width)) }

	head := "mcp-task-orchestrator status  " + s.Taken.Format("15:04:05")
	if interval > 0 {
		head += fmt.Sprintf("  every %s  Ctrl-C quits", interval)
	}
	add("%s", head)
	add("source %s", s.Source)
	if s.Err != "" {
		add("! %s", s.Err)
	}
	bar := barInner + max(0, width-80)
	for _, ws := range s.Workspaces {
		open := "pools open"
		switch {
		case ws.FromFiles:
			open = "read from its files"
		case !ws.Open:
			open = "pools not open"
		}
		add("")
		suffix := " (" + open + ")"
		add("project %s%s", fitLeft(ws.Root, width-len("project ")-len(suffix)), suffix)
		if ws.DB != nil {
			add("  %s", dbLine(*ws.DB))
		}
		add("%-*s %-*s %-*s %*s %*s %*s %*s %*s", colName, "POOL", colState, "STATE", bar+2, "USE",
			colCounts, "IN/IDLE/MAX", colWait, "WAIT", colTmo, "TMOUT", colAcq, "ACQS", colP99, "P99ms")
		for _, p := range ws.Pools {
			out = append(out, poolLines(p, width, bar)...)
		}
		if len(ws.Mirrors) > 0 {
			out = append(out, mirrorLines(ws.Mirrors, width)...)
		}
		if ws.FromFiles {
			out = append(out, processLines(ws, width)...)
		}
	}
	if len(s.Mirrors) > 0 {
		add("")
		out = append(out, mirrorLines(s.Mirrors, width)...)
	}
	if len(s.Workspaces) > 0 {
		add("")
		add("USE # busy - idle . free + overflow   WAIT callers waiting   TMOUT timeouts")
	}
	if s.Note != "" {
		add("")
		add("%s", s.Note)
	}
	return out
}

// poolLines is one pool's row, plus a line for its last error.
func poolLines(p tools.PoolView, width, bar int) []string {
	name := fit(p.Name, colName)
	state := fit(shortState(p.State), colState)
	if p.Total == 0 && p.Acquires == 0 && p.Note != "" {
		// Not open (or not configured): the note says why, in place of the numbers.
		return []string{fit(fmt.Sprintf("%-*s %-*s %s", colName, name, colState, state, p.Note), width)}
	}
	counts := fmt.Sprintf("%d/%d/%d", p.InUse, p.Idle, p.Max)
	if len(counts) > colCounts {
		counts = fmt.Sprintf("%d/%d", p.InUse, p.Max)
	}
	row := fmt.Sprintf("%-*s %-*s %s %*s %*s %*s %*s %*s", colName, name, colState, state, usageBar(p, bar),
		colCounts, fit(counts, colCounts), colWait, compact(int64(p.Waiting), colWait), colTmo, compact(p.Timeouts, colTmo),
		colAcq, compact(p.Acquires, colAcq), colP99, millis(p.AcquireWaitMs.P99, colP99))
	lines := []string{fit(row, width)}
	if p.LastError != "" {
		e := "  ! " + p.LastError
		if p.RetryAfterMs > 0 {
			e += fmt.Sprintf(" (retry in %.1fs)", p.RetryAfterMs/1000)
		}
		lines = append(lines, fit(e, width))
	}
	return lines
}

// usageBar draws [###---....]: '#' in use, '-' idle, '.' free up to max,
// '+' where connections in use pass max (overflow).
func usageBar(p tools.PoolView, cells int) string {
	scale := max(p.Max, p.InUse+p.Idle, 1)
	busy := cellsFor(p.InUse, scale, cells)
	idle := min(cellsFor(p.InUse+p.Idle, scale, cells)-busy, cells-busy)
	var b strings.Builder
	b.WriteByte('[')
	for i := range cells {
		switch {
		case i < busy && p.Max > 0 && i >= cellsFor(p.Max, scale, cells):
			b.WriteByte('+')
		case i < busy:
			b.WriteByte('#')
		case i < busy+idle:
			b.WriteByte('-')
		default:
			b.WriteByte('.')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// cellsFor rounds n/scale of cells up, so one connection in use is always visible.
func cellsFor(n, scale, cells int) int {
	if n <= 0 {
		return 0
	}
	return min(cells, int(math.Ceil(float64(n)*float64(cells)/float64(scale))))
}

func shortState(s string) string {
	switch s {
	case "not configured":
		return "no config"
	case "not opened":
		return "not open"
	}
	return s
}

// compact writes n in at most w characters (1234567 -> 1.2M).
func compact(n int64, w int) string {
	s := fmt.Sprint(n)
	if len(s) <= w {
		return s
	}
	div, suffix := 1e3, "k"
	switch {
	case n >= 1e9:
		div, suffix = 1e9, "G"
	case n >= 1e6:
		div, suffix = 1e6, "M"
	}
	for _, f := range []string{"%.1f", "%.0f"} {
		if s = fmt.Sprintf(f, float64(n)/div) + suffix; len(s) <= w {
			return s
		}
	}
	return strings.Repeat("9", w)
}

func millis(v float64, w int) string {
	for _, f := range []string{"%.2f", "%.1f", "%.0f"} {
		if s := fmt.Sprintf(f, v); len(s) <= w {
			return s
		}
	}
	return compact(int64(v), w)
}

func dbLine(f DBFacts) string {
	s := "tasks.db " + humanBytes(f.Bytes)
	if f.WALBytes > 0 {
		s += " + WAL " + humanBytes(f.WALBytes)
	}
	s += ", " + plural(f.Tasks, "task")
	var parts []string
	for _, st := range []string{"pending", "in_progress", "blocked", "completed", "failed", "cancelled"} {
		if n := f.ByStatus[st]; n > 0 {
			part := fmt.Sprintf("%d %s", n, strings.ReplaceAll(st, "_", " "))
			if st == "pending" {
				part += fmt.Sprintf(" (%d ready)", f.Ready)
			}
			parts = append(parts, part)
		}
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

// mirrorLines renders pool_status's "mirrors" entries without assuming more
// of their shape than a name, a state and fields whose names hold "lag".
func mirrorLines(ms []map[string]any, width int) []string {
	out := []string{fit(fmt.Sprintf("%-*s %-*s %s", colName, "MIRROR", colState, "STATE", "LAG"), width)}
	for _, m := range ms {
		name := ""
		for _, k := range []string{"name", "target", "mirror", "backend"} {
			if v, ok := m[k].(string); ok && v != "" {
				name = v
				break
			}
		}
		state, _ := m["state"].(string)
		var lag []string
		for _, k := range sortedMapKeys(m) {
			if strings.Contains(strings.ToLower(k), "lag") || k == "pending" || k == "backlog" {
				lag = append(lag, fmt.Sprintf("%s=%v", k, m[k]))
			}
		}
		line := fmt.Sprintf("%-*s %-*s %s", colName, fit(name, colName), colState, fit(state, colState), strings.Join(lag, " "))
		out = append(out, fit(line, width))
		if e, ok := m["last_error"].(string); ok && e != "" {
			out = append(out, fit("  ! "+e, width))
		}
	}
	return out
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fitLeft keeps the end of s (a path's last folders say most), starting with "…" when it cut.
func fitLeft(s string, w int) string {
	r := []rune(fit(s, len(s)+1)) // control characters dropped
	if len(r) <= w || w < 2 {
		return string(r)
	}
	return "…" + string(r[len(r)-w+1:])
}

// fit cuts s to at most w characters, ending with "…" when it cut, and drops
// control characters (a hostile error text must not move the cursor).
func fit(s string, w int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= w {
		return s
	}
	if w <= 1 {
		return string([]rune(s)[:w])
	}
	return string([]rune(s)[:w-1]) + "…"
}

// processLines lists the server processes using the project, which of them
// owns each managed server, and the files that were not trusted.
func processLines(ws WorkspaceStatus, width int) []string {
	add := func(out []string, format string, args ...any) []string {
		return append(out, fit(fmt.Sprintf(format, args...), width))
	}
	live := 0
	for _, p := range ws.Processes {
		if p.Live {
			live++
		}
	}
	out := add(nil, "")
	switch live {
	case 0:
		out = add(out, "server processes on this project: none running")
	default:
		out = add(out, "server processes on this project: %d running", live)
		out = add(out, "  %-8s %-9s %-20s %-22s %s", "PID", "OPENED", "TRANSPORT", "BACKENDS", "OWNS")
	}
	for _, p := range ws.Processes {
		if !p.Live {
			continue
		}
		opened := p.Opened
		if t, err := time.Parse(time.RFC3339, p.Opened); err == nil {
			opened = t.Local().Format("15:04:05")
		}
		owns := strings.Join(p.Owns, ",")
		if owns == "" {
			owns = "-"
		}
		out = add(out, "  %-8d %-9s %-20s %-22s %s", p.PID, fit(opened, 9), fit(p.Transport, 20), fit(strings.Join(p.Backends, ","), 22), owns)
	}
	for _, p := range ws.Processes {
		if !p.Live {
			out = add(out, "  pid %d: gone (%s)", p.PID, p.Gone)
		}
	}
	for _, m := range ws.ManagedServers {
		switch {
		case m.Ignored != "":
			out = add(out, "managed %s: announcement ignored: %s", m.Kind, m.Ignored)
		case m.OwnerAlive:
			out = add(out, "managed %s: pid %d on 127.0.0.1:%d, owned by server process %d", m.Kind, m.PID, m.Port, m.OwnerPID)
		default:
			out = add(out, "managed %s: pid %d on 127.0.0.1:%d; its owner (pid %d) has ended, the next process that needs it takes over", m.Kind, m.PID, m.Port, m.OwnerPID)
		}
	}
	for _, f := range ws.IgnoredProcessFiles {
		out = add(out, "  ignored %s: %s", f.File, f.Why)
	}
	return out
}
