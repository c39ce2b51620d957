package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// Limits that punish the right client (issue 11): an authenticated client
// that is fast or asks for something refused is throttled or answered, never
// blacklisted; each agent of --auth-tokens-file has its own limits; idle
// HTTP sessions expire; an oversized JSON-RPC message is refused while it is
// read, over HTTP and over stdio.

const limitsToken = "limits-test-token-0123456789abcdef"

func initializeBody(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"limits-test","version":"1"}}}`, id)
}

// postMCP sends one JSON-RPC POST to /mcp with headers and returns the status,
// the response headers and the body.
func postMCP(t testing.TB, hc *http.Client, base, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /mcp: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func bearerHeader(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// scrapeMetrics scrapes /metrics with token.
func scrapeMetrics(t testing.TB, hc *http.Client, base, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// sampleValue is the value of the sample line starting with series ("" when absent).
func sampleValue(metrics, series string) string {
	for _, l := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// peakRSSMiB is a process's peak resident set (VmHWM) in MiB.
func peakRSSMiB(t testing.TB, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// connectWithToken initializes an MCP client over HTTP sending token.
func connectWithToken(t testing.TB, base, token, protocol string) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(base+"/mcp", transport.WithHTTPHeaders(bearerHeader(token)))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(protocol))
	t.Cleanup(func() { _ = c.Close() })
	ctx := ctxT(t)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = protocol
	init.Params.ClientInfo = mcp.Implementation{Name: "limits-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

func allowRootWithProject(t testing.TB) (root, project string) {
	t.Helper()
	root, _ = filepath.EvalSymlinks(t.TempDir())
	project = filepath.Join(root, "proj")
	if err := os.MkdirAll(filepath.Join(project, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, project
}

// 300 valid initialize requests in a burst: some are throttled (429 with
// Retry-After), none is refused as a blacklisted client (403), and the
// token is served again as soon as its bucket refills.
func TestLimitsInitializeBurstIsThrottledNeverLocksOutTheToken(t *testing.T) {
	root, _ := allowRootWithProject(t)
	h := startHTTPServer(t, procOpts{}, root, limitsToken) // default limits: 600/min, blacklist after 20
	hc := &http.Client{Timeout: 30 * time.Second}
	counts := map[int]int{}
	retryAfter, lockedFor := "", ""
	for i := range 300 {
		st, hdr, body := postMCP(t, hc, h.base, initializeBody(i+1), bearerHeader(limitsToken))
		counts[st]++
		if st == http.StatusForbidden && lockedFor == "" {
			lockedFor = hdr.Get("Retry-After") // what main answered: the token refused for this long
		}
		if st == http.StatusTooManyRequests {
			retryAfter = hdr.Get("Retry-After")
			if retryAfter == "" || !strings.Contains(body, "rate limit exceeded") {
				t.Fatalf("429 without Retry-After or explanation: %q %s", retryAfter, body)
			}
		}
	}
	t.Logf("burst of 300 initialize: %v (status: count), last 429's Retry-After %s s, first 403's Retry-After %q s", counts, retryAfter, lockedFor)
	if counts[http.StatusForbidden] != 0 || counts[http.StatusTooManyRequests] == 0 || counts[200]+counts[429] != 300 {
		t.Fatalf("burst statuses %v: want only 200s and some 429s, no 403", counts)
	}
	start := time.Now()
	for {
		st, _, body := postMCP(t, hc, h.base, initializeBody(1000), bearerHeader(limitsToken))
		if st == http.StatusOK {
			break
		}
		if st != http.StatusTooManyRequests || time.Since(start) > 30*time.Second {
			t.Fatalf("the token is not served again after the burst: %d %s (after %v)", st, body, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("locked out after the burst: %.2f s", time.Since(start).Seconds())
	if strings.Contains(h.stderr.String(), "blacklisted") {
		t.Fatalf("the token holder was blacklisted:\n%s", tail(h.stderr.String(), 2000))
	}
}

// 25 calls naming a workspace outside --allow-root: each refused with the
// workspace sentence, the token never blacklisted. A wrong token still is.
func TestLimitsWorkspaceRefusalsNeverBlacklistATokenAWrongTokenIs(t *testing.T) {
	root, project := allowRootWithProject(t)
	outside := newProject(t)
	h := startHTTPServer(t, procOpts{}, root, limitsToken)
	c := connectWithToken(t, h.base, limitsToken, mcp.ProtocolVersion20251125)
	ctx := ctxT(t)
	call := func(args map[string]any) *mcp.CallToolResult {
		req := mcp.CallToolRequest{}
		req.Params.Name = "task_list"
		req.Params.Arguments = args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("task_list: transport error %v\n%s", err, tail(h.stderr.String(), 2000))
		}
		return res
	}
	for i := range 25 {
		res := call(map[string]any{"workspace": outside})
		if msg := text(res); !res.IsError || !strings.Contains(msg, "outside the allowed roots") || !strings.Contains(msg, "--allow-root") {
			t.Fatalf("call %d outside --allow-root: error %v %q, want the workspace sentence", i+1, res.IsError, msg)
		}
	}
	if res := call(map[string]any{"workspace": project}); res.IsError {
		t.Fatalf("the token holder after 25 refusals: %s", text(res))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	m := scrapeMetrics(t, hc, h.base, limitsToken)
	if v := sampleValue(m, `task_orchestrator_limit_rejections_total{agent="token",reason="workspace"}`); v != "25" {
		t.Errorf("workspace refusals counted %q, want 25", v)
	}

	// A wrong token: 401 until the threshold (20), then the address is
	// refused (403) — while the right token, from the same address, is served.
	var statuses []int
	for range 22 {
		st, _, _ := postMCP(t, hc, h.base, initializeBody(1), bearerHeader("wrong-token-0123456789abcdef"))
		statuses = append(statuses, st)
	}
	if statuses[0] != http.StatusUnauthorized || statuses[21] != http.StatusForbidden {
		t.Fatalf("wrong token statuses %v: want 401s, then 403 once blacklisted", statuses)
	}
	if res := call(map[string]any{"workspace": project}); res.IsError {
		t.Fatalf("the token holder beside a blacklisted guesser: %s", text(res))
	}
	logs := h.stderr.String()
	if n := strings.Count(logs, "client blacklisted"); n != 1 || !strings.Contains(logs, "client=ip:127.0.0.1") {
		t.Fatalf("blacklisting logged %d times or not for the address:\n%s", n, tail(logs, 3000))
	}
	if strings.Contains(logs, limitsToken) {
		t.Fatal("the token appears in the logs")
	}
}

// Two agents of --auth-tokens-file: one bursting is throttled while the
// other is served; both names show in /metrics and the logs; the file is
// reloaded while the server runs (an agent added, one removed).
func TestLimitsAgentsHaveTheirOwnLimitsAndTheTokensFileReloads(t *testing.T) {
	root, project := allowRootWithProject(t)
	const alice, bob, carol = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef", "carol-token-0123456789abcdef"
	tokens := filepath.Join(t.TempDir(), "agents")
	write := func(body string) {
		if err := os.WriteFile(tokens+".tmp", []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tokens+".tmp", tokens); err != nil {
			t.Fatal(err)
		}
	}
	write("# agents of the team\nalice:" + alice + "\nbob:" + bob + "\n")
	h := startHTTPServer(t, procOpts{
		// Routine requests are logged at debug (refusals at info): the
		// agents' names below are read from those lines.
		args: []string{"--auth-tokens-file", tokens, "--log-level", "debug"},
		// A high blacklist threshold: carol's 401s while the reload is awaited
		// must not get the address refused before alice's 401 is seen.
		globalConfig: `{"security":{"connection_rate_limit":60,"blacklist_threshold":1000}}`,
	}, root, "")
	hc := &http.Client{Timeout: 30 * time.Second}
	var aliceStatuses = map[int]int{}
	for i := range 40 {
		st, _, _ := postMCP(t, hc, h.base, initializeBody(i), bearerHeader(alice))
		aliceStatuses[st]++
	}
	if aliceStatuses[429] == 0 || aliceStatuses[403] != 0 {
		t.Fatalf("alice's burst: %v, want 429s and no 403", aliceStatuses)
	}
	c := connectWithToken(t, h.base, bob, mcp.ProtocolVersion20260728)
	req := mcp.CallToolRequest{}
	req.Params.Name = "task_list"
	req.Params.Arguments = map[string]any{"workspace": project}
	if res, err := c.CallTool(ctxT(t), req); err != nil || res.IsError {
		t.Fatalf("bob while alice is throttled: %v %v", err, res)
	}
	m := scrapeMetrics(t, hc, h.base, bob)
	if v := sampleValue(m, `task_orchestrator_limit_rejections_total{agent="alice",reason="rate"}`); v != strconv.Itoa(aliceStatuses[429]) {
		t.Errorf("alice's rate refusals in /metrics: %q, want %d", v, aliceStatuses[429])
	}
	if v := sampleValue(m, `task_orchestrator_tool_calls_total{agent="bob",outcome="ok",tool="task_list"}`); v != "1" {
		t.Errorf("bob's tool calls in /metrics: %q, want 1", v)
	}
	if strings.Contains(m, `agent="bob",reason="rate"`) {
		t.Error("bob was rate limited")
	}

	// Reload: carol added, alice removed.
	write("bob:" + bob + "\ncarol:" + carol + "\n")
	waitFor(t, 20*time.Second, func() bool {
		st, _, _ := postMCP(t, hc, h.base, initializeBody(1), bearerHeader(carol))
		return st == http.StatusOK
	}, "carol to be served after the reload")
	if st, _, _ := postMCP(t, hc, h.base, initializeBody(1), bearerHeader(alice)); st != http.StatusUnauthorized {
		t.Fatalf("alice after her removal: %d, want 401", st)
	}
	if res, err := c.CallTool(ctxT(t), req); err != nil || res.IsError {
		t.Fatalf("bob across the reload: %v %v", err, res)
	}
	m = scrapeMetrics(t, hc, h.base, carol)
	if strings.Contains(m, `agent="alice"`) {
		t.Error("the removed agent's series are still exported")
	}
	logs := h.stderr.String()
	for _, want := range []string{"client=agent:alice", "client=agent:bob", "client=agent:carol", "added=[carol]", "removed=[alice]"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	for _, tok := range []string{alice, bob, carol} {
		if strings.Contains(logs, tok) || strings.Contains(m, tok) {
			t.Fatal("a token appears in the logs or metrics")
		}
	}
}

// Sessions of a session-based protocol version expire when idle: their
// count drops, the old id is answered 404, a new initialize works.
func TestLimitsIdleHTTPSessionsExpire(t *testing.T) {
	root, _ := allowRootWithProject(t)
	h := startHTTPServer(t, procOpts{args: []string{"--session-idle-timeout", "2s"}}, root, limitsToken)
	hc := &http.Client{Timeout: 30 * time.Second}
	var ids []string
	for i := range 50 {
		st, hdr, body := postMCP(t, hc, h.base, initializeBody(i), bearerHeader(limitsToken))
		if st != http.StatusOK || hdr.Get("Mcp-Session-Id") == "" {
			t.Fatalf("initialize %d: %d %s", i, st, body)
		}
		ids = append(ids, hdr.Get("Mcp-Session-Id"))
	}
	before := sampleValue(scrapeMetrics(t, hc, h.base, limitsToken), "task_orchestrator_http_sessions")
	rssBefore := peakRSSMiB(t, h.cmd.Process.Pid)
	if before != "50" {
		t.Fatalf("open sessions after 50 initialize: %q, want 50", before)
	}
	waitFor(t, 20*time.Second, func() bool {
		return sampleValue(scrapeMetrics(t, hc, h.base, limitsToken), "task_orchestrator_http_sessions") == "0"
	}, "the idle sessions to expire")
	t.Logf("open sessions: %s before, 0 after 2 s idle (peak RSS %.1f MiB)", before, rssBefore)
	hdr := bearerHeader(limitsToken)
	hdr["Mcp-Session-Id"] = ids[0]
	hdr["MCP-Protocol-Version"] = mcp.ProtocolVersion20251125
	if st, _, body := postMCP(t, hc, h.base, `{"jsonrpc":"2.0","id":9,"method":"ping"}`, hdr); st != http.StatusNotFound {
		t.Fatalf("the expired session: %d %s, want 404", st, body)
	}
	c := connectWithToken(t, h.base, limitsToken, mcp.ProtocolVersion20251125)
	if err := c.Ping(ctxT(t)); err != nil {
		t.Fatalf("a new session after the expiry: %v", err)
	}
}

// bigCallLine is a tools/call line of about n bytes whose id comes first.
func bigCallLine(id, n int) []byte {
	head := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"task_create","arguments":{"title":"big","description":"`, id)
	b := make([]byte, 0, n+200)
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte("x"), n)...)
	return append(b, `"}}}`+"\n"...)
}

// A 100 MB JSON-RPC line over stdio is refused while it is read, with an
// error naming the limit for its id, and the session goes on.
func TestLimitsOversizedMessageOverStdioIsRefusedWhileRead(t *testing.T) {
	project := newProject(t)
	cmd := exec.Command(binPath)
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "TASK_ORCHESTRATOR_WORKSPACE=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := bufio.NewReaderSize(stdoutPipe, 1<<20)
	type answer struct {
		ID     any             `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	read := func() answer {
		t.Helper()
		got := make(chan string, 1)
		go func() { l, _ := out.ReadString('\n'); got <- l }()
		select {
		case l := <-got:
			var a answer
			if err := json.Unmarshal([]byte(l), &a); err != nil {
				t.Fatalf("stdout is not JSON-RPC: %.300q\nstderr:\n%s", l, tail(stderr.String(), 2000))
			}
			return a
		case <-time.After(2 * time.Minute):
			t.Fatalf("no answer within 2 min\nstderr:\n%s", tail(stderr.String(), 2000))
			return answer{}
		}
	}
	send := func(s string) {
		if _, err := io.WriteString(stdin, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"limits-test","version":"1"}}}`)
	if a := read(); a.Error != nil {
		t.Fatalf("initialize: %+v", a.Error)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	read()
	rssBefore := peakRSSMiB(t, cmd.Process.Pid)

	wrote := make(chan error, 1)
	go func() { _, err := stdin.Write(bigCallLine(3, 100<<20)); wrote <- err }()
	a := read()
	if err := <-wrote; err != nil {
		t.Fatalf("writing the 100 MB line: %v", err)
	}
	rssAfter := peakRSSMiB(t, cmd.Process.Pid)
	t.Logf("100 MB line over stdio: peak RSS %.1f MiB before, %.1f MiB after", rssBefore, rssAfter)
	if a.Error == nil || a.ID != float64(3) || !strings.Contains(a.Error.Message, "the message is larger than 34603008 bytes") ||
		!strings.Contains(a.Error.Message, "--max-message-bytes") {
		t.Fatalf("the 100 MB line: id %v error %+v, want a refusal naming the limit", a.ID, a.Error)
	}
	// The session goes on: a tool call works.
	send(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"task_create","arguments":{"title":"after the big one"}}}`)
	if a := read(); a.Error != nil || a.ID != float64(4) || !strings.Contains(string(a.Result), "after the big one") {
		t.Fatalf("a call after the refusal: id %v error %+v result %.200s", a.ID, a.Error, a.Result)
	}
}

// A 100 MB body over HTTP is refused (413) while it is read, with and
// without a Content-Length, and the server answers normally after.
func TestLimitsOversizedMessageOverHTTPIsRefusedWhileRead(t *testing.T) {
	root, _ := allowRootWithProject(t)
	h := startHTTPServer(t, procOpts{}, root, limitsToken)
	hc := &http.Client{Timeout: 2 * time.Minute}
	rssBefore := peakRSSMiB(t, h.cmd.Process.Pid)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(bigCallLine(3, 100<<20))
		if chunked {
			body = struct{ io.Reader }{body} // no length known: sent chunked
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, h.base+"/mcp", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+limitsToken)
		res, err := hc.Do(req)
		if err != nil {
			// The server may close the connection before the client has sent
			// everything; that is a refusal too, but the 413 must come first.
			t.Fatalf("chunked %v: %v", chunked, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "request body exceeds 4194304 bytes") {
			t.Fatalf("chunked %v: %d %s, want 413 naming the limit", chunked, res.StatusCode, b)
		}
	}
	rssAfter := peakRSSMiB(t, h.cmd.Process.Pid)
	t.Logf("100 MB body over HTTP: peak RSS %.1f MiB before, %.1f MiB after", rssBefore, rssAfter)
	if st, _, body := postMCP(t, hc, h.base, initializeBody(1), bearerHeader(limitsToken)); st != http.StatusOK {
		t.Fatalf("initialize after the refusals: %d %s", st, body)
	}
}
