package tools_test

import (
	"context"
	"net/url"
	"testing"

	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/tools"
)

// The book keeps one watcher a project while anyone is subscribed, and a
// session that goes away is forgotten with all its subscriptions.
func TestSubscriptionsForgetASessionThatWentAway(t *testing.T) {
	e := newEnv(t)
	e.call("task_list", map[string]any{}) // opens the task store (and its own loops) first
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	b := tools.NewSubscriptions(e.deps)
	q := "?workspace=" + url.QueryEscape(e.project)
	open := "task-orchestrator://tasks/open" + q
	one := "task-orchestrator://tasks/tsk_0123456789abcdef" + q
	for _, s := range []struct{ session, uri string }{{"s1", open}, {"s1", one}, {"s2", open}, {"s2", open}} {
		if err := b.Subscribe(ctx, s.session, s.uri); err != nil {
			t.Fatalf("Subscribe(%s, %s): %v", s.session, s.uri, err)
		}
	}
	if subs, watchers := b.Count(); subs != 3 || watchers != 1 {
		t.Fatalf("after 3 subscriptions (one twice) on one project: %d subscriptions, %d watchers; want 3, 1", subs, watchers)
	}
	b.Forget("s1")
	if subs, watchers := b.Count(); subs != 1 || watchers != 1 {
		t.Fatalf("after s1 went away: %d subscriptions, %d watchers; want 1, 1", subs, watchers)
	}
	b.Unsubscribe("s2", open)
	b.Unsubscribe("s2", open) // a no-op
	if subs, watchers := b.Count(); subs != 0 || watchers != 0 {
		t.Fatalf("after the last unsubscribe: %d subscriptions, %d watchers; want 0, 0", subs, watchers)
	}
	goleak.VerifyNone(t, ignore) // the project's watcher goroutine is gone

	for _, uri := range []string{"file:///etc/passwd", "task-orchestrator://tasks/x/y"} {
		err := b.Subscribe(ctx, "s3", uri)
		want := `the resource address "` + uri + `" is not one of this server's; subscribe to task-orchestrator://tasks/open or task-orchestrator://tasks/{id}`
		if err == nil || err.Error() != want {
			t.Fatalf("Subscribe to a foreign address: %v; want %q", err, want)
		}
	}
}
