#!/usr/bin/env bash
# Fetches and runs a real Neo4j server for the tests (never a mock).
#
#   integration/neo4j.sh install                   -> prints the folder of the pinned Neo4j jars (fetches them once)
#   integration/neo4j.sh start DATADIR [PASSWORD]  -> starts a server on a free 127.0.0.1 port, waits until it has run
#                                                     `RETURN 1`, prints "bolt://127.0.0.1:PORT PID"
#   integration/neo4j.sh run DATADIR PORT [PASSWORD] -> runs the server in the foreground (exec), for a supervisor:
#                                                     backends.neo4j_command = ["/abs/integration/neo4j.sh", "run",
#                                                     "{data_dir}", "{port}", "{password}"]
#   integration/neo4j.sh stop PID                  -> SIGTERM, then waits for the process (SIGKILL after 30 s)
#
# Neo4j Community, embedded, with Bolt only (no HTTP): integration/neo4j/Main.java, run on the jars of
# org.neo4j:neo4j (pinned below and in integration/neo4j/pom.xml) fetched from Maven Central by `mvn` into a cache
# folder, so a second run reuses them. Without PASSWORD authentication is off; with it, user `neo4j` has that
# password. Neo4j 5.26 (LTS) runs on Java 17; 2025.x needs Java 21.
#
# Environment: TASK_ORCHESTRATOR_TEST_CACHE (cache folder, shared with chroma.sh), NEO4J_VERSION,
# NEO4J_JAVA (java executable), NEO4J_JAVA_OPTS (replaces the default JVM options below).
set -euo pipefail

NEO4J_VERSION="${NEO4J_VERSION:-5.26.30}"
CACHE="${TASK_ORCHESTRATOR_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-task-orchestrator-test}"
DIR="$CACHE/neo4j-$NEO4J_VERSION"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/neo4j"
# A small heap, the serial collector and C1 only: the tests need a server that starts fast on 2 shared cores,
# not peak throughput (C1 only roughly halves the CPU spent reaching READY). The --add-opens are the ones
# Neo4j's own launcher passes (without java.nio the page cache warns it runs in a slower fallback mode).
DEFAULT_JAVA_OPTS="-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-OmitStackTraceInFastThrow
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true -Dlog4j2.disable.jmx=true -Dfile.encoding=UTF-8"
JAVA_OPTS="${NEO4J_JAVA_OPTS:-$DEFAULT_JAVA_OPTS}"

java_bin() {
  if [ -n "${NEO4J_JAVA:-}" ]; then
    echo "$NEO4J_JAVA"
  elif [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]; then
    echo /usr/lib/jvm/java-17-openjdk-amd64/bin/java
  else
    command -v java || { echo "no java found: install a JDK 17 or set NEO4J_JAVA" >&2; return 1; }
  fi
}

# fetch_jars DEST: copies org.neo4j:neo4j and its runtime dependencies into DEST. Maven Central has answered
# 429 (too many requests) to bursts, so failures are retried with a growing pause; -U on a retry, because Maven
# otherwise remembers the failed download in its local repository and does not even try again.
fetch_jars() {
  local dest="$1" work attempt pause=5 update=""
  command -v mvn >/dev/null || { echo "mvn (Apache Maven) is needed to fetch the Neo4j jars: install it" >&2; return 1; }
  work="$(mktemp -d)"
  cp "$SRC/pom.xml" "$work/pom.xml"
  for attempt in 1 2 3 4 5; do
    # shellcheck disable=SC2086 # $update is empty or -U
    if (cd "$work" && mvn -B -q $update -Dstyle.color=never -Dneo4j.version="$NEO4J_VERSION" -DincludeScope=runtime \
          dependency:copy-dependencies -DoutputDirectory="$dest" >"$work/mvn.log" 2>&1); then
      rm -rf "$work"
      return 0
    fi
    update="-U"
    echo "mvn could not fetch the Neo4j $NEO4J_VERSION jars (attempt $attempt of 5); its output ends with:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$work/mvn.log" \
      | grep -v '^\[ERROR\] *$\|re-run Maven\|Re-run Maven\|please read the following\|\[Help 1\] http\|^ *$' \
      | tail -n 8 >&2 || true
    if grep -q 'Could not find artifact' "$work/mvn.log"; then
      break # not there at all: waiting will not help
    fi
    if [ "$attempt" -lt 5 ]; then
      echo "retrying in $pause s" >&2
      sleep "$pause"
      pause=$((pause * 2))
    fi
  done
  rm -rf "$work"
  echo "giving up: check NEO4J_VERSION and the access to https://repo.maven.apache.org" >&2
  return 1
}

# compile_main: Main.java compiled once into $DIR/classes (recompiled when the source changes), which saves
# the source launcher's in-memory compile (~1–2 s and ~40 MB) on every start. Without javac, start falls back
# to running Main.java as a source file.
compile_main() {
  local java javac tmp
  java="$(java_bin)"
  javac="$(dirname "$java")/javac"
  [ -x "$javac" ] || return 0
  if [ -f "$DIR/classes/Main.class" ] && cmp -s "$SRC/Main.java" "$DIR/classes/Main.java"; then
    return 0
  fi
  tmp="$(mktemp -d "$DIR/classes.XXXXXX")"
  "$javac" --release 17 -nowarn -d "$tmp" -cp "$DIR/lib/*" "$SRC/Main.java" >&2
  cp "$SRC/Main.java" "$tmp/Main.java"
  rm -rf "$DIR/classes"
  mv "$tmp" "$DIR/classes"
}

install() {
  mkdir -p "$CACHE"
  # Test packages may start servers in parallel: one installer at a time.
  exec 9>"$CACHE/neo4j-$NEO4J_VERSION.lock"
  flock 9
  if [ ! -f "$DIR/lib/.complete" ]; then
    echo "fetching the jars of org.neo4j:neo4j:$NEO4J_VERSION into $DIR/lib" >&2
    mkdir -p "$DIR"
    rm -rf "$DIR/lib" "$DIR/lib.partial"
    fetch_jars "$DIR/lib.partial"
    touch "$DIR/lib.partial/.complete"
    mv "$DIR/lib.partial" "$DIR/lib"
  fi
  compile_main
  exec 9>&-
  echo "$DIR/lib"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# log_tail FILE: the last messages of a server log, without the Java stack frames (the causes stay).
log_tail() {
  grep -v -E '^[[:space:]]+(at |\.\.\. [0-9]+ more)' "$1" | tail -n 30 >&2 || true
}

start() {
  local data="$1" password="${2:-}" lib java port pid attempt deadline
  local -a main
  lib="$(install)"
  java="$(java_bin)"
  if [ -f "$DIR/classes/Main.class" ]; then
    main=(-cp "$DIR/classes:$lib/*" Main)
  else
    main=(-cp "$lib/*" "$SRC/Main.java")
  fi
  mkdir -p "$data"
  # If we are interrupted while waiting, the server must not be left behind.
  trap 'if [ -n "${pid:-}" ]; then kill -TERM "$pid" 2>/dev/null || true; fi; exit 143' TERM INT HUP
  # The port is free when we look; another process may take it before Neo4j binds it: then try another one.
  for attempt in 1 2 3; do
    port="$(free_port)"
    # The password goes through the environment: not visible in `ps`, not copied into Neo4j's debug.log.
    # The server's own output goes to a log file beside its data, never to our stdout.
    # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
    NEO4J_TEST_SERVER_PASSWORD="$password" "$java" $JAVA_OPTS "${main[@]}" "$data" "$port" \
      </dev/null >"$data.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if grep -qx READY "$data.log" 2>/dev/null; then
        trap - TERM INT HUP
        echo "bolt://127.0.0.1:$port $pid"
        return 0
      fi
      if ! alive "$pid"; then
        break
      fi
      sleep 0.1
    done
    if alive "$pid"; then
      echo "neo4j did not get ready within 120 s (its own log: $data/logs/debug.log); the end of $data.log:" >&2
      log_tail "$data.log"
      stop "$pid"
      return 1
    fi
    if [ "$attempt" -lt 3 ] && grep -q 'BindException\|Address already in use' "$data.log"; then
      echo "port $port was taken before neo4j could bind it; trying another one" >&2
      continue
    fi
    echo "neo4j exited during start-up (its own log: $data/logs/debug.log); the end of $data.log:" >&2
    log_tail "$data.log"
    return 1
  done
}

# alive PID: the process exists and has not exited. The server is started in the background of a `start` that
# has returned, so once it exits it waits as a zombie until init reaps it (seconds, on some machines); a zombie
# holds no port and no files, so it counts as stopped.
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  if read -r stat 2>/dev/null <"/proc/$1/stat"; then
    stat="${stat##*) }" # "PID (COMMAND) STATE ...": the state follows the last ") "
    [ "${stat%% *}" != Z ] || return 1
  fi
  return 0
}

stop() {
  local pid="$1" deadline=$((SECONDS + 30))
  kill -TERM "$pid" 2>/dev/null || return 0
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "neo4j (pid $pid) did not stop within 30 s of SIGTERM; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 5))
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "neo4j (pid $pid) is still there 5 s after SIGKILL" >&2
  return 1
}

# run_foreground DATADIR PORT [PASSWORD]: replaces this shell with the server (no fork), for a supervisor that
# owns the process — the orchestrator's managed mode (backends.neo4j_command). The password is moved into the
# environment before exec, so the Java command line (and Neo4j's debug.log) never carries it.
run_foreground() {
  local data="$1" port="$2" password="${3:-}" lib java
  local -a main
  lib="$(install)"
  java="$(java_bin)"
  if [ -f "$DIR/classes/Main.class" ]; then
    main=(-cp "$DIR/classes:$lib/*" Main)
  else
    main=(-cp "$lib/*" "$SRC/Main.java")
  fi
  mkdir -p "$data"
  export NEO4J_TEST_SERVER_PASSWORD="$password"
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of options
  exec "$java" $JAVA_OPTS "${main[@]}" "$data" "$port" </dev/null
}

case "${1:-}" in
  install) install ;;
  run) run_foreground "${2:?usage: neo4j.sh run DATADIR PORT [PASSWORD]}" "${3:?usage: neo4j.sh run DATADIR PORT [PASSWORD]}" "${4:-}" ;;
  start) start "${2:?usage: neo4j.sh start DATADIR [PASSWORD]}" "${3:-}" ;;
  stop) stop "${2:?usage: neo4j.sh stop PID}" ;;
  *) echo "usage: $0 install | start DATADIR [PASSWORD] | run DATADIR PORT [PASSWORD] | stop PID" >&2; exit 2 ;;
esac
