#!/usr/bin/env bash
# Installs the official MCP conformance suite for the tests (integration/conformance_test.go runs it against the
# server's Streamable HTTP transport).
#
#   integration/conformance.sh install   -> prints the path of the pinned runner (installs it once): an executable
#                                            that takes the suite's own arguments (`RUNNER server --url URL ...`)
#
# The suite is @modelcontextprotocol/conformance from the npm registry, pinned, installed with `npm install --prefix`
# into a folder of the test cache (no global install), so a second run reuses it and needs no network. Its dist uses
# Node.js 22 APIs (fs.globSync) at import time; where the machine's node is older, Node.js 22 comes from the npm
# registry as well (node-linux-<arch>, the official binary shipped inside a registry package), into the same folder.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

CONFORMANCE_VERSION="0.1.16"
NODE_VERSION="22.23.5"
DIR="$CACHE/conformance-$CONFORMANCE_VERSION"
RUNNER="$DIR/conformance"

# node_major prints the major version of the node on PATH (0 when there is none).
node_major() {
  if command -v node >/dev/null 2>&1; then
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
  else
    echo 0
  fi
}

install() {
  if [ ! -f "$DIR/.installed" ] || [ ! -x "$RUNNER" ]; then
    echo "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $DIR" >&2
    rm -rf "$DIR"
    mkdir -p "$DIR"
    local pkgs=("@modelcontextprotocol/conformance@$CONFORMANCE_VERSION") node
    node="node"
    if [ "$(node_major)" -lt 22 ]; then
      local arch
      case "$(uname -m)" in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) echo "conformance.sh: no Node.js 22 package for $(uname -m); install Node.js 22 or later" >&2; exit 1 ;;
      esac
      pkgs+=("node-linux-$arch@$NODE_VERSION")
      node="$DIR/node_modules/node-linux-$arch/bin/node"
    fi
    npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "${pkgs[@]}" >&2
    if [ "$node" = "node" ]; then node="$(command -v node)"; fi
    cat >"$RUNNER" <<EOF
#!/bin/sh
# The MCP conformance suite $CONFORMANCE_VERSION, written by integration/conformance.sh.
exec "$node" "$DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js" "\$@"
EOF
    chmod +x "$RUNNER"
    "$RUNNER" --version >&2
    touch "$DIR/.installed"
  fi
  echo "$RUNNER"
}

case "${1:-}" in
  install) install ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
