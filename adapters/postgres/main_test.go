package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/adapters/postgres"
)

// A real PostgreSQL, never a mock: integration/test-all.sh starts one
// (integration/postgres.sh) and exports its URL. Each test works in a database
// of its own, created from that URL and dropped at cleanup.
var serverURL string

func TestMain(m *testing.M) {
	serverURL = os.Getenv("TASK_ORCHESTRATOR_TEST_POSTGRES_URL")
	if serverURL == "" {
		fmt.Fprintln(os.Stderr, "adapters/postgres: these tests need a real PostgreSQL server, and "+
			"TASK_ORCHESTRATOR_TEST_POSTGRES_URL is not set.\n"+
			"Run `bash integration/test-all.sh` (it starts one), or start one yourself:\n"+
			"  read TASK_ORCHESTRATOR_TEST_POSTGRES_URL PID < <(bash integration/postgres.sh start /tmp/postgres-test)\n"+
			"  export TASK_ORCHESTRATOR_TEST_POSTGRES_URL\n"+
			"and stop it with `bash integration/postgres.sh stop $PID`.")
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

// freshDatabase creates a database with a unique name on the test server and
// returns its URL; the database is dropped at cleanup.
func freshDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "orchestrator_test_" + hex.EncodeToString(b)
	admin := connect(t, serverURL)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create the test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := postgres.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("drop the test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop the test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatalf("TASK_ORCHESTRATOR_TEST_POSTGRES_URL is not a URL: %v", postgres.Redact(err.Error()))
	}
	u.Path = "/" + name
	return u.String()
}

// connect opens a connection, closed at cleanup.
func connect(t testing.TB, rawURL string) *pgx.Conn {
	t.Helper()
	c, err := postgres.Connect(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// migrated is a connection to a fresh database at the latest schema.
func migrated(t testing.TB) *pgx.Conn {
	t.Helper()
	c := connect(t, freshDatabase(t))
	if _, err := postgres.Migrate(context.Background(), c); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return c
}

// wantPgError fails unless err is a PostgreSQL error with that SQLSTATE and,
// when constraint is not empty, that constraint's name.
func wantPgError(t testing.TB, err error, code, constraint string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want PostgreSQL error %s (%s)", err, err, code, constraint)
	}
	if pe.Code != code || (constraint != "" && pe.ConstraintName != constraint) {
		t.Fatalf("error = %s %q on constraint %q, want %s on %q", pe.Code, pe.Message, pe.ConstraintName, code, constraint)
	}
}

func exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
