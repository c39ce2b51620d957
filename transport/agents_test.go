package transport_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/transport"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const (
	aliceToken = "alice-token-0123456789abcdef"
	bobToken   = "bob-token-0123456789abcdef"
	carolToken = "carol-token-0123456789abcdef"
)

func writeTokens(t *testing.T, path, body string) {
	t.Helper()
	// Write beside and rename, as an editor or a deploy does: the reload
	// sees the whole new file or none of it.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func TestTokensFileErrorsNameTheLineAndNeverTheToken(t *testing.T) {
	ms := newMCP(newGate())
	for _, tc := range []struct{ name, body, want string }{
		{"no colon", "# agents\n\nalice " + aliceToken + "\n", "line 3: expected name:token"},
		{"bad name", "al ice:" + aliceToken + "\n", `line 1: the name "al ice" is not an identifier`},
		{"name starts with a digit", "1alice:" + aliceToken + "\n", `line 1: the name "1alice" is not an identifier`},
		{"reserved", "anonymous:" + aliceToken + "\n", `line 1: the name "anonymous" is reserved`},
		{"short token", "alice:short-token\n", `line 1: the token of "alice" is 11 characters; use at least 16`},
		{"space in token", "alice:" + aliceToken + " x\n", `line 1: the token of "alice" contains a space`},
		{"duplicate name", "alice:" + aliceToken + "\nbob:" + bobToken + "\nalice:" + carolToken + "\n", `line 3: the name "alice" is already given on line 1`},
		{"duplicate token", "alice:" + aliceToken + "\n# bob\nbob:" + aliceToken + "\n", `line 3: "bob" has the same token as the agent on line 1`},
		{"same as the single token", "alice:" + aliceToken + "\n", `line 1: "alice" has the same token as --auth-token-file`},
		{"empty", "# nobody yet\n", "holds no agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens")
			writeTokens(t, path, tc.body)
			opts := transport.Options{Addr: "127.0.0.1:0", AuthTokensFile: path}
			if tc.name == "same as the single token" {
				opts.AuthToken = aliceToken
			}
			_, err := transport.New(ms, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("New: %v; want an error naming %s and %q", err, path, tc.want)
			}
			for _, tok := range []string{aliceToken, bobToken, carolToken, "short-token"} {
				if strings.Contains(err.Error(), tok) {
					t.Fatalf("the error shows a token: %v", err)
				}
			}
		})
	}
	if _, err := transport.New(ms, transport.Options{Addr: "0.0.0.0:0", AuthTokensFile: filepath.Join(t.TempDir(), "missing")}); err == nil ||
		!strings.Contains(err.Error(), "auth tokens file") {
		t.Fatalf("a missing tokens file: %v", err)
	}
}

func TestEachAgentHasItsOwnLimitsAndItsNameInLogsAndMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeTokens(t, path, "# the team\nalice:"+aliceToken+"\n\nbob : "+bobToken+"\n")
	h := start(t, transport.Options{AuthTokensFile: path, RefusalDelay: -1,
		Security: workspace.Security{ConnectionRateLimit: 18, BlacklistThreshold: 3}})
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	transport.SetClock(h.srv, clk.now)
	hc := httpClient(t)

	// Alice bursts: 3 pass (the bucket holds 10 s of 18/min), then 429s,
	// many more than the blacklist threshold, and never a 403.
	var got []int
	for range 12 {
		got = append(got, do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, bearer(aliceToken)).status)
	}
	for i, st := range got {
		if (i < 3 && st == 429) || (i >= 3 && st != 429) {
			t.Fatalf("alice's statuses %v, want 3 served then 429s", got)
		}
	}
	// Bob, on the same address, is served meanwhile: his bucket is his own.
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, bearer(bobToken)); r.status == 429 || r.status == 403 {
		t.Fatalf("bob was refused while alice was throttled: %d %s", r.status, r.body)
	}
	c := newClient(t, h, mcp.ProtocolVersion20260728, bearer(bobToken))
	if text, isErr := call(t, c, "echo", map[string]any{"text": "hi"}); isErr || text != "hi|agent:bob" {
		t.Fatalf("bob's echo = %q (error %v), want the client id agent:bob", text, isErr)
	}
	// Alice is served again once her bucket refills: throttled, not locked out.
	clk.advance(4 * time.Second)
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, bearer(aliceToken)); r.status == 429 || r.status == 403 {
		t.Fatalf("alice still refused after the refill: %d %s", r.status, r.body)
	}

	m := do(t, hc, http.MethodGet, h.url+"/metrics", "", bearer(aliceToken)).body
	for _, want := range []string{
		`task_orchestrator_limit_rejections_total{agent="alice",reason="rate"} 9`,
		`task_orchestrator_tool_calls_total{agent="bob",outcome="ok",tool="echo"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, `agent="bob",reason="rate"`) {
		t.Error("bob has rate rejections")
	}
	h.stop()
	logs := h.logs.String()
	for _, want := range []string{"client=agent:alice", "client=agent:bob", "agents=\"[alice bob]\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %s", want)
		}
	}
	if strings.Contains(logs, "blacklisted") {
		t.Errorf("an authenticated agent was blacklisted:\n%s", logs)
	}
	for _, tok := range []string{aliceToken, bobToken} {
		if strings.Contains(logs, tok) || strings.Contains(m, tok) {
			t.Fatal("a token appears in the logs or metrics")
		}
	}
}

func TestTokensFileIsReloadedAndABadFileKeepsThePreviousAgents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeTokens(t, path, "alice:"+aliceToken+"\nbob:"+bobToken+"\n")
	h := start(t, transport.Options{AuthTokensFile: path, TokensReloadInterval: 10 * time.Millisecond})
	hc := httpClient(t)
	status := func(tok string) int { return do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, bearer(tok)).status }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s\n%s", what, h.logs.String())
			}
		}
	}
	c := newClient(t, h, mcp.ProtocolVersion20260728, bearer(bobToken))
	if status(carolToken) != http.StatusUnauthorized {
		t.Fatal("carol served before she was added")
	}
	// Add carol, remove alice.
	writeTokens(t, path, "bob:"+bobToken+"\ncarol:"+carolToken+"\n")
	waitFor("carol added", func() bool { return status(carolToken) != http.StatusUnauthorized })
	if st := status(aliceToken); st != http.StatusUnauthorized {
		t.Fatalf("alice, removed, got %d, want 401", st)
	}
	if text, isErr := call(t, c, "echo", map[string]any{"text": "still"}); isErr || text != "still|agent:bob" {
		t.Fatalf("bob across the reload: %q %v", text, isErr)
	}
	// A bad file keeps the agents loaded before, and says why.
	writeTokens(t, path, "bob:"+bobToken+"\ncarol:"+carolToken+"\ndave:short\n")
	waitFor("the bad reload logged", func() bool {
		return strings.Contains(h.logs.String(), "is not valid; keeping the agents loaded before")
	})
	if status(carolToken) == http.StatusUnauthorized || status(bobToken) == http.StatusUnauthorized {
		t.Fatal("a bad tokens file dropped the agents loaded before")
	}
	m := do(t, hc, http.MethodGet, h.url+"/metrics", "", bearer(bobToken)).body
	if !strings.Contains(m, `task_orchestrator_auth_tokens_reloads_total{result="error"} 1`) ||
		!strings.Contains(m, `task_orchestrator_auth_tokens_reloads_total{result="ok"} 1`) {
		t.Errorf("reloads not counted:\n%s", grepLines(m, "reloads"))
	}
	h.stop()
	logs := h.logs.String()
	if !strings.Contains(logs, "line 3: the token of \\\"dave\\\" is 5 characters") ||
		!strings.Contains(logs, "added=[carol] removed=[alice]") {
		t.Errorf("the reloads are not logged with their reason and changes:\n%s", logs)
	}
	for _, tok := range []string{aliceToken, bobToken, carolToken, "short"} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token (%s…) appears in the logs", tok[:3])
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestWorkspaceRefusalsAreCountedButNeverBlacklistAnAgent(t *testing.T) {
	h := start(t, transport.Options{AuthToken: secretToken, Security: workspace.Security{BlacklistThreshold: 3}})
	c := newClient(t, h, mcp.ProtocolVersion20251125, bearer(secretToken))
	for i := range 25 {
		text, isErr := call(t, c, "outside", nil)
		if !isErr || !strings.Contains(text, "workspace outside the allowed roots") {
			t.Fatalf("call %d: %q (error %v), want the workspace refusal", i+1, text, isErr)
		}
	}
	if text, isErr := call(t, c, "echo", map[string]any{"text": "x"}); isErr || !strings.HasPrefix(text, "x|token:") {
		t.Fatalf("the token holder after 25 workspace refusals: %q (error %v)", text, isErr)
	}
	m := do(t, httpClient(t), http.MethodGet, h.url+"/metrics", "", bearer(secretToken)).body
	if !strings.Contains(m, `task_orchestrator_limit_rejections_total{agent="token",reason="workspace"} 25`) {
		t.Errorf("workspace refusals not counted:\n%s", grepLines(m, "limit_rejections"))
	}
	if strings.Contains(h.logs.String(), "blacklisted") {
		t.Fatal("workspace refusals blacklisted the token holder")
	}
}

func TestIdleSessionsExpireTheirIDIsAnswered404AndANewSessionWorks(t *testing.T) {
	h := start(t, transport.Options{SessionIdleTimeout: time.Second})
	hc := httpClient(t)
	c := newClient(t, h, mcp.ProtocolVersion20251125, nil)
	if _, isErr := call(t, c, "echo", nil); isErr {
		t.Fatal("echo failed")
	}
	if n := transport.SessionCount(h.srv); n != 1 {
		t.Fatalf("%d sessions after one initialize, want 1", n)
	}
	id := c.GetSessionId()
	if id == "" {
		t.Fatal("no session id for a 2025-11-25 client")
	}
	// mcp-go's sweeper runs every second here: the session is gone within
	// a few seconds of idleness.
	for deadline := time.Now().Add(10 * time.Second); transport.SessionCount(h.srv) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle session was not expired within 10 s")
		}
	}
	hdr := map[string]string{"Mcp-Session-Id": id, "MCP-Protocol-Version": mcp.ProtocolVersion20251125}
	if r := do(t, hc, http.MethodPost, h.url+"/mcp", pingBody, hdr); r.status != http.StatusNotFound {
		t.Fatalf("POST with the expired session: %d %s, want 404", r.status, r.body)
	}
	if r := do(t, hc, http.MethodGet, h.url+"/mcp", "", hdr); r.status != http.StatusNotFound || !strings.Contains(r.body, "start a new one with initialize") {
		t.Fatalf("GET with the expired session: %d %s, want 404", r.status, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err == nil {
		t.Fatal("the old client's session still works after expiry")
	}
	c2 := newClient(t, h, mcp.ProtocolVersion20251125, nil)
	if _, isErr := call(t, c2, "echo", nil); isErr {
		t.Fatal("a new session does not work")
	}
	if n := transport.SessionCount(h.srv); n != 1 {
		t.Fatalf("%d sessions, want the new one only", n)
	}
}

// A call authenticated by a token of --auth-tokens-file carries the agent's
// name in its context (the task tools hold "agent" to it); the unnamed
// --auth-token-file token carries none.
func TestNamedTokenPutsTheAgentNameInTheCallContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	writeTokens(t, path, "alice:"+aliceToken+"\nbob:"+bobToken+"\n")
	h := start(t, transport.Options{AuthTokensFile: path, AuthToken: workspace.Secret(carolToken), RefusalDelay: -1})
	for token, want := range map[string]string{aliceToken: `"alice" true`, bobToken: `"bob" true`, carolToken: `"" false`} {
		c := newClient(t, h, mcp.ProtocolVersion20260728, bearer(token))
		if text, isErr := call(t, c, "whoami", nil); isErr || text != want {
			t.Errorf("whoami = %q (error %v), want %s", text, isErr, want)
		}
	}
}
