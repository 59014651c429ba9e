"""Generated protobuf and gRPC stubs for eventstream.v1 (see generate.sh)."""
