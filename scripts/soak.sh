#!/usr/bin/env bash
# The soak test: the release server binary on the power-loss filesystem (tests/powerloss/fs.rs)
# under a mixed workload for [minutes] (default 30), interrupted every interval by a power cut,
# kill -9 or SIGTERM in turn. After each restart it checks every acknowledged event (same offset
# and id, gapless, idempotency keys still deduplicated), the live and replaying subscribers, the
# retention-trimmed topics and the created and deleted ones; it fails if the server's memory or
# open files grow from the first third of the run to the last. It ends with a table per cycle.
#
# Usage: scripts/soak.sh [minutes]
#   EVENTSTREAM_SOAK_INTERVAL_SECONDS  seconds between interruptions (default 60, or a sixth of
#                                      a run shorter than 6 minutes)
#   EVENTSTREAM_POWERLOSS_SEED         replay a run's random choices (each run prints its seed)
# Needs /dev/fuse and root, like the other power-loss tests. Keep the output, e.g.
#   scripts/soak.sh 30 2>&1 | tee /tmp/soak-30.log
set -euo pipefail

minutes=${1:-30}
cd "$(dirname "$0")/.."
cargo test --release --locked --test powerloss --no-run
EVENTSTREAM_SOAK_MINUTES=$minutes exec cargo test --release --locked --test powerloss soak \
  -- --ignored --nocapture
