/**
 * TypeScript client for the eventstream gRPC server.
 *
 * - `EventStreamClient.publish`: exactly-once effect (idempotency keys assigned before the first
 *   attempt, transient failures retried with the same keys).
 * - `EventStreamClient.subscribe`: an async iterable that reconnects and resumes from the last
 *   `nextOffset` after dropped connections and server restarts.
 * - `DurableConsumer`: position, processed ids and handler state in one atomically replaced file.
 * - `GroupConsumer`: a consumer group member; events shared among members, acked or given back
 *   per handler outcome, processed ids recorded until their acks are durable.
 */

export {
  EventStreamClient,
  DEFAULT_CHANNEL_OPTIONS,
  tlsCredentials,
  type ClientOptions,
  type CreateConsumerGroupOptions,
  type CreateTopicOptions,
  type ResetTarget,
  type TlsFiles,
} from './client';
export { Subscription, type SubscribeOptions } from './subscription';
export {
  DurableConsumer,
  type ConsumerContext,
  type ConsumerHandler,
  type DurableConsumerOptions,
} from './consumer';
export {
  GroupConsumer,
  type DeliveryContext,
  type GroupConsumerOptions,
  type GroupHandler,
} from './groupConsumer';
export {
  EventStreamError,
  InvalidArgumentError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  IdempotencyConflictError,
  OutOfRangeError,
  UnavailableError,
  DataLossError,
  UnauthenticatedError,
  PermissionDeniedError,
  TRANSIENT_CODES,
} from './errors';
export { DEFAULT_PUBLISH_RETRY, DEFAULT_RECONNECT, type RetryPolicy } from './retry';
export type { Batch, ConsumerGroupInfo, Event, NewEvent, OutOfRangePolicy, Published, TopicInfo } from './types';
export { PROTO_PATH, protoPackage } from './grpc';
export type { ProtoGrpcType } from './generated/eventstream';
