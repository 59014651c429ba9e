#!/usr/bin/env bash
# Builds the server and this example, then runs the example, which starts its own server in a
# temporary directory. Extra arguments go to the example (see --help).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --bin eventstream
exec cargo run --quiet --example bank-account -- "$@"
