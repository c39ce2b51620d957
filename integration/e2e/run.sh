#!/usr/bin/env bash
# End-to-end benchmark from the official MCP TypeScript SDK client over stdio: the server beside the floor (a trivial
# mcp-go stdio server whose one tool returns a constant, integration/floor), both built in this run, so that every figure
# of the server is read as a ratio to the floor's (issue 17).
#
#   integration/e2e/run.sh > new.txt                        # builds the floor and the server from this tree
#   SERVER_BIN=/tmp/old/mcp-task-orchestrator integration/e2e/run.sh > old.txt   # measures another build of the server
#   benchstat old.txt new.txt
#
# Environment: COUNT (6) repetitions, N (1000) measured calls per scenario after WARMUP (200), PROJECTS (100) for the
# second RSS reading. Go benchmark lines go to stdout; progress and the summary of ratios to the floor go to stderr.
#
# The client is @modelcontextprotocol/sdk, pinned in package.json and package-lock.json, installed with `npm ci --prefix`
# into a folder of the test cache (no global install), so a second run reuses it and needs no network. Node.js 20 or newer.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

SDK_VERSION="$(node -p 'require(process.argv[1]).dependencies["@modelcontextprotocol/sdk"]' "$HERE/package.json")"
DIR="$CACHE/e2e-sdk-$SDK_VERSION"
if [ ! -f "$DIR/.installed" ] || ! cmp -s "$HERE/package-lock.json" "$DIR/package-lock.json"; then
  echo "installing @modelcontextprotocol/sdk@$SDK_VERSION into $DIR" >&2
  rm -rf "$DIR"
  mkdir -p "$DIR"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$DIR/"
  npm ci --prefix "$DIR" --no-audit --no-fund --loglevel=error >&2
  touch "$DIR/.installed"
fi
# The script runs from the install folder so that its imports resolve to the pinned SDK.
cp "$HERE/bench.mjs" "$DIR/bench.mjs"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-task-orchestrator-e2e-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin" "$WORK/projects"

echo "building the floor$([ -z "${SERVER_BIN:-}" ] && echo ' and the server') (no race detector)" >&2
(cd "$ROOT" && go build -o "$WORK/bin/floor" ./integration/floor)
if [ -z "${SERVER_BIN:-}" ]; then
  (cd "$ROOT" && go build -o "$WORK/bin/mcp-task-orchestrator" .)
  SERVER_BIN="$WORK/bin/mcp-task-orchestrator"
fi
SERVER_BIN="$(cd "$(dirname "$SERVER_BIN")" && pwd)/$(basename "$SERVER_BIN")"

echo "goos: $(go env GOOS)"
echo "goarch: $(go env GOARCH)"
echo "pkg: github.com/mcp-task-orchestrator/mcp-task-orchestrator/integration/e2e"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "server: $SERVER_BIN ($(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown) built here unless SERVER_BIN was given)" >&2
echo "client: @modelcontextprotocol/sdk $SDK_VERSION, node $(node --version)" >&2

FLOOR_BIN="$WORK/bin/floor" SERVER_BIN="$SERVER_BIN" WORK="$WORK/projects" CLK_TCK="$(getconf CLK_TCK)" \
  node "$DIR/bench.mjs"
