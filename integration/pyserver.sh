#!/usr/bin/env bash
# Installs the Python mcp-task-orchestrator (the server whose projects `mcp-task-orchestrator migrate` imports)
# for the tests (never a mock).
#
#   integration/pyserver.sh install  -> prints the path of an executable that runs the pinned Python server over stdio
#                                       (installs it once)
#   integration/pyserver.sh python   -> prints the path of the python inside its virtualenv
#
# It comes from PyPI (mcp-task-orchestrator, pinned), installed into a virtualenv in a cache folder so a second run
# reuses it. Nothing is downloaded from anywhere but the package registry.
#
# Two things about version 1.8.0 that this script works around:
#  - it asks for mcp>=1.9.0 with no upper bound, and mcp 2.x removed the decorator API its server.py uses, so every
#    dependency is pinned below to a set known to start and serve;
#  - its console script (mcp-task-orchestrator) loads server.py as a top-level module, whose relative imports then fail
#    ("attempted relative import with no known parent package"), so the launcher printed here runs
#    `python -m mcp_task_orchestrator.server` instead, which is the same server.
set -euo pipefail

PYSERVER_VERSION="1.8.0"
# shellcheck source=lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
VENV="$CACHE/pyserver-$PYSERVER_VERSION"
LAUNCHER="$VENV/bin/mcp-task-orchestrator-stdio"

install() {
  if [ ! -x "$LAUNCHER" ]; then
    echo "installing mcp-task-orchestrator==$PYSERVER_VERSION into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    cat >"$VENV/constraints.txt" <<'PINS'
aiofiles==25.1.0
alembic==1.20.1
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
certifi==2026.10.19.post1
click==8.5.1
filelock==4.3.1
h11==0.16.0
httpcore==1.0.9
httpx==0.28.1
httpx-sse==0.4.3
idna==3.20
Jinja2==3.1.6
Mako==1.4.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mcp==1.9.4
mdurl==0.1.2
psutil==7.2.2
pydantic==2.11.7
pydantic-settings==2.16.3
pydantic_core==2.33.2
Pygments==2.21.0
python-dotenv==1.2.4
python-multipart==0.0.34
PyYAML==6.0.4
rich==15.0.0
shellingham==1.5.4
SQLAlchemy==2.1.9
sse-starlette==3.7.0
starlette==1.10.0
typer==0.29.2
typing-inspection==0.4.5
typing_extensions==4.16.0
uvicorn==0.54.0
PINS
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -c "$VENV/constraints.txt" \
      "mcp-task-orchestrator==$PYSERVER_VERSION" >&2
    "$VENV/bin/python" -c 'import mcp_task_orchestrator.server' >&2
    # Written last: its presence means the install finished.
    printf '#!/bin/sh\nexec "%s" -m mcp_task_orchestrator.server "$@"\n' "$VENV/bin/python" >"$LAUNCHER.tmp"
    chmod 0755 "$LAUNCHER.tmp"
    mv "$LAUNCHER.tmp" "$LAUNCHER"
  fi
  echo "$LAUNCHER"
}

case "${1:-}" in
  install) install ;;
  python) install >/dev/null; echo "$VENV/bin/python" ;;
  *) echo "usage: $0 install | python" >&2; exit 2 ;;
esac
