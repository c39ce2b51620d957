package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/postgres"
)

// TestConnectErrorsNeverShowThePassword: a wrong password, a malformed URL and
// an unreachable server each give a sentence naming the server, never the
// password (in the URL, percent-encoded in it, or as a key=value).
func TestConnectErrorsNeverShowThePassword(t *testing.T) {
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "not-the-pw-7f3a9c"
	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), secret)
	encoded := *u
	encoded.User = url.UserPassword(u.User.Username(), secret+"/?@x")
	cases := []struct {
		name, url, secret, mention string
	}{
		{"wrong password", wrong.String(), secret, u.Host},
		{"wrong password, percent-encoded", encoded.String(), secret, u.Host},
		{"bad port", "postgres://someone:" + secret + "@127.0.0.1:notaport/db", secret, "not a PostgreSQL connection URL"},
		{"nobody listening", "postgres://someone:" + secret + "@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", secret, "127.0.0.1:1"},
		{"key=value", "host=127.0.0.1 port=1 user=someone password=" + secret + " sslmode=disable connect_timeout=5", secret, "127.0.0.1"},
		{"password in the query", "postgres://someone@127.0.0.1:1/db?sslmode=disable&connect_timeout=5&password=" + secret, secret, "127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := postgres.Connect(ctx, tc.url)
			if err == nil {
				_ = c.Close(ctx)
				t.Fatalf("Connect(%s) succeeded", postgres.Redact(tc.url))
			}
			msg := err.Error()
			if strings.Contains(msg, tc.secret) {
				t.Errorf("the error shows the password: %s", msg)
			}
			if !strings.HasPrefix(msg, "postgres: connect") || !strings.Contains(msg, tc.mention) {
				t.Errorf("error %q does not start with \"postgres: connect\" or does not mention %q", msg, tc.mention)
			}
		})
	}
	if _, err := postgres.Connect(context.Background(), " "); err == nil || !strings.Contains(err.Error(), "no connection URL") {
		t.Errorf("Connect of an empty URL: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/d?sslmode=disable": "postgres://u:***@h:5432/d?sslmode=disable",
		"postgres://u@h/d":                         "postgres://u@h/d",
		"postgres://u@h/d?password=pw":             "postgres://u@h/d?password=***",
		"host=h password=pw user=u":                "host=h password=*** user=u",
		"host=h password='p w' user=u":             "host=h password=*** user=u",
		"postgres://u:p%40w@h:notaport/d":          "postgres://u:***@h:notaport/d",
		"postgresql://u:pw@h1:5432,h2:5433/d?x=1":  "postgresql://u:***@h1:5432,h2:5433/d?x=1",
	} {
		if got := postgres.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
