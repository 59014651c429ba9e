#!/usr/bin/env bash
# Regenerates the TypeScript types in src/generated/ from the canonical proto with
# @grpc/proto-loader's proto-loader-gen-types (pure npm: no protoc binary), and copies the proto
# to proto/, which the client loads at run time. Both are committed; run this (after `npm ci`)
# whenever ../../proto/eventstream/v1/eventstream.proto changes.
#
# Usage: clients/typescript/generate.sh [OUT_DIR]   (OUT_DIR defaults to this directory)
# With OUT_DIR, writes OUT_DIR/proto and OUT_DIR/src/generated instead (used by the staleness test).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here}"
proto_root="$here/../../proto"
rel="eventstream/v1/eventstream.proto"

mkdir -p "$out/proto/eventstream/v1"
cp "$proto_root/$rel" "$out/proto/$rel"
rm -rf "$out/src/generated"
# These options must match the loader options in src/grpc.ts. Run from $out with a relative
# include dir, so the "Original file" comments do not depend on where the checkout is.
cd "$out"
"$here/node_modules/.bin/proto-loader-gen-types" \
  --longs=String --enums=String --defaults --oneofs --bytes=Buffer \
  --grpcLib=@grpc/grpc-js --includeComments \
  --outDir=src/generated --includeDirs=proto -- "$rel" > /dev/null
echo "generated types in $out/src/generated"
