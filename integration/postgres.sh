#!/usr/bin/env bash
# Runs a real PostgreSQL server for the tests (never a mock).
#
#   integration/postgres.sh install        -> prints the folder of the PostgreSQL server binaries (installs Debian's
#                                             postgresql package once where it is missing)
#   integration/postgres.sh start DATADIR  -> initialises DATADIR/pgdata (once), starts a server on a free 127.0.0.1 port,
#                                             waits until it accepts connections, prints
#                                             "postgres://orchestrator:PASSWORD@127.0.0.1:PORT/orchestrator?sslmode=disable PID"
#   integration/postgres.sh stop PID       -> SIGINT (fast shutdown), then waits for the process (SIGKILL after 30 s)
#
# The server listens on 127.0.0.1 only, with its unix socket in DATADIR/run (reachable by its owner alone) and fsync off:
# a test server, not a durable one. User `orchestrator` is a superuser (the tests create and drop a database each) with a
# random password, kept in DATADIR/password so that a second start on the same DATADIR gives the same URL; TCP logins
# must give it (scram-sha-256), the socket trusts its owner. initdb refuses to run as root, so as root (CI) the data
# folder belongs to the `postgres` user and initdb and pg_ctl run through `runuser -u postgres --`; the postgres user must
# then be able to reach DATADIR (a folder under /tmp is; one under a private mktemp -d folder is not).
#
# Environment: POSTGRES_BINDIR (the folder of initdb, pg_ctl, postgres, pg_isready, psql; found by itself otherwise),
# POSTGRES_STOP_TIMEOUT (seconds between SIGINT and SIGKILL, 30).
set -euo pipefail

PG_USER=orchestrator
PG_DB=orchestrator
STOP_TIMEOUT="${POSTGRES_STOP_TIMEOUT:-30}"

# usable DIR: DIR holds the server binaries this script runs.
usable() {
  local b
  for b in initdb pg_ctl postgres pg_isready psql; do
    [ -x "$1/$b" ] || return 1
  done
}

# bindir prints the folder of the server binaries: POSTGRES_BINDIR, else the folder initdb on PATH really lives in
# (Debian puts symlinks or its pg_wrapper in /usr/bin and /usr/local/bin), else the newest /usr/lib/postgresql/*/bin.
bindir() {
  local d initdb
  if [ -n "${POSTGRES_BINDIR:-}" ]; then
    usable "$POSTGRES_BINDIR" || { echo "POSTGRES_BINDIR=$POSTGRES_BINDIR lacks one of initdb, pg_ctl, postgres, pg_isready, psql" >&2; return 1; }
    echo "$POSTGRES_BINDIR"
    return 0
  fi
  if initdb="$(command -v initdb 2>/dev/null)"; then
    d="$(dirname "$(readlink -f "$initdb")")"
    if usable "$d"; then echo "$d"; return 0; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -V -r); do
    if usable "$d"; then echo "$d"; return 0; fi
  done
  return 1
}

install() {
  local d sudo=""
  if d="$(bindir)"; then echo "$d"; return 0; fi
  [ -z "${POSTGRES_BINDIR:-}" ] || return 1
  echo "PostgreSQL is not installed: installing Debian's postgresql package" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  # Debian would create and start a `main` cluster on port 5432 that the tests never use: ask it not to.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $sudo mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
  d="$(bindir)" || { echo "the postgresql package is installed but its binaries (initdb, pg_ctl, postgres, pg_isready, psql) were not found under /usr/lib/postgresql/*/bin" >&2; return 1; }
  echo "$d"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# as_owner CMD...: runs CMD as the owner of the data folder (`postgres` when we are root, else ourselves).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# alive PID: the process exists and has not exited (a zombie holds no port and no files, so it counts as stopped).
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  if read -r stat 2>/dev/null <"/proc/$1/stat"; then
    stat="${stat##*) }" # "PID (COMMAND) STATE ...": the state follows the last ") "
    [ "${stat%% *}" != Z ] || return 1
  fi
  return 0
}

# any_alive PID...: one of them is alive.
any_alive() {
  local p
  for p in "$@"; do
    if alive "$p"; then return 0; fi
  done
  return 1
}

log_tail() {
  tail -n 30 "$1" >&2 2>/dev/null || true
}

# postmaster_pid PGDATA: the server's PID from the first line of postmaster.pid, once it has written it.
postmaster_pid() {
  local pid=""
  if [ -f "$1/postmaster.pid" ]; then read -r pid <"$1/postmaster.pid" 2>/dev/null || true; fi
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  echo "$pid"
}

start() {
  local dir="$1" bin pgdata run log password pwfile port pid="" url attempt deadline
  bin="$(install)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  pgdata="$dir/pgdata" run="$dir/run" log="$dir/postgres.log"
  if [ "$(id -u)" -eq 0 ]; then
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "the postgres user cannot reach $dir (initdb refuses root, so the server runs as postgres): give a folder" \
        "under /tmp, or let others search its parent folders (chmod o+x)" >&2
      return 1
    fi
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    rm -rf "$pgdata"
    mkdir -m 700 "$pgdata"
    password="test-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && echo "$password" >"$dir/password")
    pwfile="$pgdata.pwfile"
    (umask 077 && echo "$password" >"$pwfile")
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pgdata" "$pwfile"; fi
    if ! as_owner "$bin/initdb" -D "$pgdata" -U "$PG_USER" --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$dir/initdb.log" 2>&1; then
      rm -f "$pwfile"
      echo "initdb failed for $pgdata; the end of its output ($dir/initdb.log):" >&2
      log_tail "$dir/initdb.log"
      return 1
    fi
    rm -f "$pwfile"
  fi
  password="$(cat "$dir/password")"
  # A server killed with SIGKILL leaves its postmaster.pid: remove it, so that the PID we read below is the new
  # server's. A live one means the folder is in use.
  if pid="$(postmaster_pid "$pgdata")"; then
    if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
      echo "a PostgreSQL server (pid $pid) already runs on $pgdata: stop it first (postgres.sh stop $pid)" >&2
      return 1
    fi
    rm -f "$pgdata/postmaster.pid"
  fi
  pid=""
  mkdir -p -m 700 "$run"
  : >"$log"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$run" "$log"; fi

  # If we are interrupted while waiting, the server must not be left behind.
  trap 'if [ -z "$pid" ]; then pid="$(postmaster_pid "$pgdata")" || pid=""; fi
    if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; fi; exit 143' TERM INT HUP
  # The port is free when we look; another process may take it before PostgreSQL binds it: then try another one.
  for attempt in 1 2 3; do
    port="$(free_port)"
    pid=""
    # pg_ctl starts the server in a session of its own and returns (-W: we wait ourselves, below); the server's
    # output goes to $log, never to our stdout.
    if ! as_owner "$bin/pg_ctl" -D "$pgdata" -l "$log" -W -s start -o "-c listen_addresses=127.0.0.1 -p $port \
        -c unix_socket_directories=$run -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200" >&2; then
      echo "pg_ctl could not start PostgreSQL on $pgdata; the end of $log:" >&2
      log_tail "$log"
      return 1
    fi
    deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if [ -z "$pid" ]; then pid="$(postmaster_pid "$pgdata")" || pid=""; fi
      if [ -n "$pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -t 1; then
        break
      fi
      if [ -n "$pid" ] && ! alive "$pid"; then break; fi
      sleep 0.1
    done
    if [ -n "$pid" ] && alive "$pid" && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -t 1; then
      break
    fi
    if [ -n "$pid" ] && alive "$pid"; then
      echo "PostgreSQL (pid $pid) did not accept connections on 127.0.0.1:$port within 60 s; the end of $log:" >&2
      log_tail "$log"
      stop "$pid"
      return 1
    fi
    if [ "$attempt" -lt 3 ] && grep -q 'could not bind\|Address already in use' "$log"; then
      echo "port $port was taken before PostgreSQL could bind it; trying another one" >&2
      continue
    fi
    echo "PostgreSQL exited during start-up (or never wrote $pgdata/postmaster.pid); the end of $log:" >&2
    log_tail "$log"
    return 1
  done

  # The test database, created once, over TCP with the password: proves the URL we print works.
  if ! PGPASSWORD="$password" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
      -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    if ! PGPASSWORD="$password" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PG_USER" -d postgres \
        -c "CREATE DATABASE $PG_DB" >&2; then
      echo "PostgreSQL (pid $pid) is up but creating the database $PG_DB failed; stopping it" >&2
      stop "$pid"
      return 1
    fi
  fi
  trap - TERM INT HUP
  url="postgres://$PG_USER:$password@127.0.0.1:$port/$PG_DB?sslmode=disable"
  echo "$url $pid"
}

stop() {
  local pid="$1" deadline comm="" children
  case "$pid" in '' | *[!0-9]*) echo "stop: $pid is not a process id" >&2; return 2 ;; esac
  alive "$pid" || return 0
  read -r comm 2>/dev/null <"/proc/$pid/comm" || true
  if [ "$comm" != postgres ]; then
    echo "stop: process $pid is $comm, not a PostgreSQL server; not stopping it" >&2
    return 1
  fi
  # SIGINT is PostgreSQL's fast shutdown: sessions are ended, the server checkpoints and exits.
  kill -INT "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + STOP_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "PostgreSQL (pid $pid) did not stop within $STOP_TIMEOUT s of SIGINT; killing it and its processes" >&2
  # Each of its processes (backends, checkpointer, ...) has a session of its own: SIGKILL them by parent, so that
  # none is left behind.
  children="$(ps -o pid= --ppid "$pid" 2>/dev/null || true)"
  kill -KILL "$pid" 2>/dev/null || true
  # shellcheck disable=SC2086 # a list of PIDs
  if [ -n "$children" ]; then kill -KILL $children 2>/dev/null || true; fi
  deadline=$((SECONDS + 5))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! alive "$pid" && ! any_alive $children; then return 0; fi
    sleep 0.1
  done
  echo "PostgreSQL (pid $pid) or one of its processes ($children) is still there 5 s after SIGKILL" >&2
  return 1
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: postgres.sh start DATADIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop PID}" ;;
  *) echo "usage: $0 install | start DATADIR | stop PID" >&2; exit 2 ;;
esac
