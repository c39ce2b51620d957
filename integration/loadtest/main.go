// Command loadtest measures the HTTP transport under load (issue 5): the
// fairness of per-client limits against one hostile client, and pool
// exhaustion with 1,000 concurrent calls against a pool of 8.
//
// It builds nothing: give it a server binary (go build -o /tmp/mto .).
//
//	go run ./integration/loadtest -bin /tmp/mto -mode fairness
//	go run ./integration/loadtest -bin /tmp/mto -mode exhaustion
//
// Every simulated client connects from its own loopback address (a client
// without a token is its address); the hostile client runs in its own
// process (the same binary, -mode hostile). Fairness runs interleaved rounds
// of A (well-behaved clients alone) and B (with the hostile client), and with
// -control a C phase (hostile process connected, no calls) showing the noise
// floor; medians are reported. See docs/performance.md (g).
//
// Loopback only, bounded in calls and time; the server is killed at the end.
// It prints a summary and one machine-readable line per mode on stderr/stdout,
// and exits 1 when a goal fails.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

const protocol = "2025-11-25" // sessions tell token-less clients apart

type options struct {
	bin, mode          string
	duration, warmup   time.Duration
	clients            int
	thinkMin, thinkMax time.Duration
	hostileCalls       int
	hostileWorkers     int
	tasks              int
	sessions, inFlight int
	keep               bool
	rounds             int
	rate, maxConns     int
	serverCPUs         string
	goodCPUs           string
	hostileCPUs        string
	hostileNice        int
	control            bool
	// hostile child process (internal -mode hostile)
	base, src, ws, idList string
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "server binary (go build -o /tmp/mto .)")
	flag.StringVar(&o.mode, "mode", "fairness", "fairness or exhaustion")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "fairness: length of each phase")
	flag.IntVar(&o.rate, "rate", 600, "fairness: connection_rate_limit (requests per minute per client)")
	flag.IntVar(&o.maxConns, "max-conns", 4, "fairness: max_connections_per_client")
	flag.IntVar(&o.rounds, "rounds", 3, "fairness: rounds of (A without, B with the hostile client), interleaved; medians reported")
	flag.StringVar(&o.serverCPUs, "server-cpus", "", "taskset CPU list for the server (empty: not pinned)")
	flag.StringVar(&o.goodCPUs, "good-cpus", "", "taskset CPU list for this process, the well-behaved clients (empty: not pinned)")
	flag.StringVar(&o.hostileCPUs, "hostile-cpus", "", "taskset CPU list for the hostile client process (empty: not pinned)")
	flag.IntVar(&o.hostileNice, "hostile-nice", 0, "nice level of the hostile client process (e.g. 19 to approximate an attacker whose CPU is not this machine's)")
	flag.BoolVar(&o.control, "control", false, "fairness: also run a control phase per round (hostile process connected, no calls) to show the noise floor")
	flag.StringVar(&o.base, "base", "", "internal (-mode hostile): server URL")
	flag.StringVar(&o.src, "src", "", "internal (-mode hostile): source address")
	flag.StringVar(&o.ws, "workspace", "", "internal (-mode hostile): workspace")
	flag.StringVar(&o.idList, "ids", "", "internal (-mode hostile): task ids, comma-separated")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "fairness: unrecorded warm-up before phase A")
	flag.IntVar(&o.clients, "clients", 49, "fairness: well-behaved clients")
	flag.DurationVar(&o.thinkMin, "think-min", 100*time.Millisecond, "fairness: well-behaved think time, minimum")
	flag.DurationVar(&o.thinkMax, "think-max", 200*time.Millisecond, "fairness: well-behaved think time, maximum")
	flag.IntVar(&o.hostileCalls, "hostile-calls", 10000, "fairness: hostile client's call budget")
	flag.IntVar(&o.hostileWorkers, "hostile-workers", 32, "fairness: hostile client's concurrent goroutines")
	flag.IntVar(&o.tasks, "tasks", 200, "tasks seeded into the project")
	flag.IntVar(&o.sessions, "sessions", 100, "exhaustion: sessions")
	flag.IntVar(&o.inFlight, "in-flight", 10, "exhaustion: concurrent calls per session")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (server log) for inspection")
	flag.Parse()
	if o.bin == "" && o.mode != "hostile" {
		fmt.Fprintln(os.Stderr, "loadtest: -bin is required (go build -o /tmp/mto . in the repo root)")
		os.Exit(2)
	}
	var ok bool
	var err error
	switch o.mode {
	case "fairness":
		ok, err = fairness(o)
	case "exhaustion":
		ok, err = exhaustion(o)
	case "hostile":
		hostileMain(o)
		return
	default:
		err = fmt.Errorf("unknown -mode %q: use fairness or exhaustion", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	if !ok {
		fmt.Println("RESULT: FAIL")
		os.Exit(1)
	}
	fmt.Println("RESULT: PASS")
}

// ---------------------------------------------------------------- server

type srv struct {
	cmd     *exec.Cmd
	base    string
	dir     string
	project string
	logPath string
	keep    bool
}

func startServer(o options, cfg map[string]any) (*srv, error) {
	dir, err := os.MkdirTemp("", "mto-loadtest-")
	if err != nil {
		return nil, err
	}
	dir, _ = filepath.EvalSymlinks(dir)
	roots := filepath.Join(dir, "roots")
	project := filepath.Join(roots, "proj")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		return nil, err
	}
	cfgDir := filepath.Join(dir, "xdg", "task-orchestrator")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"--http", fmt.Sprintf("127.0.0.1:%d", port), "--allow-root", roots}
	cmd := exec.Command(o.bin, args...)
	if o.serverCPUs != "" {
		cmd = exec.Command("taskset", append([]string{"-c", o.serverCPUs, o.bin}, args...)...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"), "TASK_ORCHESTRATOR_WORKSPACE=")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	logf.Close()
	s := &srv{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, project: project, logPath: logPath, keep: o.keep}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(s.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("server did not become healthy in 20 s; its log:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *srv) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if s.keep {
		fmt.Println("kept:", s.dir)
		return
	}
	_ = os.RemoveAll(s.dir)
}

// metrics scrapes /metrics and returns the sum of each named family.
func (s *srv) metrics(names ...string) (map[string]float64, error) {
	res, err := http.Get(s.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("/metrics: status %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, n := range names {
			if line == n || strings.HasPrefix(line, n+" ") || strings.HasPrefix(line, n+"{") {
				f := strings.Fields(line)
				v, err := strconv.ParseFloat(f[len(f)-1], 64)
				if err == nil {
					out[n] += v
				}
			}
		}
	}
	return out, sc.Err()
}

// cpuSeconds is the CPU time (user+system) the server process has used.
func (s *srv) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses): utime is the
	// 14th field of the line, stime the 15th, in clock ticks (100 per second).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// rssKB reads VmRSS of the server process.
func (s *srv) rssKB() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return 0
}

// ---------------------------------------------------------------- clients

type mcpClient struct {
	c  *client.Client
	ht *http.Transport
}

// newClient connects from source address src (a loopback address; "" = any):
// a client without a token is identified by its address, so each simulated
// agent gets its own, as agents on separate machines would have.
func newClient(ctx context.Context, base, name, src string, conns int) (*mcpClient, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	ht := &http.Transport{DialContext: d.DialContext, MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
	tr, err := transport.NewStreamableHTTP(base+"/mcp", transport.WithHTTPBasicClient(&http.Client{Transport: ht}))
	if err != nil {
		return nil, err
	}
	c := client.NewClient(tr, client.WithProtocolVersion(protocol))
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	in := mcp.InitializeRequest{}
	in.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	in.Params.ProtocolVersion = protocol
	if _, err := c.Initialize(ctx, in); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("initialize %s: %w", name, err)
	}
	return &mcpClient{c: c, ht: ht}, nil
}

func (m *mcpClient) close() {
	_ = m.c.Close()
	m.ht.CloseIdleConnections()
}

func (m *mcpClient) call(ctx context.Context, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	return m.c.CallTool(ctx, req)
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}

// seed creates n tasks and returns their ids. Each seeder address creates
// at most 50, well inside one client's rate-limit burst.
func seed(ctx context.Context, s *srv, n int) ([]string, error) {
	ids := make([]string, 0, n)
	var c *mcpClient
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for i := range n {
		if i%50 == 0 {
			if c != nil {
				c.close()
			}
			var err error
			if c, err = newClient(ctx, s.base, "seeder", fmt.Sprintf("127.0.4.%d", 1+i/50%250), 2); err != nil {
				return nil, err
			}
		}
		w := words[i%len(words)]
		res, err := c.call(ctx, "task_create", map[string]any{
			"workspace":   s.project,
			"title":       fmt.Sprintf("%s task %d", w, i),
			"description": strings.Repeat(w+" lorem ipsum dolor sit amet ", 8),
			"labels":      []string{w},
		})
		if err != nil {
			return nil, fmt.Errorf("seeding task %d: %w", i, err)
		}
		if res.IsError {
			return nil, fmt.Errorf("seeding task %d: %s", i, resultText(res))
		}
		var out struct {
			Task struct {
				ID string `json:"id"`
			} `json:"task"`
		}
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &out); err != nil || out.Task.ID == "" {
			return nil, fmt.Errorf("seeding task %d: no id in %s", i, b)
		}
		ids = append(ids, out.Task.ID)
	}
	return ids, nil
}

// outcome classes of one call.
const (
	okCall       = "ok"
	throttled    = "throttled"     // HTTP 429 rate limit or the concurrency tool error
	refused      = "refused"       // blacklist 403
	limitTimeout = "limit_timeout" // pool timeout / busy tool error
	otherTool    = "other_tool_error"
	transportErr = "transport_error"
	hang         = "hang"
)

func classify(ctx context.Context, res *mcp.CallToolResult, err error) (string, string) {
	if err != nil {
		msg := err.Error()
		low := strings.ToLower(msg)
		switch {
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return hang, msg
		case strings.Contains(low, "rate limit"):
			return throttled, msg
		case strings.Contains(low, "refused after too many"):
			return refused, msg
		}
		return transportErr, msg
	}
	if !res.IsError {
		return okCall, ""
	}
	msg := resultText(res)
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "too many concurrent calls"):
		return throttled, msg
	case strings.Contains(low, "timeout"), strings.Contains(low, "timed out"), strings.Contains(low, "busy"),
		strings.Contains(low, "retry"), strings.Contains(low, "exhausted"), strings.Contains(low, "limit"):
		return limitTimeout, msg
	}
	return otherTool, msg
}

type tally struct {
	mu     sync.Mutex
	counts map[string]int
	sample map[string]string
}

func newTally() *tally { return &tally{counts: map[string]int{}, sample: map[string]string{}} }

func (t *tally) add(class, msg string) {
	t.mu.Lock()
	t.counts[class]++
	if _, ok := t.sample[class]; !ok && msg != "" {
		if len(msg) > 200 {
			msg = msg[:200]
		}
		t.sample[class] = msg
	}
	t.mu.Unlock()
}

func (t *tally) String() string {
	keys := make([]string, 0, len(t.counts))
	for k := range t.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, t.counts[k]))
	}
	return strings.Join(parts, " ")
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// waitAll waits for wg or the hard deadline; false means something hung.
func waitAll(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// ---------------------------------------------------------------- fairness

// Addresses: each well-behaved client has its own loopback address, and each
// round's hostile client a fresh one (the previous one is still blacklisted).
func goodAddr(i int) string    { return fmt.Sprintf("127.0.1.%d", 1+i%250) }
func hostileAddr(r int) string { return fmt.Sprintf("127.0.2.%d", 1+r%250) }
func burstAddr(i int) string   { return fmt.Sprintf("127.0.%d.%d", 3+i/250, 1+i%250) }

type phaseResult struct {
	lat      []time.Duration
	early    []time.Duration // calls started in the phase's first 2 s
	late     []time.Duration // the others
	good     *tally
	hostile  hostileReport
	finished bool
	// sampled from /metrics every 250 ms during the phase (all pools summed)
	maxInUse, maxWaiting float64
	serverCPU            float64 // seconds of server CPU during the phase
}

// hostileReport is what the hostile child process prints (JSON) on stdout.
type hostileReport struct {
	Counts map[string]int    `json:"counts"`
	Sample map[string]string `json:"sample"`
	WallMS int64             `json:"wall_ms"`
	Err    string            `json:"err,omitempty"`
}

type roundResult struct {
	a50, a99, b50, b99 time.Duration
	ratio              float64
	a, b               *phaseResult
	c                  *phaseResult // control, with -control
	c99                time.Duration
	cRatio             float64
}

func fairness(o options) (bool, error) {
	cfg := map[string]any{
		"security": map[string]any{
			"max_connections_per_client": o.maxConns,
			"connection_rate_limit":      o.rate,
			"blacklist_threshold":        50,
		},
	}
	if o.goodCPUs != "" {
		if out, err := exec.Command("taskset", "-a", "-p", "-c", o.goodCPUs, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			return false, fmt.Errorf("taskset -good-cpus %s: %v: %s", o.goodCPUs, err, out)
		}
	}
	s, err := startServer(o, cfg)
	if err != nil {
		return false, err
	}
	defer s.stop()
	ctx := context.Background()
	ids, err := seed(ctx, s, o.tasks)
	if err != nil {
		return false, err
	}
	fmt.Printf("fairness: server %s, %d tasks seeded, %d well-behaved clients, think %v-%v, limits %d/min %d concurrent, %d rounds of A (alone) and B (with the hostile client) of %v each, cpus=%d, pinning server=%q good=%q hostile=%q, hostile nice %d\n",
		s.base, len(ids), o.clients, o.thinkMin, o.thinkMax, o.rate, o.maxConns, o.rounds, o.duration, numCPU(), o.serverCPUs, o.goodCPUs, o.hostileCPUs, o.hostileNice)

	if o.warmup > 0 {
		if _, err := runPhase(ctx, o, s, ids, o.warmup, -1, 0); err != nil {
			return false, err
		}
	}
	var rounds []roundResult
	for r := range o.rounds {
		// Alternate the order (AB, BA, AB, ...) so a drift in the machine's
		// load does not always favour the same phase.
		// With -control, C (the hostile process started and connected but
		// making no call) measures how much two phases differ by noise alone.
		var a, b, c *phaseResult
		phases := []func() error{
			func() (err error) { a, err = runPhase(ctx, o, s, ids, o.duration, -1, 0); return },
			func() (err error) { b, err = runPhase(ctx, o, s, ids, o.duration, r, o.hostileCalls); return },
		}
		if o.control {
			phases = append(phases, func() (err error) { c, err = runPhase(ctx, o, s, ids, o.duration, 125+r, 0); return })
		}
		if r%2 == 1 {
			slices.Reverse(phases)
		}
		for _, run := range phases {
			if err := run(); err != nil {
				return false, err
			}
		}
		rr := roundResult{a: a, b: b, c: c, a50: pct(a.lat, .5), a99: pct(a.lat, .99), b50: pct(b.lat, .5), b99: pct(b.lat, .99)}
		rr.ratio = float64(rr.b99) / float64(max(rr.a99, 1))
		if c != nil {
			rr.c99 = pct(c.lat, .99)
			rr.cRatio = float64(rr.c99) / float64(max(rr.a99, 1))
			fmt.Printf("round %d control: C (hostile process connected, 0 calls) calls=%d p99=%.2fms, C/A p99 ratio %.2f, server CPU %.2fs, outcomes %s\n",
				r+1, len(c.lat), ms(rr.c99), rr.cRatio, c.serverCPU, c.good)
		}
		rounds = append(rounds, rr)
		h := b.hostile.Counts
		fmt.Printf("round %d: A calls=%d p50=%.2fms p99=%.2fms | B calls=%d p50=%.2fms p99=%.2fms | p99 ratio %.2f | p99 first 2 s A %.2fms B %.2fms, after A %.2fms B %.2fms | server CPU A %.2fs B %.2fs | pool in use max A %v B %v, waiting for a connection max A %v B %v | hostile ok=%d throttled=%d refused=%d other=%d in %dms | well-behaved A %s, B %s\n",
			r+1, len(a.lat), ms(rr.a50), ms(rr.a99), len(b.lat), ms(rr.b50), ms(rr.b99), rr.ratio,
			ms(pct(a.early, .99)), ms(pct(b.early, .99)), ms(pct(a.late, .99)), ms(pct(b.late, .99)),
			a.serverCPU, b.serverCPU, a.maxInUse, b.maxInUse, a.maxWaiting, b.maxWaiting,
			h[okCall], h[throttled], h[refused], h[transportErr]+h[otherTool]+h[hang]+h[limitTimeout], b.hostile.WallMS, a.good, b.good)
		for k, v := range b.hostile.Sample {
			fmt.Printf("  hostile %s e.g.: %s\n", k, v)
		}
		for _, p := range []*phaseResult{a, b} {
			for k, v := range p.good.sample {
				fmt.Printf("  well-behaved %s e.g.: %s\n", k, v)
			}
		}
		if b.hostile.Err != "" {
			fmt.Printf("  hostile process: %s\n", b.hostile.Err)
		}
	}

	// Pool in use back to 0, goroutines.
	var inUse float64 = -1
	var gor float64
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m, err := s.metrics("task_orchestrator_pool_connections_in_use", "go_goroutines")
		if err == nil {
			inUse, gor = m["task_orchestrator_pool_connections_in_use"], m["go_goroutines"]
			if inUse == 0 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	rej, _ := s.metrics("task_orchestrator_limit_rejections_total")
	logText, _ := os.ReadFile(s.logPath)
	blacklistedLines := strings.Count(string(logText), "client blacklisted")
	fmt.Printf("server: pool in use at end=%v goroutines=%v blacklist log lines=%d (rounds %d) limit_rejections_total=%v\n",
		inUse, gor, blacklistedLines, o.rounds, rej["task_orchestrator_limit_rejections_total"])

	med := func(f func(roundResult) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	ratio := med(func(r roundResult) float64 { return r.ratio })
	okHostile, okFinish, okGood := true, true, true
	var goodErrs, hOK, hThr, hRef, hOther int
	for _, r := range rounds {
		h := r.b.hostile.Counts
		okHostile = okHostile && h[throttled] > 0 && h[refused] > 0
		okFinish = okFinish && r.a.finished && r.b.finished
		for _, p := range []*phaseResult{r.a, r.b} {
			for k, n := range p.good.counts {
				if k != okCall {
					goodErrs += n
					okGood = false
				}
			}
		}
		hOK, hThr, hRef = hOK+h[okCall], hThr+h[throttled], hRef+h[refused]
		hOther += h[transportErr] + h[otherTool] + h[hang] + h[limitTimeout]
	}
	okPool := inUse == 0
	okRatio := ratio <= 2
	fmt.Printf("fairness rounds=%d median_p50_a_ms=%.2f median_p99_a_ms=%.2f median_p50_b_ms=%.2f median_p99_b_ms=%.2f median_p99_ratio=%.2f good_errors=%d hostile_ok=%d hostile_throttled=%d hostile_refused=%d hostile_other=%d deadlock=%v pool_in_use_end=%v\n",
		len(rounds), med(func(r roundResult) float64 { return ms(r.a50) }), med(func(r roundResult) float64 { return ms(r.a99) }),
		med(func(r roundResult) float64 { return ms(r.b50) }), med(func(r roundResult) float64 { return ms(r.b99) }), ratio,
		goodErrs, hOK, hThr, hRef, hOther, !okFinish, inUse)
	if o.control {
		fmt.Printf("control median_p99_c_ms=%.2f median_p99_ratio_c_over_a=%.2f (the same comparison with a hostile process that makes no call: the noise floor)\n",
			med(func(r roundResult) float64 { return ms(r.c99) }), med(func(r roundResult) float64 { return r.cRatio }))
	}
	fmt.Printf("goals: median_p99_ratio<=2:%v hostile_throttled_then_refused:%v no_deadlock:%v pool_in_use_0:%v well_behaved_all_ok:%v\n",
		okRatio, okHostile, okFinish, okPool, okGood)
	return okRatio && okHostile && okFinish && okPool && okGood, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// runPhase runs the well-behaved clients for dur; with hostileRound >= 0 the
// hostile client runs beside them, in its own process (as it would be on
// its own machine; its CPU use is still on this machine's cores).
func runPhase(ctx context.Context, o options, s *srv, ids []string, dur time.Duration, hostileRound, hostileCalls int) (*phaseResult, error) {
	good := make([]*mcpClient, o.clients)
	for i := range good {
		c, err := newClient(ctx, s.base, fmt.Sprintf("good-%d", i), goodAddr(i), 2)
		if err != nil {
			return nil, err
		}
		good[i] = c
	}
	r := &phaseResult{good: newTally()}
	var hostileDone chan struct{}
	if hostileRound >= 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		hids := ids[:min(len(ids), o.hostileWorkers)]
		args := []string{"-mode", "hostile", "-bin", "-", "-base", s.base, "-src", hostileAddr(hostileRound), "-workspace", s.project,
			"-ids", strings.Join(hids, ","), "-duration", dur.String(),
			"-hostile-calls", strconv.Itoa(hostileCalls), "-hostile-workers", strconv.Itoa(o.hostileWorkers)}
		argv := append([]string{exe}, args...)
		if o.hostileCPUs != "" {
			argv = append([]string{"taskset", "-c", o.hostileCPUs}, argv...)
		}
		if o.hostileNice != 0 {
			argv = append([]string{"nice", "-n", strconv.Itoa(o.hostileNice)}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		hostileDone = make(chan struct{})
		go func() {
			defer close(hostileDone)
			if err := json.NewDecoder(out).Decode(&r.hostile); err != nil {
				r.hostile.Err = "no report: " + err.Error()
			}
			if err := cmd.Wait(); err != nil && r.hostile.Err == "" {
				r.hostile.Err = err.Error()
			}
		}()
		// Let the hostile process connect before the clock starts: its
		// first requests are the heaviest.
		time.Sleep(50 * time.Millisecond)
	}
	stopSample := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-t.C:
			}
			if m, err := s.metrics("task_orchestrator_pool_connections_in_use", "task_orchestrator_pool_waiting"); err == nil {
				r.maxInUse = max(r.maxInUse, m["task_orchestrator_pool_connections_in_use"])
				r.maxWaiting = max(r.maxWaiting, m["task_orchestrator_pool_waiting"])
			}
		}
	}()
	cpu0 := s.cpuSeconds()
	var mu sync.Mutex
	var wg sync.WaitGroup
	end := time.Now().Add(dur)
	for i, c := range good {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), uint64(hostileRound+7)))
			var lat, early, late []time.Duration
			for time.Now().Before(end) {
				var name string
				var args map[string]any
				if rng.IntN(5) == 0 {
					name, args = "task_list", map[string]any{"workspace": s.project, "limit": 20, "label": words[rng.IntN(len(words))]}
				} else {
					name, args = "task_get", map[string]any{"workspace": s.project, "id": ids[rng.IntN(len(ids))]}
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				res, err := c.call(cctx, name, args)
				d := time.Since(t0)
				class, msg := classify(cctx, res, err)
				cancel()
				r.good.add(class, msg)
				lat = append(lat, d)
				if t0.Before(end.Add(2*time.Second - dur)) {
					early = append(early, d)
				} else {
					late = append(late, d)
				}
				think := o.thinkMin + time.Duration(rng.Int64N(int64(o.thinkMax-o.thinkMin)+1))
				time.Sleep(think)
			}
			mu.Lock()
			r.lat = append(r.lat, lat...)
			r.early = append(r.early, early...)
			r.late = append(r.late, late...)
			mu.Unlock()
		}()
	}
	r.finished = waitAll(&wg, dur+45*time.Second)
	r.serverCPU = s.cpuSeconds() - cpu0
	close(stopSample)
	<-sampled
	if hostileDone != nil {
		select {
		case <-hostileDone:
		case <-time.After(dur + 45*time.Second):
			r.finished = false
		}
	}
	if !r.finished {
		return r, nil // leave the hung clients; the server is killed by the caller
	}
	for _, c := range good {
		c.close()
	}
	return r, nil
}

// hostileMain is the hostile client (-mode hostile, started by runPhase): one
// session from one address, no delays, hostileWorkers goroutines sharing a
// budget of hostileCalls, half of them slow text searches that hold pool
// connections. It prints a hostileReport as JSON on stdout.
func hostileMain(o options) {
	rep := hostileReport{Counts: map[string]int{}, Sample: map[string]string{}}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	ctx := context.Background()
	ids := strings.Split(o.idList, ",")
	c, err := newClient(ctx, o.base, "hostile", o.src, o.hostileWorkers)
	if err != nil {
		rep.Err = err.Error()
		return
	}
	defer c.close()
	t := newTally()
	var wg sync.WaitGroup
	var budget atomic.Int64
	budget.Store(int64(o.hostileCalls))
	start := time.Now()
	end := start.Add(o.duration)
	for w := range o.hostileWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && budget.Add(-1) >= 0 {
				var name string
				var args map[string]any
				if w%2 == 0 {
					name, args = "task_list", map[string]any{"workspace": o.ws, "limit": 200, "text": words[w%len(words)]}
				} else {
					name, args = "task_get", map[string]any{"workspace": o.ws, "id": ids[w%len(ids)]}
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				res, err := c.call(cctx, name, args)
				class, msg := classify(cctx, res, err)
				cancel()
				t.add(class, msg)
			}
		}()
	}
	wg.Wait()
	rep.WallMS = time.Since(start).Milliseconds()
	rep.Counts, rep.Sample = t.counts, t.sample
}

// ---------------------------------------------------------------- exhaustion

func exhaustion(o options) (bool, error) {
	cfg := map[string]any{
		"database_pools": map[string]any{
			"operational": map[string]any{"max_connections": 8, "max_overflow": 0, "pool_timeout": 2},
		},
		"security": map[string]any{
			"max_connections_per_client": o.inFlight,
			"connection_rate_limit":      1000000,
			"blacklist_threshold":        1000000,
		},
	}
	s, err := startServer(o, cfg)
	if err != nil {
		return false, err
	}
	defer s.stop()
	ctx := context.Background()
	ids, err := seed(ctx, s, o.tasks)
	if err != nil {
		return false, err
	}
	clients := make([]*mcpClient, o.sessions)
	for i := range clients {
		c, err := newClient(ctx, s.base, fmt.Sprintf("burst-%d", i), burstAddr(i), o.inFlight)
		if err != nil {
			return false, err
		}
		clients[i] = c
	}
	_ = ids
	total := o.sessions * o.inFlight
	base, _ := s.metrics("go_goroutines")
	baseG := base["go_goroutines"]
	baseRSS := s.rssKB()
	fmt.Printf("exhaustion: server %s, pool operational max 8 overflow 0 timeout 2 s, %d sessions x %d in flight = %d calls, cpus=%d\n",
		s.base, o.sessions, o.inFlight, total, numCPU())

	// Sampler.
	var peakRSS, peakG atomic.Int64
	stopSample := make(chan struct{})
	var sampleWG sync.WaitGroup
	sampleWG.Add(1)
	go func() {
		defer sampleWG.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if r := int64(s.rssKB()); r > peakRSS.Load() {
				peakRSS.Store(r)
			}
			if m, err := s.metrics("go_goroutines"); err == nil {
				if g := int64(m["go_goroutines"]); g > peakG.Load() {
					peakG.Store(g)
				}
			}
			select {
			case <-stopSample:
				return
			case <-t.C:
			}
		}
	}()

	t := newTally()
	var lat []time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i, c := range clients {
		for j := range o.inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGate
				w := words[(i+j)%len(words)]
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				t0 := time.Now()
				res, err := c.call(cctx, "task_list", map[string]any{"workspace": s.project, "limit": 200, "text": w})
				d := time.Since(t0)
				class, msg := classify(cctx, res, err)
				t.add(class, msg)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
	}
	burstStart := time.Now()
	close(startGate)
	finished := waitAll(&wg, 45*time.Second)
	burst := time.Since(burstStart)
	time.Sleep(300 * time.Millisecond)
	close(stopSample)
	sampleWG.Wait()
	if finished {
		for _, c := range clients {
			c.close()
		}
	}
	// After the burst: wait for goroutines to settle.
	var afterG float64
	var inUse float64 = -1
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m, err := s.metrics("go_goroutines", "task_orchestrator_pool_connections_in_use")
		if err == nil {
			afterG, inUse = m["go_goroutines"], m["task_orchestrator_pool_connections_in_use"]
			if afterG <= baseG+20 && inUse == 0 {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	afterRSS := s.rssKB()
	pm, _ := s.metrics("task_orchestrator_pool_timeouts_total", "task_orchestrator_limit_rejections_total")

	c := t.counts
	failures := c[otherTool] + c[transportErr] + c[hang]
	fmt.Printf("burst: %d calls in %v; outcomes: %s; latency p50=%v p99=%v max=%v\n",
		len(lat), burst.Round(time.Millisecond), t, pct(lat, .5).Round(time.Millisecond), pct(lat, .99).Round(time.Millisecond), pct(lat, 1).Round(time.Millisecond))
	for k, v := range t.sample {
		fmt.Printf("  %s e.g.: %s\n", k, v)
	}
	fmt.Printf("server: RSS before=%d KiB peak=%d KiB after=%d KiB; goroutines before=%v peak=%d after=%v; pool in use after=%v; pool_timeouts_total=%v limit_rejections_total=%v\n",
		baseRSS, peakRSS.Load(), afterRSS, baseG, peakG.Load(), afterG, inUse,
		pm["task_orchestrator_pool_timeouts_total"], pm["task_orchestrator_limit_rejections_total"])
	okAll := finished && failures == 0 && len(lat) == total
	okG := afterG <= baseG+20
	okPool := inUse == 0
	fmt.Printf("exhaustion calls=%d ok=%d limit_timeout=%d throttled=%d refused=%d failures=%d burst_ms=%d peak_rss_kib=%d rss_before_kib=%d rss_after_kib=%d peak_goroutines=%d goroutines_before=%v goroutines_after=%v pool_in_use_after=%v\n",
		total, c[okCall], c[limitTimeout], c[throttled], c[refused], failures, burst.Milliseconds(),
		peakRSS.Load(), baseRSS, afterRSS, peakG.Load(), baseG, afterG, inUse)
	fmt.Printf("goals: every_call_ok_or_clear_limit:%v goroutines_back_down:%v pool_in_use_0:%v\n", okAll, okG, okPool)
	return okAll && okG && okPool, nil
}
