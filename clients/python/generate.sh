#!/usr/bin/env bash
# Regenerates the protobuf/gRPC stubs in src/eventstream_client/v1/ from the canonical proto
# (../../proto/eventstream/v1/eventstream.proto) with grpcio-tools' bundled protoc: no system
# protoc is needed. The generated files are committed; run this after changing the proto.
#
# Usage: clients/python/generate.sh [OUT_DIR]   (OUT_DIR defaults to src/eventstream_client/v1)
# Uses the venv of run-tests.sh (clients/python/.venv), creating it if missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto_root="$(cd "$here/../../proto" && pwd)"
out="${1:-$here/src/eventstream_client/v1}"
python="${EVENTSTREAM_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$python" ]; then
  "$here/setup-venv.sh"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m grpc_tools.protoc -I "$proto_root" \
  --python_out="$tmp" --pyi_out="$tmp" --grpc_python_out="$tmp" \
  eventstream/v1/eventstream.proto
mkdir -p "$out"
for f in eventstream_pb2.py eventstream_pb2.pyi eventstream_pb2_grpc.py; do
  # protoc writes absolute imports of the proto package (`from eventstream.v1 import ...`);
  # inside this package they must be relative.
  sed -e 's/^from eventstream\.v1 import /from . import /' "$tmp/eventstream/v1/$f" > "$out/$f"
done
[ -f "$out/__init__.py" ] || printf '"""Generated protobuf and gRPC stubs for eventstream.v1 (see generate.sh)."""\n' > "$out/__init__.py"
echo "generated stubs in $out"
