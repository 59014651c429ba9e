// Original file: proto/eventstream/v1/eventstream.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateTopicRequest as _eventstream_v1_CreateTopicRequest, CreateTopicRequest__Output as _eventstream_v1_CreateTopicRequest__Output } from '../../eventstream/v1/CreateTopicRequest';
import type { CreateTopicResponse as _eventstream_v1_CreateTopicResponse, CreateTopicResponse__Output as _eventstream_v1_CreateTopicResponse__Output } from '../../eventstream/v1/CreateTopicResponse';
import type { DeleteTopicRequest as _eventstream_v1_DeleteTopicRequest, DeleteTopicRequest__Output as _eventstream_v1_DeleteTopicRequest__Output } from '../../eventstream/v1/DeleteTopicRequest';
import type { DeleteTopicResponse as _eventstream_v1_DeleteTopicResponse, DeleteTopicResponse__Output as _eventstream_v1_DeleteTopicResponse__Output } from '../../eventstream/v1/DeleteTopicResponse';
import type { GetCursorRequest as _eventstream_v1_GetCursorRequest, GetCursorRequest__Output as _eventstream_v1_GetCursorRequest__Output } from '../../eventstream/v1/GetCursorRequest';
import type { GetCursorResponse as _eventstream_v1_GetCursorResponse, GetCursorResponse__Output as _eventstream_v1_GetCursorResponse__Output } from '../../eventstream/v1/GetCursorResponse';
import type { GetTopicRequest as _eventstream_v1_GetTopicRequest, GetTopicRequest__Output as _eventstream_v1_GetTopicRequest__Output } from '../../eventstream/v1/GetTopicRequest';
import type { GetTopicResponse as _eventstream_v1_GetTopicResponse, GetTopicResponse__Output as _eventstream_v1_GetTopicResponse__Output } from '../../eventstream/v1/GetTopicResponse';
import type { ListTopicsRequest as _eventstream_v1_ListTopicsRequest, ListTopicsRequest__Output as _eventstream_v1_ListTopicsRequest__Output } from '../../eventstream/v1/ListTopicsRequest';
import type { ListTopicsResponse as _eventstream_v1_ListTopicsResponse, ListTopicsResponse__Output as _eventstream_v1_ListTopicsResponse__Output } from '../../eventstream/v1/ListTopicsResponse';
import type { PublishRequest as _eventstream_v1_PublishRequest, PublishRequest__Output as _eventstream_v1_PublishRequest__Output } from '../../eventstream/v1/PublishRequest';
import type { PublishResponse as _eventstream_v1_PublishResponse, PublishResponse__Output as _eventstream_v1_PublishResponse__Output } from '../../eventstream/v1/PublishResponse';
import type { PublishStreamRequest as _eventstream_v1_PublishStreamRequest, PublishStreamRequest__Output as _eventstream_v1_PublishStreamRequest__Output } from '../../eventstream/v1/PublishStreamRequest';
import type { PublishStreamResponse as _eventstream_v1_PublishStreamResponse, PublishStreamResponse__Output as _eventstream_v1_PublishStreamResponse__Output } from '../../eventstream/v1/PublishStreamResponse';
import type { SubscribeRequest as _eventstream_v1_SubscribeRequest, SubscribeRequest__Output as _eventstream_v1_SubscribeRequest__Output } from '../../eventstream/v1/SubscribeRequest';
import type { SubscribeResponse as _eventstream_v1_SubscribeResponse, SubscribeResponse__Output as _eventstream_v1_SubscribeResponse__Output } from '../../eventstream/v1/SubscribeResponse';

/**
 * The event-streaming API: publish to topics, subscribe to them, manage them.
 */
export interface EventStreamServiceClient extends grpc.Client {
  /**
   * Creates a topic with the given configuration. ALREADY_EXISTS if the name is taken.
   */
  CreateTopic(argument: _eventstream_v1_CreateTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  CreateTopic(argument: _eventstream_v1_CreateTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  CreateTopic(argument: _eventstream_v1_CreateTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  CreateTopic(argument: _eventstream_v1_CreateTopicRequest, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a topic with the given configuration. ALREADY_EXISTS if the name is taken.
   */
  createTopic(argument: _eventstream_v1_CreateTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  createTopic(argument: _eventstream_v1_CreateTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  createTopic(argument: _eventstream_v1_CreateTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  createTopic(argument: _eventstream_v1_CreateTopicRequest, callback: grpc.requestCallback<_eventstream_v1_CreateTopicResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Deletes a topic with its events, idempotency index and metadata.
   * 
   * Live subscriptions to it end with NOT_FOUND. NOT_FOUND if the topic does not exist.
   */
  DeleteTopic(argument: _eventstream_v1_DeleteTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  DeleteTopic(argument: _eventstream_v1_DeleteTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  DeleteTopic(argument: _eventstream_v1_DeleteTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  DeleteTopic(argument: _eventstream_v1_DeleteTopicRequest, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Deletes a topic with its events, idempotency index and metadata.
   * 
   * Live subscriptions to it end with NOT_FOUND. NOT_FOUND if the topic does not exist.
   */
  deleteTopic(argument: _eventstream_v1_DeleteTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  deleteTopic(argument: _eventstream_v1_DeleteTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  deleteTopic(argument: _eventstream_v1_DeleteTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  deleteTopic(argument: _eventstream_v1_DeleteTopicRequest, callback: grpc.requestCallback<_eventstream_v1_DeleteTopicResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Reads a named cursor stored with a topic (see `PublishRequest.cursor`). NOT_FOUND if the
   * topic does not exist or the cursor was never set.
   */
  GetCursor(argument: _eventstream_v1_GetCursorRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  GetCursor(argument: _eventstream_v1_GetCursorRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  GetCursor(argument: _eventstream_v1_GetCursorRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  GetCursor(argument: _eventstream_v1_GetCursorRequest, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Reads a named cursor stored with a topic (see `PublishRequest.cursor`). NOT_FOUND if the
   * topic does not exist or the cursor was never set.
   */
  getCursor(argument: _eventstream_v1_GetCursorRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  getCursor(argument: _eventstream_v1_GetCursorRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  getCursor(argument: _eventstream_v1_GetCursorRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  getCursor(argument: _eventstream_v1_GetCursorRequest, callback: grpc.requestCallback<_eventstream_v1_GetCursorResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Describes one topic: configuration, retained offset range and stored size. NOT_FOUND if missing.
   */
  GetTopic(argument: _eventstream_v1_GetTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  GetTopic(argument: _eventstream_v1_GetTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  GetTopic(argument: _eventstream_v1_GetTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  GetTopic(argument: _eventstream_v1_GetTopicRequest, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Describes one topic: configuration, retained offset range and stored size. NOT_FOUND if missing.
   */
  getTopic(argument: _eventstream_v1_GetTopicRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  getTopic(argument: _eventstream_v1_GetTopicRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  getTopic(argument: _eventstream_v1_GetTopicRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  getTopic(argument: _eventstream_v1_GetTopicRequest, callback: grpc.requestCallback<_eventstream_v1_GetTopicResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Lists all topics, sorted by name.
   */
  ListTopics(argument: _eventstream_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _eventstream_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _eventstream_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _eventstream_v1_ListTopicsRequest, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Lists all topics, sorted by name.
   */
  listTopics(argument: _eventstream_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _eventstream_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _eventstream_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _eventstream_v1_ListTopicsRequest, callback: grpc.requestCallback<_eventstream_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Appends events to a topic, all or nothing, contiguously and in request order.
   * 
   * Returns once every appended event is durable (with default settings), with one result per
   * event in request order. Events whose idempotency key was already appended within the topic's
   * dedup window are not appended again; their result repeats the original one with
   * `duplicate = true`. Errors: INVALID_ARGUMENT (bad topic name, no events, empty type,
   * idempotency key over 256 bytes, payload over the server's limit), NOT_FOUND (topic missing and
   * auto-create off), FAILED_PRECONDITION (an idempotency key reused with a different type or
   * payload; nothing of the request is appended), ABORTED (an expectation failed:
   * `expected_next_offset`, an event's `expected_key_version` or the cursor's
   * `expected_position`; nothing of the request is appended, and the status carries a
   * google.rpc.ErrorInfo detail with the current value), RESOURCE_EXHAUSTED (the disk is full).
   * 
   * Order of checks: validation; then idempotency (an event whose key was already appended is a
   * duplicate); if every event is a duplicate, the request is a retry of one already appended and
   * succeeds with the original results, checking no expectation and leaving the cursor alone;
   * otherwise `expected_next_offset`, then each new event's `expected_key_version` in request
   * order (counting the request's own earlier events), then the cursor's `expected_position`.
   * Expectations are checked inside the group commit, so they hold under any concurrency.
   */
  Publish(argument: _eventstream_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _eventstream_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _eventstream_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  Publish(argument: _eventstream_v1_PublishRequest, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Appends events to a topic, all or nothing, contiguously and in request order.
   * 
   * Returns once every appended event is durable (with default settings), with one result per
   * event in request order. Events whose idempotency key was already appended within the topic's
   * dedup window are not appended again; their result repeats the original one with
   * `duplicate = true`. Errors: INVALID_ARGUMENT (bad topic name, no events, empty type,
   * idempotency key over 256 bytes, payload over the server's limit), NOT_FOUND (topic missing and
   * auto-create off), FAILED_PRECONDITION (an idempotency key reused with a different type or
   * payload; nothing of the request is appended), ABORTED (an expectation failed:
   * `expected_next_offset`, an event's `expected_key_version` or the cursor's
   * `expected_position`; nothing of the request is appended, and the status carries a
   * google.rpc.ErrorInfo detail with the current value), RESOURCE_EXHAUSTED (the disk is full).
   * 
   * Order of checks: validation; then idempotency (an event whose key was already appended is a
   * duplicate); if every event is a duplicate, the request is a retry of one already appended and
   * succeeds with the original results, checking no expectation and leaving the cursor alone;
   * otherwise `expected_next_offset`, then each new event's `expected_key_version` in request
   * order (counting the request's own earlier events), then the cursor's `expected_position`.
   * Expectations are checked inside the group commit, so they hold under any concurrency.
   */
  publish(argument: _eventstream_v1_PublishRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _eventstream_v1_PublishRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _eventstream_v1_PublishRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  publish(argument: _eventstream_v1_PublishRequest, callback: grpc.requestCallback<_eventstream_v1_PublishResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Publishes many requests over one stream, pipelined: the client sends requests without
   * waiting, and gets one response per request, in request order, each once that request's
   * events are durable.
   * 
   * Every Publish rule holds per request (all-or-nothing append, idempotency, validation). A
   * request that fails gets a response carrying its error, and the stream goes on; requests
   * before and after it are unaffected. The stream ends with UNAVAILABLE when the server shuts
   * down (responses for requests already received are sent first).
   */
  PublishStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse__Output>;
  PublishStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse__Output>;
  /**
   * Publishes many requests over one stream, pipelined: the client sends requests without
   * waiting, and gets one response per request, in request order, each once that request's
   * events are durable.
   * 
   * Every Publish rule holds per request (all-or-nothing append, idempotency, validation). A
   * request that fails gets a response carrying its error, and the stream goes on; requests
   * before and after it are unaffected. The stream ends with UNAVAILABLE when the server shuts
   * down (responses for requests already received are sent first).
   */
  publishStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse__Output>;
  publishStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse__Output>;
  
  /**
   * Streams a topic's events in offset order from a start position, then follows new events live.
   * 
   * The catch-up/live boundary has no gap and no duplicate. Every response carries `next_offset`,
   * the position to resume from after a disconnect. Errors: OUT_OF_RANGE (start offset outside
   * the retained range, or events removed by retention before they could be delivered),
   * NOT_FOUND (topic missing with auto-create off, or deleted while subscribed), UNAVAILABLE (the
   * server is shutting down: reconnect and resume from the last `next_offset`).
   */
  Subscribe(argument: _eventstream_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_eventstream_v1_SubscribeResponse__Output>;
  Subscribe(argument: _eventstream_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_eventstream_v1_SubscribeResponse__Output>;
  /**
   * Streams a topic's events in offset order from a start position, then follows new events live.
   * 
   * The catch-up/live boundary has no gap and no duplicate. Every response carries `next_offset`,
   * the position to resume from after a disconnect. Errors: OUT_OF_RANGE (start offset outside
   * the retained range, or events removed by retention before they could be delivered),
   * NOT_FOUND (topic missing with auto-create off, or deleted while subscribed), UNAVAILABLE (the
   * server is shutting down: reconnect and resume from the last `next_offset`).
   */
  subscribe(argument: _eventstream_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_eventstream_v1_SubscribeResponse__Output>;
  subscribe(argument: _eventstream_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_eventstream_v1_SubscribeResponse__Output>;
  
}

/**
 * The event-streaming API: publish to topics, subscribe to them, manage them.
 */
export interface EventStreamServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Creates a topic with the given configuration. ALREADY_EXISTS if the name is taken.
   */
  CreateTopic: grpc.handleUnaryCall<_eventstream_v1_CreateTopicRequest__Output, _eventstream_v1_CreateTopicResponse>;
  
  /**
   * Deletes a topic with its events, idempotency index and metadata.
   * 
   * Live subscriptions to it end with NOT_FOUND. NOT_FOUND if the topic does not exist.
   */
  DeleteTopic: grpc.handleUnaryCall<_eventstream_v1_DeleteTopicRequest__Output, _eventstream_v1_DeleteTopicResponse>;
  
  /**
   * Reads a named cursor stored with a topic (see `PublishRequest.cursor`). NOT_FOUND if the
   * topic does not exist or the cursor was never set.
   */
  GetCursor: grpc.handleUnaryCall<_eventstream_v1_GetCursorRequest__Output, _eventstream_v1_GetCursorResponse>;
  
  /**
   * Describes one topic: configuration, retained offset range and stored size. NOT_FOUND if missing.
   */
  GetTopic: grpc.handleUnaryCall<_eventstream_v1_GetTopicRequest__Output, _eventstream_v1_GetTopicResponse>;
  
  /**
   * Lists all topics, sorted by name.
   */
  ListTopics: grpc.handleUnaryCall<_eventstream_v1_ListTopicsRequest__Output, _eventstream_v1_ListTopicsResponse>;
  
  /**
   * Appends events to a topic, all or nothing, contiguously and in request order.
   * 
   * Returns once every appended event is durable (with default settings), with one result per
   * event in request order. Events whose idempotency key was already appended within the topic's
   * dedup window are not appended again; their result repeats the original one with
   * `duplicate = true`. Errors: INVALID_ARGUMENT (bad topic name, no events, empty type,
   * idempotency key over 256 bytes, payload over the server's limit), NOT_FOUND (topic missing and
   * auto-create off), FAILED_PRECONDITION (an idempotency key reused with a different type or
   * payload; nothing of the request is appended), ABORTED (an expectation failed:
   * `expected_next_offset`, an event's `expected_key_version` or the cursor's
   * `expected_position`; nothing of the request is appended, and the status carries a
   * google.rpc.ErrorInfo detail with the current value), RESOURCE_EXHAUSTED (the disk is full).
   * 
   * Order of checks: validation; then idempotency (an event whose key was already appended is a
   * duplicate); if every event is a duplicate, the request is a retry of one already appended and
   * succeeds with the original results, checking no expectation and leaving the cursor alone;
   * otherwise `expected_next_offset`, then each new event's `expected_key_version` in request
   * order (counting the request's own earlier events), then the cursor's `expected_position`.
   * Expectations are checked inside the group commit, so they hold under any concurrency.
   */
  Publish: grpc.handleUnaryCall<_eventstream_v1_PublishRequest__Output, _eventstream_v1_PublishResponse>;
  
  /**
   * Publishes many requests over one stream, pipelined: the client sends requests without
   * waiting, and gets one response per request, in request order, each once that request's
   * events are durable.
   * 
   * Every Publish rule holds per request (all-or-nothing append, idempotency, validation). A
   * request that fails gets a response carrying its error, and the stream goes on; requests
   * before and after it are unaffected. The stream ends with UNAVAILABLE when the server shuts
   * down (responses for requests already received are sent first).
   */
  PublishStream: grpc.handleBidiStreamingCall<_eventstream_v1_PublishStreamRequest__Output, _eventstream_v1_PublishStreamResponse>;
  
  /**
   * Streams a topic's events in offset order from a start position, then follows new events live.
   * 
   * The catch-up/live boundary has no gap and no duplicate. Every response carries `next_offset`,
   * the position to resume from after a disconnect. Errors: OUT_OF_RANGE (start offset outside
   * the retained range, or events removed by retention before they could be delivered),
   * NOT_FOUND (topic missing with auto-create off, or deleted while subscribed), UNAVAILABLE (the
   * server is shutting down: reconnect and resume from the last `next_offset`).
   */
  Subscribe: grpc.handleServerStreamingCall<_eventstream_v1_SubscribeRequest__Output, _eventstream_v1_SubscribeResponse>;
  
}

export interface EventStreamServiceDefinition extends grpc.ServiceDefinition {
  CreateTopic: MethodDefinition<_eventstream_v1_CreateTopicRequest, _eventstream_v1_CreateTopicResponse, _eventstream_v1_CreateTopicRequest__Output, _eventstream_v1_CreateTopicResponse__Output>
  DeleteTopic: MethodDefinition<_eventstream_v1_DeleteTopicRequest, _eventstream_v1_DeleteTopicResponse, _eventstream_v1_DeleteTopicRequest__Output, _eventstream_v1_DeleteTopicResponse__Output>
  GetCursor: MethodDefinition<_eventstream_v1_GetCursorRequest, _eventstream_v1_GetCursorResponse, _eventstream_v1_GetCursorRequest__Output, _eventstream_v1_GetCursorResponse__Output>
  GetTopic: MethodDefinition<_eventstream_v1_GetTopicRequest, _eventstream_v1_GetTopicResponse, _eventstream_v1_GetTopicRequest__Output, _eventstream_v1_GetTopicResponse__Output>
  ListTopics: MethodDefinition<_eventstream_v1_ListTopicsRequest, _eventstream_v1_ListTopicsResponse, _eventstream_v1_ListTopicsRequest__Output, _eventstream_v1_ListTopicsResponse__Output>
  Publish: MethodDefinition<_eventstream_v1_PublishRequest, _eventstream_v1_PublishResponse, _eventstream_v1_PublishRequest__Output, _eventstream_v1_PublishResponse__Output>
  PublishStream: MethodDefinition<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse, _eventstream_v1_PublishStreamRequest__Output, _eventstream_v1_PublishStreamResponse__Output>
  Subscribe: MethodDefinition<_eventstream_v1_SubscribeRequest, _eventstream_v1_SubscribeResponse, _eventstream_v1_SubscribeRequest__Output, _eventstream_v1_SubscribeResponse__Output>
}
