// Command loadtest measures the HTTP transport under load (issue 5): the
// fairness of per-client limits against one hostile client, and pool
// exhaustion with 1,000 concurrent calls against a pool of 8.
//
// It builds nothing: give it a server binary (go build -o /tmp/mto .).
//
//	go run ./integration/loadtest -bin /tmp/mto -mode fairness
//	go run ./integration/loadtest -bin /tmp/mto -mode exhaustion
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
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "", "server binary (go build -o /tmp/mto .)")
	flag.StringVar(&o.mode, "mode", "fairness", "fairness or exhaustion")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "fairness: length of each phase")
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
	if o.bin == "" {
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
	cmd := exec.Command(o.bin, "--http", fmt.Sprintf("127.0.0.1:%d", port), "--allow-root", roots)
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

func newClient(ctx context.Context, base, name string, conns int) (*mcpClient, error) {
	ht := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second}
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

// seed creates n tasks and returns their ids.
func seed(ctx context.Context, s *srv, n int) ([]string, error) {
	c, err := newClient(ctx, s.base, "seeder", 2)
	if err != nil {
		return nil, err
	}
	defer c.close()
	ids := make([]string, 0, n)
	for i := range n {
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

type phaseResult struct {
	lat       []time.Duration
	good      *tally
	hostile   *tally
	finished  bool
	wallHosts time.Duration
}

func fairness(o options) (bool, error) {
	cfg := map[string]any{
		"security": map[string]any{
			"max_connections_per_client": 4,
			"connection_rate_limit":      600,
			"blacklist_threshold":        50,
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
	fmt.Printf("fairness: server %s, %d tasks seeded, %d well-behaved clients, think %v-%v, phases of %v, cpus=%d\n",
		s.base, len(ids), o.clients, o.thinkMin, o.thinkMax, o.duration, numCPU())

	if o.warmup > 0 {
		if _, err := runPhase(ctx, o, s, ids, o.warmup, false); err != nil {
			return false, err
		}
	}
	a, err := runPhase(ctx, o, s, ids, o.duration, false)
	if err != nil {
		return false, err
	}
	b, err := runPhase(ctx, o, s, ids, o.duration, true)
	if err != nil {
		return false, err
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

	a50, a99 := pct(a.lat, .5), pct(a.lat, .99)
	b50, b99 := pct(b.lat, .5), pct(b.lat, .99)
	ratio := float64(b99) / float64(max(a99, 1))
	h := b.hostile.counts
	fmt.Printf("phase A (49 well-behaved): calls=%d p50=%v p99=%v outcomes: %s\n", len(a.lat), a50, a99, a.good)
	fmt.Printf("phase B (49 + 1 hostile):  calls=%d p50=%v p99=%v outcomes: %s\n", len(b.lat), b50, b99, b.good)
	fmt.Printf("hostile: %s (ran %v)\n", b.hostile, b.wallHosts.Round(time.Millisecond))
	for k, v := range b.hostile.sample {
		fmt.Printf("  hostile %s e.g.: %s\n", k, v)
	}
	for k, v := range b.good.sample {
		fmt.Printf("  well-behaved %s e.g.: %s\n", k, v)
	}
	fmt.Printf("server: pool in use at end=%v goroutines=%v blacklist log lines=%d limit_rejections_total=%v\n",
		inUse, gor, blacklistedLines, rej["task_orchestrator_limit_rejections_total"])

	goodBad := func(t *tally) int { return len(t.counts) - boolInt(t.counts[okCall] > 0) }
	okRatio := ratio <= 2
	okHostile := h[throttled] > 0 && h[refused] > 0
	okFinish := a.finished && b.finished
	okPool := inUse == 0
	okGood := goodBad(a.good) == 0 && goodBad(b.good) == 0
	fmt.Printf("fairness p50_a_ms=%.2f p99_a_ms=%.2f p50_b_ms=%.2f p99_b_ms=%.2f p99_ratio=%.2f good_calls_a=%d good_calls_b=%d good_errors_b=%d hostile_ok=%d hostile_throttled=%d hostile_refused=%d hostile_other=%d deadlock=%v pool_in_use_end=%v\n",
		ms(a50), ms(a99), ms(b50), ms(b99), ratio, len(a.lat), len(b.lat), len(b.lat)-b.good.counts[okCall],
		h[okCall], h[throttled], h[refused], h[transportErr]+h[otherTool]+h[hang]+h[limitTimeout], !okFinish, inUse)
	fmt.Printf("goals: p99_ratio<=2:%v hostile_throttled_then_refused:%v no_deadlock:%v pool_in_use_0:%v well_behaved_all_ok:%v\n",
		okRatio, okHostile, okFinish, okPool, okGood)
	return okRatio && okHostile && okFinish && okPool && okGood, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func runPhase(ctx context.Context, o options, s *srv, ids []string, dur time.Duration, withHostile bool) (*phaseResult, error) {
	good := make([]*mcpClient, o.clients)
	for i := range good {
		c, err := newClient(ctx, s.base, fmt.Sprintf("good-%d", i), 2)
		if err != nil {
			return nil, err
		}
		good[i] = c
	}
	var hostile *mcpClient
	if withHostile {
		c, err := newClient(ctx, s.base, "hostile", o.hostileWorkers)
		if err != nil {
			return nil, err
		}
		hostile = c
	}
	r := &phaseResult{good: newTally(), hostile: newTally()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(dur)
	for i, c := range good {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var lat []time.Duration
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
				think := o.thinkMin + time.Duration(rng.Int64N(int64(o.thinkMax-o.thinkMin)+1))
				time.Sleep(think)
			}
			mu.Lock()
			r.lat = append(r.lat, lat...)
			mu.Unlock()
		}()
	}
	var hostileWG sync.WaitGroup
	if hostile != nil {
		var budget atomic.Int64
		budget.Store(int64(o.hostileCalls))
		for w := range o.hostileWorkers {
			wg.Add(1)
			hostileWG.Add(1)
			go func() {
				defer wg.Done()
				defer hostileWG.Done()
				for time.Now().Before(end) && budget.Add(-1) >= 0 {
					var name string
					var args map[string]any
					if w%2 == 0 {
						// slow: a full page of a text search, to hold a connection
						name, args = "task_list", map[string]any{"workspace": s.project, "limit": 200, "text": words[w%len(words)]}
					} else {
						name, args = "task_get", map[string]any{"workspace": s.project, "id": ids[w%len(ids)]}
					}
					cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					res, err := hostile.call(cctx, name, args)
					class, msg := classify(cctx, res, err)
					cancel()
					r.hostile.add(class, msg)
				}
			}()
		}
		go func() { hostileWG.Wait(); r.wallHosts = time.Since(start) }()
	}
	r.finished = waitAll(&wg, dur+45*time.Second)
	if !r.finished {
		return r, nil // leave the hung clients; the server is killed by the caller
	}
	for _, c := range good {
		c.close()
	}
	if hostile != nil {
		hostileWG.Wait()
		hostile.close()
	}
	return r, nil
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
		c, err := newClient(ctx, s.base, fmt.Sprintf("burst-%d", i), o.inFlight)
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
