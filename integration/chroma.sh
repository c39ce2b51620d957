#!/usr/bin/env bash
# Installs and runs a real Chroma server for the tests (never a mock).
#
#   integration/chroma.sh install        -> prints the path of the pinned `chroma` executable (installs it once)
#   integration/chroma.sh start DATADIR  -> starts a server on a free 127.0.0.1 port, waits for its heartbeat,
#                                           prints "URL PID"
#   integration/chroma.sh stop PID       -> SIGTERM, then waits for the process (SIGKILL after 10 s)
#
# Chroma comes from PyPI (chromadb, pinned), installed into a virtualenv in a cache folder, so a second run
# reuses it. Nothing is downloaded from anywhere but the package registry.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

CHROMA_VERSION="${CHROMA_VERSION:-1.5.9}"
VENV="$CACHE/chroma-$CHROMA_VERSION"

install() {
  if [ ! -x "$VENV/bin/chroma" ]; then
    echo "installing chromadb==$CHROMA_VERSION into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "chromadb==$CHROMA_VERSION" >&2
  fi
  echo "$VENV/bin/chroma"
}

start() {
  local data="$1" bin port pid url
  bin="$(install)"
  mkdir -p "$data"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  # The server's own output goes to a log file beside its data, never to our stdout.
  "$bin" run --path "$data" --host 127.0.0.1 --port "$port" >"$data.log" 2>&1 &
  pid=$!
  wait_http chroma "$url/api/v2/heartbeat" "$pid" "$data.log" 150 "$url $pid"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: chroma.sh start DATADIR}" ;;
  stop) stop "${2:?usage: chroma.sh stop PID}" ;;
  *) echo "usage: $0 install | start DATADIR | stop PID" >&2; exit 2 ;;
esac
