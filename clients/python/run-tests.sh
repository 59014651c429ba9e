#!/usr/bin/env bash
# Runs the Python client's tests against the real server binary.
#
#   EVENTSTREAM_BIN=/path/to/eventstream clients/python/run-tests.sh [pytest args...]
#
# EVENTSTREAM_BIN defaults to ../../target/debug/eventstream relative to this script (build it
# with `cargo build` at the repository root). Creates clients/python/.venv and installs the
# package with its pinned test extras, type-checks with mypy --strict, then runs pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export EVENTSTREAM_BIN="${EVENTSTREAM_BIN:-$here/../../target/debug/eventstream}"
if [ ! -x "$EVENTSTREAM_BIN" ]; then
  echo "eventstream binary not found at $EVENTSTREAM_BIN (run \`cargo build\` or set EVENTSTREAM_BIN)" >&2
  exit 1
fi
"$here/setup-venv.sh"
cd "$here"
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
