package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secretToken = "s3cr3t-token-hunter2-0123456789abcdef"

func TestEveryProtocolVersionInitializesAndCallsATool(t *testing.T) {
	h := start(t, transport.Options{})
	for _, v := range []string{mcp.ProtocolVersion20260728, mcp.ProtocolVersion20251125, mcp.ProtocolVersion20250618} {
		t.Run(v, func(t *testing.T) {
			c := newClient(t, h, v, nil)
			if got := c.ProtocolVersion(); got != v {
				t.Fatalf("negotiated %q, want %q", got, v)
			}
			text, isErr := call(t, c, "echo", map[string]any{"text": "hi"})
			if isErr {
				t.Fatalf("echo failed: %s", text)
			}
			// The tool sees the client id the transport attached: without
			// a token, the peer address on every version.
			if want := "hi|ip:127.0.0.1"; text != want {
				t.Fatalf("echo = %q, want prefix %q", text, want)
			}
		})
	}
}

func TestForeignHostAndOriginAreRefusedLoopbackPasses(t *testing.T) {
	h := start(t, transport.Options{AllowedHosts: []string{"mcp.internal"}, AllowedOrigins: []string{"https://app.example"}})
	hc := httpClient(t)
	cases := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"evil host", map[string]string{"Host": "evil.example:1234"}, http.StatusForbidden},
		{"rebound name", map[string]string{"Host": "attacker.localhost.evil"}, http.StatusForbidden},
		{"evil origin", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"loopback origin with other scheme", map[string]string{"Origin": "file://localhost"}, http.StatusForbidden},
		{"loopback ip host", nil, http.StatusOK},
		{"localhost host and origin", map[string]string{"Host": "localhost:9", "Origin": "http://localhost:3000"}, http.StatusOK},
		{"ipv6 loopback", map[string]string{"Host": "[::1]:80", "Origin": "https://[::1]:8443"}, http.StatusOK},
		{"allowed host", map[string]string{"Host": "mcp.internal:443"}, http.StatusOK},
		{"allowed origin", map[string]string{"Origin": "https://app.example"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"MCP-Protocol-Version": mcp.ProtocolVersion20250618}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, hdr)
			if tc.want == http.StatusForbidden {
				if r.status != http.StatusForbidden || !strings.Contains(r.body, "not allowed") {
					t.Fatalf("status %d body %s, want 403 not allowed", r.status, r.body)
				}
				return
			}
			if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized {
				t.Fatalf("status %d body %s, want it to reach MCP", r.status, r.body)
			}
		})
	}
	// Operator endpoints are behind the same Host check (they show workspace paths).
	if r := do(t, hc, http.MethodGet, h.url+"/metrics", "", map[string]string{"Host": "evil.example"}); r.status != http.StatusForbidden {
		t.Fatalf("/metrics with a foreign Host: %d", r.status)
	}
}

func TestBearerTokenIsRequiredAndComparedInConstantTime(t *testing.T) {
	lengths, restore := transport.WatchTokenCompares()
	defer restore()
	h := start(t, transport.Options{AuthToken: workspace.Secret(secretToken)})
	hc := httpClient(t)
	for name, hdr := range map[string]map[string]string{
		"none":          {},
		"wrong":         {"Authorization": "Bearer nope"},
		"long prefix":   {"Authorization": "Bearer " + secretToken + "x"},
		"wrong scheme":  {"Authorization": "Basic " + secretToken},
		"wrong header":  {"X-Api-Key": secretToken},
		"token in body": {"Authorization": ""},
	} {
		r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, hdr)
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: status %d, WWW-Authenticate %q; want 401 Bearer", name, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
	c := newClient(t, h, mcp.ProtocolVersion20251125, map[string]string{"Authorization": "Bearer " + secretToken})
	text, _ := call(t, c, "echo", map[string]any{"text": "x"})
	if !strings.HasPrefix(text, "x|token:") || len(text) != len("x|token:")+8 {
		t.Fatalf("client id %q, want token:<8 hex>", text)
	}
	if r := do(t, hc, http.MethodGet, h.url+"/metrics", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", r.status)
	}
	if r := do(t, hc, http.MethodGet, h.url+"/healthz", "", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz without the token: %d, want 200", r.status)
	}
	got := lengths()
	if len(got) == 0 {
		t.Fatal("the constant-time compare was never called")
	}
	for _, l := range got {
		if l != [2]int{32, 32} { // SHA-256 digests: the token's length does not show
			t.Fatalf("compared lengths %v, want digests of 32 bytes", l)
		}
	}
	h.stop()
	if strings.Contains(h.logs.String(), secretToken) {
		t.Fatal("the token appears in the logs")
	}
	if !strings.Contains(h.logs.String(), "token_fingerprint=") {
		t.Fatalf("start-up log lacks the token fingerprint:\n%s", h.logs.String())
	}
}

func TestNonLoopbackBindNeedsAToken(t *testing.T) {
	ms := newMCP(newGate())
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:80", "example.com:80"} {
		_, err := transport.New(ms, transport.Options{Addr: addr})
		if !errors.Is(err, transport.ErrNonLoopbackWithoutToken) || !strings.Contains(err.Error(), "auth token") {
			t.Fatalf("%s without a token: %v, want ErrNonLoopbackWithoutToken", addr, err)
		}
		if _, err := transport.New(ms, transport.Options{Addr: addr, AuthToken: "t"}); err != nil {
			t.Fatalf("%s with a token: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if _, err := transport.New(ms, transport.Options{Addr: addr}); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
}

func TestOversizedBodyGets413(t *testing.T) {
	h := start(t, transport.Options{MaxBodyBytes: 1024})
	hc := httpClient(t)
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("a", 2048) + `"}}`
	r := do(t, hc, http.MethodPost, h.url+"/mcp", big, nil)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "exceeds 1024 bytes") {
		t.Fatalf("status %d body %s, want 413", r.status, r.body)
	}
	// Without a Content-Length (chunked) the limit holds too.
	req, _ := http.NewRequest(http.MethodPost, h.url+"/mcp", struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength == 0 || res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status %d, want 413", res.StatusCode)
	}
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status == http.StatusRequestEntityTooLarge {
		t.Fatal("a small body was refused")
	}
}

// clock is a test clock the server reads instead of time.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestRateLimitAnswers429WithRetryAfterAndRecovers(t *testing.T) {
	// 18 per minute: a burst of 3 (10 s worth), then one token every 3.33 s.
	h := start(t, transport.Options{Security: workspace.Security{ConnectionRateLimit: 18}})
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	transport.SetClock(h.srv, clk.now)
	a := httpClientFrom(t, "127.0.0.2")
	for i := range 3 {
		if r := do(t, a, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d of 3 refused", i+1)
		}
	}
	r := do(t, a, http.MethodPost, h.url+"/mcp", pingBody, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "4" ||
		!strings.Contains(r.body, "at most 18 requests per minute") || !strings.Contains(r.body, `"retry_after_seconds":4`) {
		t.Fatalf("4th request: status %d Retry-After %q body %s; want 429, 4 s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// Another client (another address) has its own bucket.
	if r := do(t, httpClientFrom(t, "127.0.0.3"), http.MethodPost, h.url+"/mcp", pingBody, nil); r.status == http.StatusTooManyRequests {
		t.Fatal("client b was limited by client a's requests")
	}
	clk.advance(4 * time.Second)
	if r := do(t, a, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status == http.StatusTooManyRequests {
		t.Fatal("client a still limited after the refill")
	}
	if r := do(t, a, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status != http.StatusTooManyRequests {
		t.Fatal("one refilled token allowed two requests")
	}
}

// A client without a token that sends a new Mcp-Session-Id with every
// request is still one client (its address): same bucket. Being fast is
// answered with 429s, never with a blacklisting.
func TestRotatingSessionIDsDoNotEscapeTheLimits(t *testing.T) {
	h := start(t, transport.Options{RefusalDelay: -1, Security: workspace.Security{ConnectionRateLimit: 18, BlacklistThreshold: 3}})
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	transport.SetClock(h.srv, clk.now)
	hc := httpClientFrom(t, "127.0.0.4")
	var statuses []int
	for i := range 9 {
		r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, map[string]string{"Mcp-Session-Id": fmt.Sprintf("rotated-%d", i)})
		statuses = append(statuses, r.status)
	}
	// 3 in the burst, then 429s: six rate refusals, past the threshold of
	// 3, and still no 403.
	want := []int{0, 0, 0, 429, 429, 429, 429, 429, 429}
	for i, st := range statuses {
		if (want[i] == 0 && (st == 429 || st == 403)) || (want[i] != 0 && st != want[i]) {
			t.Fatalf("statuses %v, want 3 passed, then %v", statuses, want[3:])
		}
	}
	if strings.Contains(h.logs.String(), "client blacklisted") {
		t.Fatalf("a fast client was blacklisted:\n%s", h.logs.String())
	}
	// Another address has its own bucket.
	if r := do(t, httpClientFrom(t, "127.0.0.5"), http.MethodPost, h.url+"/mcp", pingBody, nil); r.status == 429 || r.status == 403 {
		t.Fatalf("a neighbour was refused: %d %s", r.status, r.body)
	}
}

func TestFailedAuthenticationsBlacklistTheAddressLoggedOnceAndExpire(t *testing.T) {
	h := start(t, transport.Options{AuthToken: secretToken, Security: workspace.Security{BlacklistThreshold: 3}})
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	transport.SetClock(h.srv, clk.now)
	hc := httpClient(t)
	// Foreign Origins are refused but are not strikes: a hostile page in
	// the user's browser must not get the user's own loopback clients
	// blacklisted.
	for range 5 {
		if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, map[string]string{"Origin": "http://evil.example"}); r.status != http.StatusForbidden {
			t.Fatalf("evil origin: %d", r.status)
		}
	}
	wrong := map[string]string{"Authorization": "Bearer guess-0123456789abcdef"}
	for range 3 {
		if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, wrong); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", r.status)
		}
	}
	for range 4 { // refused now, and the log line is not repeated
		t0 := time.Now()
		r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, wrong)
		if r.status != http.StatusForbidden || r.header.Get("Retry-After") != "300" || !strings.Contains(r.body, "too many rejected requests") {
			t.Fatalf("blacklisted client: status %d Retry-After %q body %s", r.status, r.header.Get("Retry-After"), r.body)
		}
		// Held back (a lower bound: a timer never fires early), and the
		// connection is closed so the next knock costs a new one.
		if held := time.Since(t0); held < transport.DefaultRefusalDelay {
			t.Fatalf("the refusal was answered after %v, want it held %v", held, transport.DefaultRefusalDelay)
		}
		if !r.closed {
			t.Fatalf("the refusal keeps the connection open: %v", r.header)
		}
	}
	if n := strings.Count(h.logs.String(), "client blacklisted"); n != 1 || !strings.Contains(h.logs.String(), "client=ip:127.0.0.1") {
		t.Fatalf("blacklist logged %d times (want once, for the address):\n%s", n, h.logs.String())
	}
	// The blacklisted client's refusals are logged at debug level only (the
	// warn line above says it all); the Origin refusals at info.
	var info, debug int
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, "http request") && strings.Contains(line, "status=403") {
			switch {
			case strings.Contains(line, "level=INFO"):
				info++
			case strings.Contains(line, "level=DEBUG"):
				debug++
			}
		}
	}
	if info != 5 || debug != 4 {
		t.Fatalf("403 request lines: %d at info, %d at debug; want 5 and 4:\n%s", info, debug, h.logs.String())
	}
	clk.advance(5*time.Minute + time.Second)
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, wrong); r.status != http.StatusUnauthorized {
		t.Fatalf("still refused after the cool-down: %d %s", r.status, r.body)
	}
}

func TestAuthenticatedClientIsNotLockedOutByAHostileNeighbour(t *testing.T) {
	h := start(t, transport.Options{AuthToken: secretToken, Security: workspace.Security{BlacklistThreshold: 2}})
	hc := httpClient(t)
	for range 3 { // a token-guessing neighbour on the same address
		do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, map[string]string{"Authorization": "Bearer guess"})
	}
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "too many rejected") {
		t.Fatalf("unauthenticated request from the blacklisted address: %d %s", r.status, r.body)
	}
	c := newClient(t, h, mcp.ProtocolVersion20251125, map[string]string{"Authorization": "Bearer " + secretToken})
	if text, isErr := call(t, c, "echo", nil); isErr {
		t.Fatalf("token holder refused: %s", text)
	}
}

func TestConcurrencyLimitPerClientAnswersAToolError(t *testing.T) {
	const limit = 2
	h := start(t, transport.Options{Security: workspace.Security{MaxConnectionsPerClient: limit}})
	a := newClientFrom(t, h, mcp.ProtocolVersion20251125, nil, "127.0.0.6")
	b := newClientFrom(t, h, mcp.ProtocolVersion20251125, nil, "127.0.0.7")

	type result struct {
		text  string
		isErr bool
		err   error
	}
	results := make(chan result, limit+1)
	var wg sync.WaitGroup
	callAsync := func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := mcp.CallToolRequest{}
		req.Params.Name = "slow"
		res, err := a.CallTool(ctx, req)
		if err != nil {
			results <- result{err: err}
			return
		}
		results <- result{text: mcp.GetTextFromContent(res.Content[0]), isErr: res.IsError}
	}
	wg.Add(limit)
	for range limit {
		go callAsync()
	}
	for range limit {
		<-h.gate.entered
	}
	wg.Add(1)
	go callAsync() // the (limit+1)th: no slot; answered within ~1s
	r := <-results
	if r.err != nil || !r.isErr || r.text != "too many concurrent calls for this client (limit 2); retry after they finish" {
		t.Fatalf("extra call: %+v, want the concurrency tool error", r)
	}
	// Another client is not affected while a's slots are taken.
	if text, isErr := call(t, b, "echo", map[string]any{"text": "b"}); isErr || text != "b|ip:127.0.0.7" {
		t.Fatalf("client b: %q (error %v)", text, isErr)
	}
	close(h.gate.open)
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || r.isErr || r.text != "done" {
			t.Fatalf("held call: %+v, want done", r)
		}
	}
	// Slots are given back: a can call again.
	if text, isErr := call(t, a, "echo", nil); isErr {
		t.Fatalf("client a after release: %s", text)
	}
	metrics := do(t, httpClient(t), http.MethodGet, h.url+"/metrics", "", nil).body
	if !strings.Contains(metrics, `task_orchestrator_limit_rejections_total{agent="anonymous",reason="concurrency"} 1`) {
		t.Fatal("concurrency rejection not counted")
	}
}

func TestOperatorEndpoints(t *testing.T) {
	pools := []pooling.Metrics{
		{Name: "reader", Backend: "sqlite", Workspace: "/p/one", State: pooling.StateHealthy, Total: 4, InUse: 3, Idle: 1, Max: 8,
			Acquires: 42, Timeouts: 2, AcquireWaitP50: 2 * time.Millisecond, AcquireWaitP99: 250 * time.Millisecond},
		{Name: "http", Backend: "chroma", Workspace: "/p/one", State: pooling.StateDown, LastError: "connection refused", RetryAfter: 3 * time.Second},
		{Name: "http", Backend: "chroma", Workspace: "/p/one", State: pooling.StateDown}, // duplicate: must not break the scrape
	}
	h := start(t, transport.Options{Pools: func() []pooling.Metrics { return pools }})
	hc := httpClient(t)
	if r := do(t, hc, http.MethodGet, h.url+"/healthz", "", nil); r.status != 200 || r.body != "ok" {
		t.Fatalf("/healthz: %d %q", r.status, r.body)
	}
	r := do(t, hc, http.MethodGet, h.url+"/readyz", "", nil)
	if r.status != 200 || !strings.Contains(r.body, `"status":"ready"`) || !strings.Contains(r.body, `"state":"down"`) ||
		!strings.Contains(r.body, `"workspace":"/p/one"`) {
		t.Fatalf("/readyz: %d %s", r.status, r.body)
	}
	c := newClient(t, h, mcp.ProtocolVersion20260728, nil)
	call(t, c, "echo", nil)
	call(t, c, "fails", nil)
	m := do(t, hc, http.MethodGet, h.url+"/metrics", "", nil)
	if m.status != 200 {
		t.Fatalf("/metrics: %d %s", m.status, m.body)
	}
	for _, want := range []string{
		`task_orchestrator_pool_connections_in_use{backend="sqlite",pool="reader",workspace="/p/one"} 3`,
		`task_orchestrator_pool_max_connections{backend="sqlite",pool="reader",workspace="/p/one"} 8`,
		`task_orchestrator_pool_acquires_total{backend="sqlite",pool="reader",workspace="/p/one"} 42`,
		`task_orchestrator_pool_timeouts_total{backend="sqlite",pool="reader",workspace="/p/one"} 2`,
		`task_orchestrator_pool_acquire_wait_p99_seconds{backend="sqlite",pool="reader",workspace="/p/one"} 0.25`,
		`task_orchestrator_pool_state{backend="chroma",pool="http",state="down",workspace="/p/one"} 1`,
		`task_orchestrator_pool_state{backend="chroma",pool="http",state="healthy",workspace="/p/one"} 0`,
		`task_orchestrator_pool_retry_after_seconds{backend="chroma",pool="http",workspace="/p/one"} 3`,
		`task_orchestrator_tool_calls_total{agent="anonymous",outcome="ok",tool="echo"} 1`,
		`task_orchestrator_tool_calls_total{agent="anonymous",outcome="tool_error",tool="fails"} 1`,
		`task_orchestrator_tool_call_duration_seconds_count{tool="echo"} 1`,
		`task_orchestrator_http_requests_total{code="200",path="/healthz"} 1`,
		`task_orchestrator_limit_rejections_total{agent="anonymous",reason="rate"} 0`,
		`task_orchestrator_http_sessions 0`,
		`task_orchestrator_auth_tokens_reloads_total{result="error"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A routine request logs at debug level: a busy client sends several a second.
	if !strings.Contains(h.logs.String(), `level=DEBUG msg="http request" method=POST path=/mcp status=200`) ||
		!strings.Contains(h.logs.String(), "client=ip:127.0.0.1") {
		t.Errorf("request log lines missing:\n%s", h.logs.String())
	}
}

func TestGracefulShutdownFinishesInFlightCallsAndRefusesNewOnes(t *testing.T) {
	h := start(t, transport.Options{ShutdownTimeout: 10 * time.Second})
	c := newClient(t, h, mcp.ProtocolVersion20251125, nil)
	var got atomic.Value
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req := mcp.CallToolRequest{}
		req.Params.Name = "slow"
		res, err := c.CallTool(ctx, req)
		if err != nil {
			got.Store(err.Error())
			return
		}
		got.Store(mcp.GetTextFromContent(res.Content[0]))
	}()
	<-h.gate.entered

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()

	// New connections are refused once the listener closes.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := fresh.Get(h.url + "/healthz")
		if err != nil {
			break
		}
		res.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted 5s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("ListenAndServe returned (%v) while a call was in flight", err)
	default:
	}
	close(h.gate.open)
	<-done
	if v := got.Load(); v != "done" {
		t.Fatalf("in-flight call ended with %v, want done", v)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
}

func TestReadyzAndNewCallsAre503WhileShuttingDown(t *testing.T) {
	h := start(t, transport.Options{ShutdownDrain: time.Second})
	hc := httpClient(t)
	if r := do(t, hc, http.MethodGet, h.url+"/readyz", "", nil); r.status != 200 {
		t.Fatalf("/readyz before shutdown: %d", r.status)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	deadline := time.Now().Add(5 * time.Second)
	for do(t, hc, http.MethodGet, h.url+"/readyz", "", nil).status != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 503 5s after shutdown began")
		}
		time.Sleep(time.Millisecond)
	}
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, nil); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") {
		t.Fatalf("/mcp during the drain: %d %s", r.status, r.body)
	}
	if r := do(t, hc, http.MethodGet, h.url+"/healthz", "", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz during the drain: %d", r.status)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func TestClientTableIsBounded(t *testing.T) {
	h := start(t, transport.Options{MaxClients: 8, Security: workspace.Security{ConnectionRateLimit: 100}})
	hc := httpClient(t)
	for i := range 50 {
		do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, map[string]string{"Mcp-Session-Id": "s" + string(rune('A'+i))})
	}
	if n := transport.ClientCount(h.srv); n > 8 {
		t.Fatalf("%d clients remembered, cap 8", n)
	}
	transport.SweepClients(h.srv, time.Now().Add(2*time.Minute))
	if n := transport.ClientCount(h.srv); n != 0 {
		t.Fatalf("%d clients left after sweeping idle ones", n)
	}
}

func TestTokenNeverAppearsInLogsOrResponses(t *testing.T) {
	h := start(t, transport.Options{AuthToken: secretToken, MaxBodyBytes: 512,
		Security: workspace.Security{ConnectionRateLimit: 5, BlacklistThreshold: 50, MaxConnectionsPerClient: 1}})
	hc := httpClient(t)
	var bodies strings.Builder
	auth := map[string]string{"Authorization": "Bearer " + secretToken}
	for _, hdr := range []map[string]string{
		{"Authorization": "Bearer " + secretToken + "-wrong"},
		{"Authorization": "Bearer " + secretToken, "Host": "evil.example"},
		{"Authorization": "Bearer " + secretToken, "Origin": "http://evil.example"},
		auth, auth, auth, auth, auth, auth, // the sixth hits the rate limit
	} {
		r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, hdr)
		bodies.WriteString(r.body)
		for k, v := range r.header {
			bodies.WriteString(k + strings.Join(v, ""))
		}
	}
	r := do(t, hc, http.MethodPost, h.url+"/mcp", strings.Repeat("x", 1024), auth)
	bodies.WriteString(r.body)
	for _, p := range []string{"/readyz", "/metrics", "/healthz"} {
		bodies.WriteString(do(t, hc, http.MethodGet, h.url+p, "", auth).body)
	}
	h.stop()
	for what, s := range map[string]string{"logs": h.logs.String(), "responses": bodies.String()} {
		if strings.Contains(s, secretToken) || strings.Contains(s, "hunter2") {
			t.Errorf("the token appears in the %s", what)
		}
	}
	if !strings.Contains(bodies.String(), "rate limit exceeded") {
		t.Error("the rate limit was not reached; the test did not exercise that path")
	}
}
