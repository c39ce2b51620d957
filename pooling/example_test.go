package pooling_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/pooling"
)

func ExamplePool() {
	opened := 0
	p, err := pooling.New(pooling.Config{
		Name: "example", Backend: "operational", Workspace: "/project",
		MaxConns: 2, AcquireTimeout: time.Second, LIFO: true,
		Logger: slog.New(slog.DiscardHandler),
	}, pooling.Hooks[string]{
		Open: func(ctx context.Context) (string, error) {
			opened++
			return fmt.Sprintf("conn-%d", opened), nil
		},
		Close: func(string) error { return nil },
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(context.Background())

	ctx := pooling.WithHolder(context.Background(), "task_get")
	c, err := p.Acquire(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Value())
	c.Release()

	m := p.Metrics()
	fmt.Println(m.State, m.Total, m.Idle, m.Acquires)
	// Output:
	// conn-1
	// healthy 1 1 1
}
