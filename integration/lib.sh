# Shared pieces of the scripts that install and run the test servers (chroma.sh, embedder.sh, pyserver.sh).
# Source it; it defines CACHE and functions, and runs nothing.

# CACHE is where the pinned servers are installed, once per machine.
CACHE="${TASK_ORCHESTRATOR_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-task-orchestrator-test}"

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http NAME PROBE_URL PID LOG TRIES PRINT: polls PROBE_URL every 0.2 s until it answers, then prints PRINT
# ("URL PID"). Fails, showing the server's log, when the process exits or TRIES polls pass; kills it then.
wait_http() {
  local name="$1" probe="$2" pid="$3" log="$4" tries="$5" print="$6"
  for _ in $(seq 1 "$tries"); do
    if curl -sf "$probe" >/dev/null 2>&1; then
      echo "$print"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during start-up; its log ($log):" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "$name did not answer $probe within $((tries / 5)) s; its log ($log):" >&2; cat "$log" >&2
  kill "$pid" 2>/dev/null || true
  return 1
}

# stop PID: SIGTERM, then waits for the process to end (SIGKILL after 10 s).
stop() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
