package integration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// A project's .task_orchestrator/configs/config.json is written by whoever
// wrote the repository. These tests put hostile ones under a real server and
// check that each call on such a project answers with a clear, small tool
// error (or succeeds with settings inside their bounds), that the session
// stays open, and that another project on the same server is unaffected.

// maxToolError is the most a config error may weigh when it reaches the client.
const maxToolError = 4 << 10

// hostileProject makes a project whose config file holds content.
func hostileProject(t testing.TB, content []byte) string {
	t.Helper()
	proj := newProject(t)
	dir := filepath.Join(proj, ".task_orchestrator", "configs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".task_orchestrator", ".task_orchestrator/configs"} {
		if err := os.Chmod(filepath.Join(proj, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if content != nil {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return proj
}

// manyKeys is a JSON object of at most size bytes, as many as fit, of
// distinct unknown keys (dup: the same key over and over).
func manyKeys(size int, dup bool) []byte {
	const head, end = `{"database_pools": {"vector": {`, `"max_overflow": 1}}}`
	var b strings.Builder
	b.WriteString(head)
	for i := 0; ; i++ {
		member := fmt.Sprintf(`"unknown_%d":%d,`, i, i)
		if dup {
			member = `"max_connections":5,`
		}
		if b.Len()+len(member)+len(end) > size {
			break
		}
		b.WriteString(member)
	}
	b.WriteString(end)
	return []byte(b.String())
}

// callTool calls a tool with a deadline, failing t (not the test that
// started the server: subtests share one) on a transport error.
func callTool(t testing.TB, p *proc, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := p.c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: transport error: %v\nstderr:\n%s", name, err, tail(p.stderr.String(), 2000))
	}
	return res
}

// callOnProject calls task_list on proj: a hang is a failure, not a stuck test.
func callOnProject(t testing.TB, p *proc, proj string) (isError bool, msg string) {
	t.Helper()
	res := callTool(t, p, "task_list", map[string]any{"workspace": proj})
	return res.IsError, text(res)
}

// goodProjectServes checks that the good project still answers, with its one task.
func goodProjectServes(t testing.TB, p *proc, good string) {
	t.Helper()
	res := callTool(t, p, "task_list", map[string]any{"workspace": good})
	if res.IsError {
		t.Fatalf("the good project failed: %s", text(res))
	}
	var out listOut
	decode(t, res, &out)
	if len(out.Tasks) != 1 || out.Tasks[0].Title != "still here" {
		t.Fatalf("the good project lists %+v, want its one task", out.Tasks)
	}
}

func startWithGoodProject(t testing.TB) (*proc, string) {
	t.Helper()
	good := newProject(t)
	p := start(t, procOpts{dir: good})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p.ok(ctx, "task_create", map[string]any{"workspace": good, "title": "still here"}, nil)
	return p, good
}

func TestHostileProjectConfigsGetASmallClearErrorAndTheSessionStaysOpen(t *testing.T) {
	p, good := startWithGoodProject(t)
	const file = ".task_orchestrator/configs/config.json: "
	deep := []byte(`{"database_pools": {"vector": {"x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}}`)
	cases := []struct {
		name    string
		content []byte
		setup   func(t *testing.T, proj string) // instead of content
		want    string
	}{
		{"1 MiB of unknown keys", manyKeys(1<<20, false), nil, "bytes, over the 64 KiB limit for a project config"},
		{"256 KiB of unknown keys", manyKeys(256<<10, false), nil, "bytes, over the 64 KiB limit for a project config"},
		{"52k duplicate keys", manyKeys(1<<20, true), nil, "bytes, over the 64 KiB limit for a project config"},
		{"64 KiB of unknown keys", manyKeys(60<<10, false), nil, "has more than 256 keys"},
		{"64 KiB of duplicate keys", manyKeys(60<<10, true), nil, "has more than 256 keys"},
		{"20,000 levels deep", deep, nil, "nests objects or arrays more than 8 levels deep here"},
		{"health check every nanosecond", []byte(`{"database_pools": {"operational": {"health_check_interval": 1e-9}}}`), nil,
			"database_pools.operational.health_check_interval = 1e-09: must be 0 (off) or between 1 and 86400 seconds (line 1, column 37)"},
		{"1000 connections", []byte(`{"database_pools": {"operational": {"min_connections": 1000, "max_connections": 1000}}}`), nil,
			"database_pools.operational.max_connections = 1000: must be between 1 and 32 (the ceiling server.max_project_connections sets in the global config)"},
		{"a number too large for a float", []byte(`{"database_pools": {"operational": {"pool_timeout": 1e400}}}`), nil,
			"database_pools.operational.pool_timeout: must be a number of seconds in the setting's range, not the number 1e400"},
		{"a FIFO", nil, func(t *testing.T, proj string) {
			if err := syscall.Mkfifo(filepath.Join(proj, ".task_orchestrator", "configs", "config.json"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is a named pipe (FIFO), not a regular file"},
		{"a symlink", nil, func(t *testing.T, proj string) {
			target := filepath.Join(t.TempDir(), "elsewhere.json")
			if err := os.WriteFile(target, []byte(`{"database_pools": {"operational": {"max_connections": 2}}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(proj, ".task_orchestrator", "configs", "config.json")); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link; a project config must be a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proj := hostileProject(t, c.content)
			if c.setup != nil {
				c.setup(t, proj)
			}
			for call := range 2 { // the second answer comes from the remembered outcome
				isErr, msg := callOnProject(t, p, proj)
				if !isErr {
					t.Fatalf("call %d: the hostile config was accepted: %.300s", call, msg)
				}
				if len(msg) > maxToolError {
					t.Fatalf("call %d: the error is %d bytes, over %d: %.300s…", call, len(msg), maxToolError, msg)
				}
				if !strings.Contains(msg, file) || !strings.Contains(msg, c.want) {
					t.Fatalf("call %d: error\n%s\nshould name %s and say %q", call, msg, strings.TrimSuffix(file, ": "), c.want)
				}
				if strings.Contains(msg, proj) || strings.Contains(msg, "internal error") {
					t.Fatalf("call %d: error names the absolute path or is not the reason: %s", call, msg)
				}
			}
			goodProjectServes(t, p, good)
		})
	}
}

// fuzzConfig is one seeded hostile project config.
type fuzzConfig struct {
	kind    string
	content []byte
	special string // "fifo", "symlink", "dir": no content
}

var poolKeys = []string{"enabled", "min_connections", "max_connections", "max_overflow", "pool_pre_ping", "pool_recycle", "pool_timeout",
	"pool_reset_on_return", "pool_use_lifo", "idle_timeout", "health_check_interval", "leak_detection_threshold"}

// randNumber is a number as JSON text, from the interesting edges and at random.
func randNumber(r *rand.Rand) string {
	edges := []string{"0", "-0", "-1", "1", "1e-9", "0.5", "0.999", "1.0", "31", "32", "33", "1000", "1001", "3600", "3601", "86400",
		"86401", "604800", "1e300", "-1e300", "1e400", "9223372036854775807", "9223372036854775808", "99999999999999999999999",
		"1e30", "2.5e-324", "4.9e-324", "1.7976931348623157e308", "123456789.123456789", "1" + strings.Repeat("0", 400)}
	switch r.IntN(4) {
	case 0:
		return edges[r.IntN(len(edges))]
	case 1:
		return strconv.Itoa(r.IntN(2000) - 100)
	case 2:
		return strconv.FormatFloat(math.Pow(10, r.Float64()*40-20)*float64(1-2*r.IntN(2)), 'g', -1, 64)
	}
	return strconv.FormatFloat(r.Float64()*100, 'f', r.IntN(6), 64)
}

// randValue is any JSON value, nested at most depth more levels.
func randValue(r *rand.Rand, depth int) string {
	if depth <= 0 {
		return randNumber(r)
	}
	switch r.IntN(9) {
	case 0, 1, 2:
		return randNumber(r)
	case 3:
		return []string{"true", "false", "null", `"ten"`, `""`, `"NaN"`, `"Infinity"`, `"\u0000\ud800"`}[r.IntN(8)]
	case 4:
		var items []string
		for range r.IntN(5) {
			items = append(items, randValue(r, depth-1))
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	var members []string
	for range r.IntN(6) {
		members = append(members, strconv.Quote(randKey(r))+":"+randValue(r, depth-1))
	}
	return "{" + strings.Join(members, ",") + "}"
}

func randKey(r *rand.Rand) string {
	known := append([]string{"database_pools", "operational", "vector", "graph", "server", "backends", "security",
		"max_project_connections", "neo4j_uri", "Max_Connections", "max_conections"}, poolKeys...)
	if r.IntN(3) > 0 {
		return known[r.IntN(len(known))]
	}
	return fmt.Sprintf("k%x", r.Uint32())
}

// padTo grows a document to about size bytes with one of several fillers.
func padTo(r *rand.Rand, doc string, size int) string {
	if len(doc) >= size {
		return doc
	}
	var b strings.Builder
	b.Grow(size + 64)
	switch r.IntN(4) {
	case 0: // whitespace after a valid document
		b.WriteString(doc)
		b.WriteString(strings.Repeat(" \n\t", (size-len(doc))/3+1))
	case 1: // unknown keys
		b.WriteString(`{"database_pools": {"graph": {`)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, `"u%d": %s, `, i, randNumber(r))
		}
		b.WriteString(`"max_overflow": 1}}, "x": ` + doc + `}`)
	case 2: // duplicate keys
		b.WriteString(`{"database_pools": {"operational": {`)
		for b.Len() < size {
			b.WriteString(`"health_check_interval": ` + randNumber(r) + `, `)
		}
		b.WriteString(`"enabled": true}}}`)
	default: // one long string
		b.WriteString(`{"database_pools": {"vector": {"` + strings.Repeat("a", size) + `": 1}}}`)
	}
	return b.String()
}

// newFuzzConfig draws case i of the seeded fuzz.
func newFuzzConfig(r *rand.Rand) fuzzConfig {
	pools := func(value func(key string) string, every bool) string {
		var ps []string
		for _, pool := range []string{"operational", "vector", "graph"} {
			var kv []string
			for _, k := range poolKeys {
				if every || r.IntN(3) > 0 {
					kv = append(kv, strconv.Quote(k)+": "+value(k))
				}
			}
			ps = append(ps, strconv.Quote(pool)+": {"+strings.Join(kv, ", ")+"}")
		}
		return `{"database_pools": {` + strings.Join(ps, ", ") + `}}`
	}
	numbers := func(k string) string {
		switch k {
		case "enabled", "pool_pre_ping", "pool_reset_on_return", "pool_use_lifo":
			return []string{"true", "false", "1", "null"}[r.IntN(4)]
		}
		return randNumber(r)
	}
	switch n := r.IntN(100); {
	case n < 30: // random numbers in every setting
		return fuzzConfig{kind: "numbers", content: []byte(pools(numbers, false))}
	case n < 40: // valid but extreme: the edges of every range
		edge := func(k string) string {
			switch k {
			case "enabled":
				return []string{"true", "true", "true", "false"}[r.IntN(4)]
			case "pool_pre_ping", "pool_reset_on_return", "pool_use_lifo":
				return []string{"true", "false"}[r.IntN(2)]
			case "min_connections":
				return []string{"0", "16"}[r.IntN(2)]
			case "max_connections":
				return []string{"16", "32"}[r.IntN(2)]
			case "max_overflow":
				return "0"
			case "pool_timeout":
				return []string{"1", "3600"}[r.IntN(2)]
			}
			return []string{"0", "1", "86400", "1.5"}[r.IntN(4)]
		}
		return fuzzConfig{kind: "extreme", content: []byte(pools(edge, true))}
	case n < 65: // random JSON shapes
		return fuzzConfig{kind: "shape", content: []byte(randValue(r, 2+r.IntN(10)))}
	case n < 75: // random shapes, broken off
		v := randValue(r, 2+r.IntN(6))
		return fuzzConfig{kind: "truncated", content: []byte(v[:r.IntN(len(v)+1)])}
	case n < 82: // deep
		d := 5 + r.IntN(5000)
		return fuzzConfig{kind: "deep", content: []byte(strings.Repeat(`{"database_pools":`, d) + "1" + strings.Repeat("}", d))}
	case n < 97: // big: up to 10 MiB
		size := 1 << (10 + r.IntN(14)) // 1 KiB .. 8 MiB
		size += r.IntN(size)
		size = min(size, 10<<20)
		return fuzzConfig{kind: fmt.Sprintf("big(%d)", size), content: []byte(padTo(r, pools(numbers, false), size))}
	}
	return fuzzConfig{kind: "special", special: []string{"fifo", "symlink", "dir"}[r.IntN(3)]}
}

// withinBounds checks the operational pool a project was opened with.
func withinBounds(op map[string]any) string {
	num := func(k string) float64 { f, _ := op[k].(float64); return f }
	minC, maxC, over := num("min_connections"), num("max_connections"), num("max_overflow")
	if minC < 0 || minC > maxC || maxC < 1 || over < 0 || maxC+over > 32 {
		return fmt.Sprintf("pool sizes min %v max %v overflow %v are outside 0 <= min <= max, max + overflow <= 32", minC, maxC, over)
	}
	if t := num("pool_timeout"); t < 1 || t > 3600 {
		return fmt.Sprintf("pool_timeout %v outside 1..3600", t)
	}
	for _, k := range []string{"pool_recycle", "idle_timeout", "health_check_interval", "leak_detection_threshold"} {
		if v := num(k); v != 0 && (v < 1 || v > 86400) {
			return fmt.Sprintf("%s %v is neither 0 nor within 1..86400", k, v)
		}
	}
	return ""
}

// TestHostileProjectConfigFuzz runs seeded hostile configs (HOSTILE_CONFIG_CASES,
// default 200; HOSTILE_CONFIG_SEED, default 11) through one server: every call
// on such a project answers with an error of at most 4 KiB or succeeds with its
// settings inside their bounds, and the good project on the same server keeps
// answering.
func TestHostileProjectConfigFuzz(t *testing.T) {
	cases, seed := 200, uint64(11)
	if v := os.Getenv("HOSTILE_CONFIG_CASES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("HOSTILE_CONFIG_CASES=%q: %v", v, err)
		}
		cases = n
	}
	if v := os.Getenv("HOSTILE_CONFIG_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HOSTILE_CONFIG_SEED=%q: %v", v, err)
		}
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 11))
	p, good := startWithGoodProject(t)
	scratch := t.TempDir() // one project folder at a time: 10 MiB files are not kept
	kinds := map[string][2]int{}
	largest := 0
	for i := range cases {
		fc := newFuzzConfig(r)
		proj := filepath.Join(scratch, fmt.Sprintf("p%d", i))
		if err := os.MkdirAll(filepath.Join(proj, ".git"), 0o700); err != nil {
			t.Fatal(err)
		}
		cfgDir := filepath.Join(proj, ".task_orchestrator", "configs")
		if err := os.MkdirAll(cfgDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(proj, ".task_orchestrator"), 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(cfgDir, "config.json")
		var err error
		switch fc.special {
		case "":
			err = os.WriteFile(path, fc.content, 0o600)
		case "fifo":
			err = syscall.Mkfifo(path, 0o600)
		case "symlink":
			err = os.Symlink("/etc/passwd", path)
		case "dir":
			err = os.Mkdir(path, 0o700)
		}
		if err != nil {
			t.Fatal(err)
		}
		kind := strings.SplitN(fc.kind, "(", 2)[0]
		for call := range 2 {
			isErr, msg := callOnProject(t, p, proj)
			if call == 0 {
				k := kinds[kind]
				if isErr {
					k[1]++
				} else {
					k[0]++
				}
				kinds[kind] = k
			}
			largest = max(largest, len(msg))
			switch {
			case isErr && len(msg) > maxToolError:
				t.Fatalf("case %d (%s): a %d-byte error: %.300s…", i, fc.kind, len(msg), msg)
			case isErr && strings.Contains(msg, "internal error"):
				t.Fatalf("case %d (%s): not a reason: %s\nstderr:\n%s", i, fc.kind, msg, tail(p.stderr.String(), 2000))
			case isErr && !strings.Contains(msg, ".task_orchestrator/configs/config.json"):
				t.Fatalf("case %d (%s): the error does not name the config file: %s", i, fc.kind, msg)
			case !isErr:
				var info struct {
					Operational map[string]any `json:"operational_pool"`
				}
				res := callTool(t, p, "workspace_info", map[string]any{"workspace": proj})
				if res.IsError {
					t.Fatalf("case %d (%s): workspace_info failed: %s", i, fc.kind, text(res))
				}
				decode(t, res, &info)
				if why := withinBounds(info.Operational); why != "" {
					t.Fatalf("case %d (%s): accepted with %s:\n%.2000s", i, fc.kind, why, fc.content)
				}
			}
		}
		if i%10 == 9 || i == cases-1 {
			goodProjectServes(t, p, good)
		}
		if err := os.RemoveAll(proj); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d cases, seed %d; per kind [accepted refused]: %v; largest answer %d bytes", cases, seed, kinds, largest)
}

// procCPU is the server's user+system CPU time so far, in clock ticks, and its open fds.
func procCPU(t testing.TB, pid int) (ticks int, fds int) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return utime + stime, len(ents)
}

// TestHostileConfigFigures measures, for the report (HOSTILE_CONFIG_MEASURE=1;
// it asserts nothing about time): seconds per call and bytes per error for the
// big configs, and the server's idle CPU over 10 s and its open fds after a
// call on a project with a 1e-9 health check or 1000 connections.
func TestHostileConfigFigures(t *testing.T) {
	if os.Getenv("HOSTILE_CONFIG_MEASURE") == "" {
		t.Skip("set HOSTILE_CONFIG_MEASURE=1 to measure")
	}
	for _, c := range []struct {
		name    string
		content []byte
	}{
		{"1 MiB unknown keys", manyKeys(1<<20, false)},
		{"256 KiB unknown keys", manyKeys(256<<10, false)},
		{"52k duplicate keys (1 MiB)", manyKeys(1<<20, true)},
		{"60 KiB unknown keys", manyKeys(60<<10, false)},
	} {
		p := start(t, procOpts{dir: newProject(t)})
		proj := hostileProject(t, c.content)
		for call := range 3 {
			began := time.Now()
			isErr, msg := callOnProject(t, p, proj)
			t.Logf("%s (%d bytes): call %d: %.3f s, error=%v, %d bytes", c.name, len(c.content), call+1, time.Since(began).Seconds(), isErr, len(msg))
		}
		p.close()
	}
	for _, c := range []struct{ name, content string }{
		{"health_check_interval 1e-9", `{"database_pools": {"operational": {"health_check_interval": 1e-9}}}`},
		{"health_check_interval 1 (valid extreme)", `{"database_pools": {"operational": {"health_check_interval": 1}}}`},
		{"min = max = 1000 connections", `{"database_pools": {"operational": {"min_connections": 1000, "max_connections": 1000}}}`},
		{"min = max = 32 connections (valid extreme)", `{"database_pools": {"operational": {"min_connections": 32, "max_connections": 32}}}`},
	} {
		p := start(t, procOpts{dir: newProject(t)})
		proj := hostileProject(t, []byte(c.content))
		isErr, msg := callOnProject(t, p, proj)
		time.Sleep(time.Second) // let the pool fill and settle
		pid := p.cmd.Process.Pid
		before, _ := procCPU(t, pid)
		time.Sleep(10 * time.Second)
		after, fds := procCPU(t, pid)
		t.Logf("%s: call error=%v (%.160s); idle 10 s: %d ticks of CPU (%.2f cores); %d open fds", c.name, isErr, strings.ReplaceAll(msg, "\n", " "), after-before,
			float64(after-before)/100/10, fds)
		p.close()
	}
}
