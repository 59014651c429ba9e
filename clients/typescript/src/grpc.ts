/** Loads the service definition from the proto shipped with the package (see generate.sh). */

import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType } from './generated/eventstream';
import type { EventStreamServiceClient } from './generated/eventstream/v1/EventStreamService';

/** The proto, relative to the package root (dist/src/grpc.js -> ../../proto). */
export const PROTO_PATH = path.resolve(__dirname, '..', '..', 'proto', 'eventstream', 'v1', 'eventstream.proto');

/** Must match the proto-loader-gen-types options in generate.sh. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

let loaded: ProtoGrpcType | undefined;

/** The generated package object (message definitions and the service client constructor). */
export function protoPackage(): ProtoGrpcType {
  if (!loaded) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return loaded;
}

export type { EventStreamServiceClient };

/** Creates the raw generated gRPC client. */
export function createServiceClient(
  target: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ClientOptions,
): EventStreamServiceClient {
  const Service = protoPackage().eventstream.v1.EventStreamService;
  return new Service(target, credentials, options);
}
