package sqlite_test

import (
	"testing"

	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work"
	"github.com/mcp-task-orchestrator/mcp-task-orchestrator/work/storetest"
)

// The store passes the task store's contract, the suite a second store
// (issue 18: PostgreSQL) must pass too.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) work.Store { return openStore(t) })
}
