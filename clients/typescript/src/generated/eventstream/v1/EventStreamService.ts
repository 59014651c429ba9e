// Original file: proto/eventstream/v1/eventstream.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ConsumeRequest as _eventstream_v1_ConsumeRequest, ConsumeRequest__Output as _eventstream_v1_ConsumeRequest__Output } from '../../eventstream/v1/ConsumeRequest';
import type { ConsumeResponse as _eventstream_v1_ConsumeResponse, ConsumeResponse__Output as _eventstream_v1_ConsumeResponse__Output } from '../../eventstream/v1/ConsumeResponse';
import type { CreateConsumerGroupRequest as _eventstream_v1_CreateConsumerGroupRequest, CreateConsumerGroupRequest__Output as _eventstream_v1_CreateConsumerGroupRequest__Output } from '../../eventstream/v1/CreateConsumerGroupRequest';
import type { CreateConsumerGroupResponse as _eventstream_v1_CreateConsumerGroupResponse, CreateConsumerGroupResponse__Output as _eventstream_v1_CreateConsumerGroupResponse__Output } from '../../eventstream/v1/CreateConsumerGroupResponse';
import type { CreateTopicRequest as _eventstream_v1_CreateTopicRequest, CreateTopicRequest__Output as _eventstream_v1_CreateTopicRequest__Output } from '../../eventstream/v1/CreateTopicRequest';
import type { CreateTopicResponse as _eventstream_v1_CreateTopicResponse, CreateTopicResponse__Output as _eventstream_v1_CreateTopicResponse__Output } from '../../eventstream/v1/CreateTopicResponse';
import type { DeleteConsumerGroupRequest as _eventstream_v1_DeleteConsumerGroupRequest, DeleteConsumerGroupRequest__Output as _eventstream_v1_DeleteConsumerGroupRequest__Output } from '../../eventstream/v1/DeleteConsumerGroupRequest';
import type { DeleteConsumerGroupResponse as _eventstream_v1_DeleteConsumerGroupResponse, DeleteConsumerGroupResponse__Output as _eventstream_v1_DeleteConsumerGroupResponse__Output } from '../../eventstream/v1/DeleteConsumerGroupResponse';
import type { DeleteTopicRequest as _eventstream_v1_DeleteTopicRequest, DeleteTopicRequest__Output as _eventstream_v1_DeleteTopicRequest__Output } from '../../eventstream/v1/DeleteTopicRequest';
import type { DeleteTopicResponse as _eventstream_v1_DeleteTopicResponse, DeleteTopicResponse__Output as _eventstream_v1_DeleteTopicResponse__Output } from '../../eventstream/v1/DeleteTopicResponse';
import type { GetConsumerGroupRequest as _eventstream_v1_GetConsumerGroupRequest, GetConsumerGroupRequest__Output as _eventstream_v1_GetConsumerGroupRequest__Output } from '../../eventstream/v1/GetConsumerGroupRequest';
import type { GetConsumerGroupResponse as _eventstream_v1_GetConsumerGroupResponse, GetConsumerGroupResponse__Output as _eventstream_v1_GetConsumerGroupResponse__Output } from '../../eventstream/v1/GetConsumerGroupResponse';
import type { GetCursorRequest as _eventstream_v1_GetCursorRequest, GetCursorRequest__Output as _eventstream_v1_GetCursorRequest__Output } from '../../eventstream/v1/GetCursorRequest';
import type { GetCursorResponse as _eventstream_v1_GetCursorResponse, GetCursorResponse__Output as _eventstream_v1_GetCursorResponse__Output } from '../../eventstream/v1/GetCursorResponse';
import type { GetTopicRequest as _eventstream_v1_GetTopicRequest, GetTopicRequest__Output as _eventstream_v1_GetTopicRequest__Output } from '../../eventstream/v1/GetTopicRequest';
import type { GetTopicResponse as _eventstream_v1_GetTopicResponse, GetTopicResponse__Output as _eventstream_v1_GetTopicResponse__Output } from '../../eventstream/v1/GetTopicResponse';
import type { ListConsumerGroupsRequest as _eventstream_v1_ListConsumerGroupsRequest, ListConsumerGroupsRequest__Output as _eventstream_v1_ListConsumerGroupsRequest__Output } from '../../eventstream/v1/ListConsumerGroupsRequest';
import type { ListConsumerGroupsResponse as _eventstream_v1_ListConsumerGroupsResponse, ListConsumerGroupsResponse__Output as _eventstream_v1_ListConsumerGroupsResponse__Output } from '../../eventstream/v1/ListConsumerGroupsResponse';
import type { ListTopicsRequest as _eventstream_v1_ListTopicsRequest, ListTopicsRequest__Output as _eventstream_v1_ListTopicsRequest__Output } from '../../eventstream/v1/ListTopicsRequest';
import type { ListTopicsResponse as _eventstream_v1_ListTopicsResponse, ListTopicsResponse__Output as _eventstream_v1_ListTopicsResponse__Output } from '../../eventstream/v1/ListTopicsResponse';
import type { PublishRequest as _eventstream_v1_PublishRequest, PublishRequest__Output as _eventstream_v1_PublishRequest__Output } from '../../eventstream/v1/PublishRequest';
import type { PublishResponse as _eventstream_v1_PublishResponse, PublishResponse__Output as _eventstream_v1_PublishResponse__Output } from '../../eventstream/v1/PublishResponse';
import type { PublishStreamRequest as _eventstream_v1_PublishStreamRequest, PublishStreamRequest__Output as _eventstream_v1_PublishStreamRequest__Output } from '../../eventstream/v1/PublishStreamRequest';
import type { PublishStreamResponse as _eventstream_v1_PublishStreamResponse, PublishStreamResponse__Output as _eventstream_v1_PublishStreamResponse__Output } from '../../eventstream/v1/PublishStreamResponse';
import type { ResetConsumerGroupRequest as _eventstream_v1_ResetConsumerGroupRequest, ResetConsumerGroupRequest__Output as _eventstream_v1_ResetConsumerGroupRequest__Output } from '../../eventstream/v1/ResetConsumerGroupRequest';
import type { ResetConsumerGroupResponse as _eventstream_v1_ResetConsumerGroupResponse, ResetConsumerGroupResponse__Output as _eventstream_v1_ResetConsumerGroupResponse__Output } from '../../eventstream/v1/ResetConsumerGroupResponse';
import type { SubscribeRequest as _eventstream_v1_SubscribeRequest, SubscribeRequest__Output as _eventstream_v1_SubscribeRequest__Output } from '../../eventstream/v1/SubscribeRequest';
import type { SubscribeResponse as _eventstream_v1_SubscribeResponse, SubscribeResponse__Output as _eventstream_v1_SubscribeResponse__Output } from '../../eventstream/v1/SubscribeResponse';

/**
 * The event-streaming API: publish to topics, subscribe to them, manage them.
 */
export interface EventStreamServiceClient extends grpc.Client {
  /**
   * Joins a consumer group and works through its share of the events, acknowledging each.
   * 
   * The first request must carry `join`; later ones carry acks, nacks and deadline extensions.
   * The first response describes the group; later ones carry deliveries and confirm acks once
   * they are durable. The group is created with default settings if it does not exist. Closing
   * the sending side leaves the group: the stream ends with OK, and the member's unacknowledged
   * deliveries go to other members.
   * 
   * Each event goes to one member at a time, never more than the member's `max_in_flight`
   * unacknowledged at once. Events with the same non-empty `key` are delivered in offset order,
   * one at a time: the next waits until the previous is acknowledged. An unacknowledged event is
   * delivered again (with its `attempt` counted up, across server restarts too) to any member
   * with room, possibly the same one, when its member disconnects, nacks it, or lets its ack
   * deadline pass; after the group's `max_deliveries` attempts it is published to the
   * dead-letter topic and counted as acknowledged. An ack from any member counts, also for a
   * delivery that has since gone to another member. An acknowledgement confirmed in
   * `acks_durable` survives any crash: that event is never delivered to the group again (unless
   * the group is reset). Errors: INVALID_ARGUMENT (no `join` first, an ack of an event never
   * delivered), FAILED_PRECONDITION (the group's position fell below the topic's retained range
   * and its policy is FAIL: reset it), NOT_FOUND (topic or group deleted), UNAVAILABLE (the
   * server is shutting down: reconnect; unacknowledged events are redelivered).
   */
  Consume(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeResponse__Output>;
  Consume(options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeResponse__Output>;
  /**
   * Joins a consumer group and works through its share of the events, acknowledging each.
   * 
   * The first request must carry `join`; later ones carry acks, nacks and deadline extensions.
   * The first response describes the group; later ones carry deliveries and confirm acks once
   * they are durable. The group is created with default settings if it does not exist. Closing
   * the sending side leaves the group: the stream ends with OK, and the member's unacknowledged
   * deliveries go to other members.
   * 
   * Each event goes to one member at a time, never more than the member's `max_in_flight`
   * unacknowledged at once. Events with the same non-empty `key` are delivered in offset order,
   * one at a time: the next waits until the previous is acknowledged. An unacknowledged event is
   * delivered again (with its `attempt` counted up, across server restarts too) to any member
   * with room, possibly the same one, when its member disconnects, nacks it, or lets its ack
   * deadline pass; after the group's `max_deliveries` attempts it is published to the
   * dead-letter topic and counted as acknowledged. An ack from any member counts, also for a
   * delivery that has since gone to another member. An acknowledgement confirmed in
   * `acks_durable` survives any crash: that event is never delivered to the group again (unless
   * the group is reset). Errors: INVALID_ARGUMENT (no `join` first, an ack of an event never
   * delivered), FAILED_PRECONDITION (the group's position fell below the topic's retained range
   * and its policy is FAIL: reset it), NOT_FOUND (topic or group deleted), UNAVAILABLE (the
   * server is shutting down: reconnect; unacknowledged events are redelivered).
   */
  consume(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeResponse__Output>;
  consume(options?: grpc.CallOptions): grpc.ClientDuplexStream<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeResponse__Output>;
  
  /**
   * Creates a consumer group on a topic: a named, durable position that many Consume streams
   * share, each event going to one of them. The group starts at `start` (default: the oldest
   * retained event) and creates its dead-letter topic if `max_deliveries` is set. ALREADY_EXISTS
   * if the topic has a group of that name; NOT_FOUND if the topic is missing (and auto-create is
   * off).
   */
  CreateConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  CreateConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  CreateConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  CreateConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Creates a consumer group on a topic: a named, durable position that many Consume streams
   * share, each event going to one of them. The group starts at `start` (default: the oldest
   * retained event) and creates its dead-letter topic if `max_deliveries` is set. ALREADY_EXISTS
   * if the topic has a group of that name; NOT_FOUND if the topic is missing (and auto-create is
   * off).
   */
  createConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  createConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  createConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  createConsumerGroup(argument: _eventstream_v1_CreateConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_CreateConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Deletes a consumer group and its position. Its members' streams end with NOT_FOUND.
   */
  DeleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  DeleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  DeleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  DeleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Deletes a consumer group and its position. Its members' streams end with NOT_FOUND.
   */
  deleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  deleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  deleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  deleteConsumerGroup(argument: _eventstream_v1_DeleteConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_DeleteConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Describes one consumer group: its settings, ack floor, lag, members, in-flight and
   * redelivery counts. NOT_FOUND if the topic or the group does not exist.
   */
  GetConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  GetConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  GetConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  GetConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Describes one consumer group: its settings, ack floor, lag, members, in-flight and
   * redelivery counts. NOT_FOUND if the topic or the group does not exist.
   */
  getConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  getConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  getConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  getConsumerGroup(argument: _eventstream_v1_GetConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_GetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Lists a topic's consumer groups, sorted by name.
   */
  ListConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  ListConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  ListConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  ListConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Lists a topic's consumer groups, sorted by name.
   */
  listConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  listConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  listConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  listConsumerGroups(argument: _eventstream_v1_ListConsumerGroupsRequest, callback: grpc.requestCallback<_eventstream_v1_ListConsumerGroupsResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Moves a consumer group to a new position: every event from there on is undone (delivered
   * again), every event before it counts as acknowledged. FAILED_PRECONDITION while members are
   * connected (stop them first: their in-flight work would be acknowledged against the wrong
   * position); OUT_OF_RANGE for an offset outside the retained range.
   */
  ResetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  ResetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  ResetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  ResetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Moves a consumer group to a new position: every event from there on is undone (delivered
   * again), every event before it counts as acknowledged. FAILED_PRECONDITION while members are
   * connected (stop them first: their in-flight work would be acknowledged against the wrong
   * position); OUT_OF_RANGE for an offset outside the retained range.
   */
  resetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  resetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  resetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  resetConsumerGroup(argument: _eventstream_v1_ResetConsumerGroupRequest, callback: grpc.requestCallback<_eventstream_v1_ResetConsumerGroupResponse__Output>): grpc.ClientUnaryCall;
  
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
   * Joins a consumer group and works through its share of the events, acknowledging each.
   * 
   * The first request must carry `join`; later ones carry acks, nacks and deadline extensions.
   * The first response describes the group; later ones carry deliveries and confirm acks once
   * they are durable. The group is created with default settings if it does not exist. Closing
   * the sending side leaves the group: the stream ends with OK, and the member's unacknowledged
   * deliveries go to other members.
   * 
   * Each event goes to one member at a time, never more than the member's `max_in_flight`
   * unacknowledged at once. Events with the same non-empty `key` are delivered in offset order,
   * one at a time: the next waits until the previous is acknowledged. An unacknowledged event is
   * delivered again (with its `attempt` counted up, across server restarts too) to any member
   * with room, possibly the same one, when its member disconnects, nacks it, or lets its ack
   * deadline pass; after the group's `max_deliveries` attempts it is published to the
   * dead-letter topic and counted as acknowledged. An ack from any member counts, also for a
   * delivery that has since gone to another member. An acknowledgement confirmed in
   * `acks_durable` survives any crash: that event is never delivered to the group again (unless
   * the group is reset). Errors: INVALID_ARGUMENT (no `join` first, an ack of an event never
   * delivered), FAILED_PRECONDITION (the group's position fell below the topic's retained range
   * and its policy is FAIL: reset it), NOT_FOUND (topic or group deleted), UNAVAILABLE (the
   * server is shutting down: reconnect; unacknowledged events are redelivered).
   */
  Consume: grpc.handleBidiStreamingCall<_eventstream_v1_ConsumeRequest__Output, _eventstream_v1_ConsumeResponse>;
  
  /**
   * Creates a consumer group on a topic: a named, durable position that many Consume streams
   * share, each event going to one of them. The group starts at `start` (default: the oldest
   * retained event) and creates its dead-letter topic if `max_deliveries` is set. ALREADY_EXISTS
   * if the topic has a group of that name; NOT_FOUND if the topic is missing (and auto-create is
   * off).
   */
  CreateConsumerGroup: grpc.handleUnaryCall<_eventstream_v1_CreateConsumerGroupRequest__Output, _eventstream_v1_CreateConsumerGroupResponse>;
  
  /**
   * Creates a topic with the given configuration. ALREADY_EXISTS if the name is taken.
   */
  CreateTopic: grpc.handleUnaryCall<_eventstream_v1_CreateTopicRequest__Output, _eventstream_v1_CreateTopicResponse>;
  
  /**
   * Deletes a consumer group and its position. Its members' streams end with NOT_FOUND.
   */
  DeleteConsumerGroup: grpc.handleUnaryCall<_eventstream_v1_DeleteConsumerGroupRequest__Output, _eventstream_v1_DeleteConsumerGroupResponse>;
  
  /**
   * Deletes a topic with its events, idempotency index and metadata.
   * 
   * Live subscriptions to it end with NOT_FOUND. NOT_FOUND if the topic does not exist.
   */
  DeleteTopic: grpc.handleUnaryCall<_eventstream_v1_DeleteTopicRequest__Output, _eventstream_v1_DeleteTopicResponse>;
  
  /**
   * Describes one consumer group: its settings, ack floor, lag, members, in-flight and
   * redelivery counts. NOT_FOUND if the topic or the group does not exist.
   */
  GetConsumerGroup: grpc.handleUnaryCall<_eventstream_v1_GetConsumerGroupRequest__Output, _eventstream_v1_GetConsumerGroupResponse>;
  
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
   * Lists a topic's consumer groups, sorted by name.
   */
  ListConsumerGroups: grpc.handleUnaryCall<_eventstream_v1_ListConsumerGroupsRequest__Output, _eventstream_v1_ListConsumerGroupsResponse>;
  
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
   * Moves a consumer group to a new position: every event from there on is undone (delivered
   * again), every event before it counts as acknowledged. FAILED_PRECONDITION while members are
   * connected (stop them first: their in-flight work would be acknowledged against the wrong
   * position); OUT_OF_RANGE for an offset outside the retained range.
   */
  ResetConsumerGroup: grpc.handleUnaryCall<_eventstream_v1_ResetConsumerGroupRequest__Output, _eventstream_v1_ResetConsumerGroupResponse>;
  
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
  Consume: MethodDefinition<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeResponse, _eventstream_v1_ConsumeRequest__Output, _eventstream_v1_ConsumeResponse__Output>
  CreateConsumerGroup: MethodDefinition<_eventstream_v1_CreateConsumerGroupRequest, _eventstream_v1_CreateConsumerGroupResponse, _eventstream_v1_CreateConsumerGroupRequest__Output, _eventstream_v1_CreateConsumerGroupResponse__Output>
  CreateTopic: MethodDefinition<_eventstream_v1_CreateTopicRequest, _eventstream_v1_CreateTopicResponse, _eventstream_v1_CreateTopicRequest__Output, _eventstream_v1_CreateTopicResponse__Output>
  DeleteConsumerGroup: MethodDefinition<_eventstream_v1_DeleteConsumerGroupRequest, _eventstream_v1_DeleteConsumerGroupResponse, _eventstream_v1_DeleteConsumerGroupRequest__Output, _eventstream_v1_DeleteConsumerGroupResponse__Output>
  DeleteTopic: MethodDefinition<_eventstream_v1_DeleteTopicRequest, _eventstream_v1_DeleteTopicResponse, _eventstream_v1_DeleteTopicRequest__Output, _eventstream_v1_DeleteTopicResponse__Output>
  GetConsumerGroup: MethodDefinition<_eventstream_v1_GetConsumerGroupRequest, _eventstream_v1_GetConsumerGroupResponse, _eventstream_v1_GetConsumerGroupRequest__Output, _eventstream_v1_GetConsumerGroupResponse__Output>
  GetCursor: MethodDefinition<_eventstream_v1_GetCursorRequest, _eventstream_v1_GetCursorResponse, _eventstream_v1_GetCursorRequest__Output, _eventstream_v1_GetCursorResponse__Output>
  GetTopic: MethodDefinition<_eventstream_v1_GetTopicRequest, _eventstream_v1_GetTopicResponse, _eventstream_v1_GetTopicRequest__Output, _eventstream_v1_GetTopicResponse__Output>
  ListConsumerGroups: MethodDefinition<_eventstream_v1_ListConsumerGroupsRequest, _eventstream_v1_ListConsumerGroupsResponse, _eventstream_v1_ListConsumerGroupsRequest__Output, _eventstream_v1_ListConsumerGroupsResponse__Output>
  ListTopics: MethodDefinition<_eventstream_v1_ListTopicsRequest, _eventstream_v1_ListTopicsResponse, _eventstream_v1_ListTopicsRequest__Output, _eventstream_v1_ListTopicsResponse__Output>
  Publish: MethodDefinition<_eventstream_v1_PublishRequest, _eventstream_v1_PublishResponse, _eventstream_v1_PublishRequest__Output, _eventstream_v1_PublishResponse__Output>
  PublishStream: MethodDefinition<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamResponse, _eventstream_v1_PublishStreamRequest__Output, _eventstream_v1_PublishStreamResponse__Output>
  ResetConsumerGroup: MethodDefinition<_eventstream_v1_ResetConsumerGroupRequest, _eventstream_v1_ResetConsumerGroupResponse, _eventstream_v1_ResetConsumerGroupRequest__Output, _eventstream_v1_ResetConsumerGroupResponse__Output>
  Subscribe: MethodDefinition<_eventstream_v1_SubscribeRequest, _eventstream_v1_SubscribeResponse, _eventstream_v1_SubscribeRequest__Output, _eventstream_v1_SubscribeResponse__Output>
}
