package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The HTTP server's board: nothing without the token, a link bought with the
// token works once, and its cookie is the board's alone.
func TestBoardOverHTTPNeedsTheTokenAndALinkThatWorksOnce(t *testing.T) {
	ctx := context.Background()
	allow, project := allowRootWithProject(t)
	const token = "board-test-token-0123456789abcdef"
	h := startHTTPServer(t, procOpts{}, allow, token)
	c, err := h.connect(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, c: c, stderr: h.stderr}
	p.ok(ctx, "task_create", map[string]any{"workspace": project, "title": "Seen through the board"}, nil)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, bearer, cookie, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, h.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, string(b)
	}

	// No token, no board: neither the page nor a link.
	if res, body := do("GET", "/board/", "", "", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /board/ without a session: %s %s, want 401", res.Status, body)
	}
	if res, body := do("GET", "/board/api/state", "", "", ""); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /board/api/state without a session: %s %s, want 401", res.Status, body)
	}
	linkBody := `{"workspace": "` + project + `"}`
	if res, body := do("POST", "/board/link", "", "", linkBody); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /board/link without the token: %s %s, want 401", res.Status, body)
	}
	if res, body := do("POST", "/board/link", "wrong-token", "", linkBody); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /board/link with a wrong token: %s %s, want 401", res.Status, body)
	}
	outside := newProject(t)
	res, body := do("POST", "/board/link", token, "", `{"workspace": "`+outside+`"}`)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, `\"workspace\" is outside every --allow-root of this server`) {
		t.Errorf("a link to a project outside --allow-root: %s %s", res.Status, body)
	}
	if res, body := do("POST", "/board/link", token, "", `{}`); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, `the body must be a JSON object with \"workspace\"`) {
		t.Errorf("a link without a workspace: %s %s", res.Status, body)
	}

	// With the token: a link, which works once.
	res, body = do("POST", "/board/link", token, "", linkBody)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /board/link with the token: %s %s", res.Status, body)
	}
	var link struct {
		URL   string `json:"url"`
		Actor string `json:"actor"`
	}
	if err := json.Unmarshal([]byte(body), &link); err != nil || !strings.HasPrefix(link.URL, h.base+"/board/login?code=") || link.Actor != "human:board" {
		t.Fatalf("link answer %s: want a URL under %s/board/login and actor human:board", body, h.base)
	}
	path := strings.TrimPrefix(link.URL, h.base)
	res, body = do("GET", path, "", "", "")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/board/" {
		t.Fatalf("opening the link: %s (Location %q) %s, want 303 to /board/", res.Status, res.Header.Get("Location"), body)
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "board_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("opening the link set no board_session cookie: %v", res.Header["Set-Cookie"])
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/board/" || session.Domain != "" {
		t.Errorf("the session cookie is %q: want HttpOnly, SameSite=Strict, Path=/board/ and no Domain", res.Header.Get("Set-Cookie"))
	}
	if res, body := do("GET", path, "", "", ""); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "already used or has expired") {
		t.Errorf("opening the link a second time: %s %s, want 403 saying it was used", res.Status, body)
	}

	// The cookie opens the board of that project, and nothing else.
	cookie := session.Name + "=" + session.Value
	res, body = do("GET", "/board/api/state", "", cookie, "")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Seen through the board") {
		t.Errorf("the board's state with the session: %s %s", res.Status, tail(body, 400))
	}
	var state struct {
		Project struct {
			Root string `json:"root"`
		} `json:"project"`
	}
	_ = json.Unmarshal([]byte(body), &state)
	if state.Project.Root != project {
		t.Errorf("the board shows %q, want the project the link was made for, %q", state.Project.Root, project)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q: want script-src 'self' and no unsafe-inline", csp)
	}
	if res, body := do("POST", "/mcp", "", cookie, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/mcp with the board's cookie and no token: %s %s, want 401", res.Status, body)
	}
	// Read-only unless the server was started with --board-allow-edits.
	res, body = do("POST", "/board/api/actions", "", cookie, `{"action": "reconcile"}`)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "read-only") {
		t.Errorf("an action on a read-only board: %s %s, want 403 saying it is read-only", res.Status, body)
	}
}
