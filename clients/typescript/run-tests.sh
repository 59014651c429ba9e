#!/usr/bin/env bash
# Runs the TypeScript client's tests against the real server binary.
#
#   EVENTSTREAM_BIN=/path/to/eventstream clients/typescript/run-tests.sh
#
# EVENTSTREAM_BIN defaults to ../../target/debug/eventstream relative to this script (build it
# with `cargo build` at the repository root). Installs the locked dependencies (npm ci), compiles
# src/ and test/ with tsc into dist/, then runs `node --test` on the compiled tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export EVENTSTREAM_BIN="${EVENTSTREAM_BIN:-$here/../../target/debug/eventstream}"
if [ ! -x "$EVENTSTREAM_BIN" ]; then
  echo "eventstream binary not found at $EVENTSTREAM_BIN (run \`cargo build\` or set EVENTSTREAM_BIN)" >&2
  exit 1
fi
cd "$here"
npm ci --no-audit --no-fund --loglevel=error
# The API's proto must stay clean under buf's STANDARD lint rules (buf.yaml at the repository root).
npm run --silent lint:proto
rm -rf dist
npm run --silent build
npm test
