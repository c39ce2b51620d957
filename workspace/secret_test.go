package workspace_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/workspace"
)

const password = "hunter2"

func configWithPassword() workspace.Config {
	c := workspace.Defaults()
	c.Backends = workspace.Backends{Neo4jURI: "neo4j://graph:7687", Neo4jUsername: "neo4j", Neo4jPassword: password}
	return c
}

func TestSecretIsNeverPrintedByFmt(t *testing.T) {
	s := workspace.Secret(password)
	c := configWithPassword()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		for _, arg := range []any{s, &s, c, &c, c.Backends, []workspace.Secret{s}, map[string]any{"pw": s}} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, password) || strings.Contains(out, fmt.Sprintf("%x", password)) {
				t.Fatalf("fmt %s of %T printed the secret: %s", verb, arg, out)
			}
		}
	}
	if got := fmt.Sprint(s); got != "****" {
		t.Fatalf("fmt.Sprint = %q, want ****", got)
	}
	if s.Reveal() != password || !s.IsSet() || workspace.Secret("").IsSet() {
		t.Fatal("Reveal/IsSet do not report the real value")
	}
}

func TestSecretIsNeverPrintedByJSON(t *testing.T) {
	c := configWithPassword()
	for _, v := range []any{c, &c, workspace.Secret(password), []workspace.Secret{password}, map[string]workspace.Secret{"pw": password}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(password)) {
			t.Fatalf("json.Marshal(%T) leaked the secret: %s", v, b)
		}
	}
	b, _ := json.Marshal(c)
	if !bytes.Contains(b, []byte(`"neo4j_password":"****"`)) {
		t.Fatalf("json = %s, want the password field shown as ****", b)
	}
}

func TestSecretIsNeverPrintedBySlog(t *testing.T) {
	c := configWithPassword()
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("config", "cfg", c, "backends", c.Backends, "pw", c.Backends.Neo4jPassword)
		log.Info("group", slog.Group("g", slog.Any("pw", workspace.Secret(password))))
	}
	if strings.Contains(buf.String(), password) {
		t.Fatalf("slog leaked the secret:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "pw=****") || !strings.Contains(buf.String(), `"pw":"****"`) {
		t.Fatalf("slog output should show ****:\n%s", buf.String())
	}
}

func TestRedactedMasksPasswordsEvenForReveal(t *testing.T) {
	c := configWithPassword()
	c.Backends.ChromaURL = "https://user:hunter2@chroma.example:8000/"
	c.Backends.Neo4jURI = "neo4j://neo4j:hunter2@graph:7687"
	r := c.Redacted()
	if strings.Contains(r.Backends.Neo4jPassword.Reveal()+r.Backends.ChromaURL+r.Backends.Neo4jURI, password) {
		t.Fatalf("Redacted kept a password: %+v", r.Backends)
	}
	if c.Backends.Neo4jPassword.Reveal() != password {
		t.Fatal("Redacted changed the original")
	}
	if !strings.Contains(r.Backends.ChromaURL, "chroma.example:8000") {
		t.Fatalf("Redacted lost the host: %s", r.Backends.ChromaURL)
	}
}

func TestRedactMasksCredentialsInTextAndKeepsTheRest(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://user:hunter2@chroma.example:8000/", "https://***@chroma.example:8000/"},
		{"neo4j://tok3n@graph:7687", "neo4j://***@graph:7687"},
		{"bolt://u:p@ss:w@rd@h:7687/db", "bolt://***@h:7687/db"},
		{"dial http://h/api?api_key=sk-123&x=1 failed", "dial http://h/api?api_key=***&x=1 failed"},
		{`password="two words" user=neo4j`, `password=*** user=neo4j`},
		{"Authorization: Bearer abc.DEF-123= rejected", "Authorization: Bearer *** rejected"},
		{"ACCESS_TOKEN=xyz; Secret='s'", "ACCESS_TOKEN=***; Secret=***"},
		{"graph:7687 is down", "graph:7687 is down"},
		// as doctor's client snippet and shell line print them
		{`"NEO4J_URI": "bolt://neo4j:S3cret@127.0.0.1:7687",`, `"NEO4J_URI": "bolt://***@127.0.0.1:7687",`},
		{`-e 'CHROMA_URL=http://u:S3cret@h:8000' --`, `-e 'CHROMA_URL=http://***@h:8000' --`},
		// a raw /, ? or # in the password ends no URL early
		{"bolt://neo4j:pa/ss@h:7687", "bolt://***@h:7687"},
		{"http://u:p?w#d@h:8000/x", "http://***@h:8000/x"},
		{`"CHROMA_URL": "http://u:a/b@c@h:1/", "X": "y@z"`, `"CHROMA_URL": "http://***@h:1/", "X": "y@z"`},
		// a port is not a password
		{"http://h:8080/x?to=a@b", "http://h:8080/x?to=a@b"},
		{"see https://example.com/a/b#c and mail x@y", "see https://example.com/a/b#c and mail x@y"},
	}
	for _, c := range cases {
		if got := workspace.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
