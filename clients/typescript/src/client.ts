/** The client: exactly-once-effect publish, resumable subscriptions, topic and consumer-group admin. */

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

import {
  EventStreamError,
  TRANSIENT_CODES,
  UnavailableError,
  codeOf,
  fromGroupServiceError,
  fromServiceError,
} from './errors';
import { createServiceClient, type EventStreamServiceClient } from './grpc';
import {
  DEFAULT_PUBLISH_RETRY,
  DEFAULT_RECONNECT,
  backoffMs,
  exhausted,
  retryPolicy,
  sleep,
  type RetryPolicy,
} from './retry';
import { Subscription, type SubscribeOptions } from './subscription';
import type { CreateConsumerGroupRequest } from './generated/eventstream/v1/CreateConsumerGroupRequest';
import type { CreateConsumerGroupResponse__Output } from './generated/eventstream/v1/CreateConsumerGroupResponse';
import type { CreateTopicResponse__Output } from './generated/eventstream/v1/CreateTopicResponse';
import type { DeleteConsumerGroupResponse__Output } from './generated/eventstream/v1/DeleteConsumerGroupResponse';
import type { DeleteTopicResponse__Output } from './generated/eventstream/v1/DeleteTopicResponse';
import type { GetConsumerGroupResponse__Output } from './generated/eventstream/v1/GetConsumerGroupResponse';
import type { GetTopicResponse__Output } from './generated/eventstream/v1/GetTopicResponse';
import type { ListConsumerGroupsResponse__Output } from './generated/eventstream/v1/ListConsumerGroupsResponse';
import type { ListTopicsResponse__Output } from './generated/eventstream/v1/ListTopicsResponse';
import type { PublishResponse__Output } from './generated/eventstream/v1/PublishResponse';
import type { ResetConsumerGroupRequest } from './generated/eventstream/v1/ResetConsumerGroupRequest';
import type { ResetConsumerGroupResponse__Output } from './generated/eventstream/v1/ResetConsumerGroupResponse';
import {
  fromDate,
  toConsumerGroupInfo,
  toDate,
  toEventData,
  toDuration,
  toOutOfRangePolicy,
  toTopicInfo,
  type ConsumerGroupInfo,
  type NewEvent,
  type OutOfRangePolicy,
  type Published,
  type TopicInfo,
} from './types';

/**
 * Channel options: reconnect quickly after a server restart (gRPC's default backoff grows to
 * 120 s) and detect dead connections on idle subscriptions with keepalive pings.
 */
export const DEFAULT_CHANNEL_OPTIONS: Readonly<grpc.ChannelOptions> = Object.freeze({
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_receive_message_length': -1,
});

/** PEM files for TLS: see tlsCredentials(). */
export interface TlsFiles {
  /** The CA that signed the server's certificate; default: the system's CAs. */
  caCert?: string;
  /** A client certificate, for a server that requires one (--tls-client-ca); with clientKey. */
  clientCert?: string;
  /** The client certificate's private key. */
  clientKey?: string;
}

/** TLS credentials from PEM files, for the `credentials` option. */
export function tlsCredentials(files: TlsFiles = {}): grpc.ChannelCredentials {
  if ((files.clientCert === undefined) !== (files.clientKey === undefined)) {
    throw new Error('clientCert and clientKey go together');
  }
  const read = (path: string | undefined): Buffer | null => (path === undefined ? null : readFileSync(path));
  return grpc.credentials.createSsl(read(files.caCert), read(files.clientKey), read(files.clientCert));
}

export interface ClientOptions {
  /** Default: insecure (plaintext); for TLS use tlsCredentials(). */
  credentials?: grpc.ChannelCredentials;
  /**
   * Sent with every call as `authorization: Bearer <token>`. Default: the EVENTSTREAM_TOKEN
   * environment variable, if set; pass '' to send none.
   */
  token?: string;
  /** Merged over DEFAULT_CHANNEL_OPTIONS. */
  channelOptions?: grpc.ChannelOptions;
  /** gRPC client interceptors (e.g. for auth, tracing, or tests that inject failures). */
  interceptors?: grpc.Interceptor[];
  /** Retry policy of publish and the admin calls. */
  publishRetry?: Partial<RetryPolicy>;
  /** Reconnect policy of subscriptions. */
  reconnect?: Partial<RetryPolicy>;
  /** Metadata sent with every call. */
  metadata?: Record<string, string>;
}

export interface CreateTopicOptions {
  retentionAgeMs?: number;
  retentionEvents?: bigint | number;
  retentionBytes?: bigint | number;
  dedupWindowMs?: number;
}

export interface CreateConsumerGroupOptions {
  /** How long a member has to acknowledge a delivery (default 30 s; 1 ms to 24 h). */
  ackDeadlineMs?: number;
  /** Deliveries of one event before it goes to the dead-letter topic (default 0: unlimited). */
  maxDeliveries?: number;
  /** Default: `<topic>.<group>.dead-letters`. */
  deadLetterTopic?: string;
  /** Default: `fail`. */
  outOfRange?: OutOfRangePolicy;
  /** Start at this offset (inclusive). At most one of fromOffset, fromTime, latest. */
  fromOffset?: bigint | number;
  /** Start at the first event appended at or after this time. */
  fromTime?: Date;
  /** Start at the end of the log. Default: the oldest retained event. */
  latest?: boolean;
}

/** Where ResetConsumerGroup moves a group: an offset, a time, or either end of the log. */
export type ResetTarget = { toOffset: bigint | number } | { toTime: Date } | { earliest: true } | { latest: true };

/** A client for one eventstream server. Call close() when done. */
export class EventStreamClient {
  readonly target: string;
  readonly publishRetry: RetryPolicy;
  readonly reconnect: RetryPolicy;
  /** The generated gRPC client, for anything the idiomatic layer does not cover. */
  readonly raw: EventStreamServiceClient;
  private readonly metadata: Record<string, string>;
  private closed = false;

  constructor(target: string, options: ClientOptions = {}) {
    this.target = target;
    this.publishRetry = retryPolicy(DEFAULT_PUBLISH_RETRY, options.publishRetry);
    this.reconnect = retryPolicy(DEFAULT_RECONNECT, options.reconnect);
    this.metadata = { ...(options.metadata ?? {}) };
    const token = (options.token ?? process.env.EVENTSTREAM_TOKEN ?? '').trim();
    if (token) this.metadata.authorization = `Bearer ${token}`;
    this.raw = createServiceClient(target, options.credentials ?? grpc.credentials.createInsecure(), {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...(options.channelOptions ?? {}),
      interceptors: options.interceptors ?? [],
    });
  }

  /** Closes the channel; open subscriptions end. */
  close(): void {
    this.closed = true;
    this.raw.close();
  }

  /** @internal */
  callMetadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(this.metadata)) metadata.set(name, value);
    return metadata;
  }

  /**
   * Appends `events` to `topic`, all or nothing, contiguously and in order.
   *
   * Every event without an idempotency key gets a random UUID key *before* the first attempt;
   * transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, a lost connection) are retried with
   * exponential backoff re-sending the same keys, so an attempt whose response was lost is not
   * appended twice: the server answers the retry with the original offsets and
   * `duplicate: true`. The caller's objects are not modified.
   *
   * Rejects with UnavailableError when the retry budget runs out (the events may or may not have
   * been appended: publish them again with the same keys), or another EventStreamError.
   */
  async publish(topic: string, events: readonly NewEvent[], options: { retry?: Partial<RetryPolicy> } = {}): Promise<Published[]> {
    const data = events.map((event) => toEventData(event, event.idempotencyKey || randomUUID()));
    const request = { topic, events: data };
    const response = await this.withRetry<PublishResponse__Output>('Publish', retryPolicy(this.publishRetry, options.retry), (deadline, done) =>
      this.raw.publish(request, this.callMetadata(), { deadline }, done),
    );
    if (response.results.length !== data.length) {
      throw new Error(`server answered ${response.results.length} results for ${data.length} events`);
    }
    return response.results.map((result, i) => ({
      offset: BigInt(result.offset),
      id: result.id,
      time: toDate(result.time),
      duplicate: result.duplicate,
      idempotencyKey: data[i]!.idempotencyKey as string,
    }));
  }

  /**
   * Subscribes to `topic`; iterate the result with `for await`. Reconnects after transient
   * failures and resumes from the last `nextOffset` received: nothing lost, nothing repeated.
   */
  subscribe(topic: string, options: SubscribeOptions = {}): Subscription {
    return new Subscription(this, topic, options);
  }

  /** Creates a topic; rejects with AlreadyExistsError if the name is taken. */
  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<TopicInfo> {
    const config = {
      retentionEvents: String(options.retentionEvents ?? 0),
      retentionBytes: String(options.retentionBytes ?? 0),
      retentionAge: options.retentionAgeMs === undefined ? null : toDuration(options.retentionAgeMs),
      dedupWindow: options.dedupWindowMs === undefined ? null : toDuration(options.dedupWindowMs),
    };
    const response = await this.withRetry<CreateTopicResponse__Output>('CreateTopic', this.publishRetry, (deadline, done) =>
      this.raw.createTopic({ name, config }, this.callMetadata(), { deadline }, done),
    );
    return toTopicInfo(response.topic);
  }

  /** Describes a topic; rejects with NotFoundError if missing. */
  async getTopic(name: string): Promise<TopicInfo> {
    const response = await this.withRetry<GetTopicResponse__Output>('GetTopic', this.publishRetry, (deadline, done) =>
      this.raw.getTopic({ name }, this.callMetadata(), { deadline }, done),
    );
    return toTopicInfo(response.topic);
  }

  /** All topics, sorted by name. */
  async listTopics(): Promise<TopicInfo[]> {
    const response = await this.withRetry<ListTopicsResponse__Output>('ListTopics', this.publishRetry, (deadline, done) =>
      this.raw.listTopics({}, this.callMetadata(), { deadline }, done),
    );
    return response.topics.map(toTopicInfo);
  }

  /** Deletes a topic with its events; rejects with NotFoundError if missing. */
  async deleteTopic(name: string): Promise<void> {
    await this.withRetry<DeleteTopicResponse__Output>('DeleteTopic', this.publishRetry, (deadline, done) =>
      this.raw.deleteTopic({ name }, this.callMetadata(), { deadline }, done),
    );
  }

  /**
   * Creates a consumer group on `topic`; rejects with AlreadyExistsError if the topic has a group
   * of that name, NotFoundError if the topic is missing (and the server does not auto-create).
   */
  async createConsumerGroup(topic: string, name: string, options: CreateConsumerGroupOptions = {}): Promise<ConsumerGroupInfo> {
    const starts = [options.fromOffset !== undefined, options.fromTime !== undefined, options.latest === true];
    if (starts.filter(Boolean).length > 1) throw new Error('give at most one of fromOffset, fromTime, latest');
    const request: CreateConsumerGroupRequest = {
      topic,
      name,
      config: {
        ackDeadline: options.ackDeadlineMs === undefined ? null : toDuration(options.ackDeadlineMs),
        maxDeliveries: options.maxDeliveries ?? 0,
        deadLetterTopic: options.deadLetterTopic ?? '',
        outOfRange: options.outOfRange === undefined ? 'OUT_OF_RANGE_POLICY_UNSPECIFIED' : toOutOfRangePolicy(options.outOfRange),
      },
    };
    if (options.fromOffset !== undefined) request.fromOffset = String(options.fromOffset);
    else if (options.fromTime !== undefined) request.fromTime = fromDate(options.fromTime);
    else if (options.latest) request.position = 'START_POSITION_LATEST';
    const response = await this.withGroupRetry<CreateConsumerGroupResponse__Output>('CreateConsumerGroup', (deadline, done) =>
      this.raw.createConsumerGroup(request, this.callMetadata(), { deadline }, done),
    );
    return toConsumerGroupInfo(response.group);
  }

  /** Describes a consumer group; rejects with NotFoundError if the topic or the group is missing. */
  async getConsumerGroup(topic: string, name: string): Promise<ConsumerGroupInfo> {
    const response = await this.withGroupRetry<GetConsumerGroupResponse__Output>('GetConsumerGroup', (deadline, done) =>
      this.raw.getConsumerGroup({ topic, name }, this.callMetadata(), { deadline }, done),
    );
    return toConsumerGroupInfo(response.group);
  }

  /** The topic's consumer groups, sorted by name. */
  async listConsumerGroups(topic: string): Promise<ConsumerGroupInfo[]> {
    const response = await this.withGroupRetry<ListConsumerGroupsResponse__Output>('ListConsumerGroups', (deadline, done) =>
      this.raw.listConsumerGroups({ topic }, this.callMetadata(), { deadline }, done),
    );
    return response.groups.map(toConsumerGroupInfo);
  }

  /**
   * Moves a consumer group: events from `target` on are delivered again, those before it count as
   * acknowledged. Rejects with FailedPreconditionError while members are connected (stop them
   * first), OutOfRangeError for an offset outside the retained range.
   */
  async resetConsumerGroup(topic: string, name: string, target: ResetTarget): Promise<ConsumerGroupInfo> {
    const request: ResetConsumerGroupRequest = { topic, name };
    if ('toOffset' in target) request.toOffset = String(target.toOffset);
    else if ('toTime' in target) request.toTime = fromDate(target.toTime);
    else request.position = 'earliest' in target ? 'START_POSITION_EARLIEST' : 'START_POSITION_LATEST';
    const response = await this.withGroupRetry<ResetConsumerGroupResponse__Output>('ResetConsumerGroup', (deadline, done) =>
      this.raw.resetConsumerGroup(request, this.callMetadata(), { deadline }, done),
    );
    return toConsumerGroupInfo(response.group);
  }

  /** Deletes a consumer group and its position; its members' streams end with NotFoundError. */
  async deleteConsumerGroup(topic: string, name: string): Promise<void> {
    await this.withGroupRetry<DeleteConsumerGroupResponse__Output>('DeleteConsumerGroup', (deadline, done) =>
      this.raw.deleteConsumerGroup({ topic, name }, this.callMetadata(), { deadline }, done),
    );
  }

  /** A consumer-group call: FAILED_PRECONDITION means the group's state, not an idempotency conflict. */
  private withGroupRetry<T>(
    name: string,
    attempt: (deadline: Date, done: (error: grpc.ServiceError | null, value?: T) => void) => unknown,
  ): Promise<T> {
    return this.withRetry(name, this.publishRetry, attempt, fromGroupServiceError);
  }

  /** Runs a unary call, retrying transient failures per `policy`. */
  private async withRetry<T>(
    name: string,
    policy: RetryPolicy,
    attempt: (deadline: Date, done: (error: grpc.ServiceError | null, value?: T) => void) => unknown,
    toError: (error: unknown) => EventStreamError = fromServiceError,
  ): Promise<T> {
    const started = Date.now();
    let failures = 0;
    for (;;) {
      let timeout = policy.attemptTimeoutMs;
      if (policy.totalTimeoutMs !== null) {
        timeout = Math.max(1, Math.min(timeout, policy.totalTimeoutMs - (Date.now() - started)));
      }
      try {
        return await new Promise<T>((resolve, reject) => {
          attempt(new Date(Date.now() + timeout), (error, value) => (error ? reject(error) : resolve(value as T)));
        });
      } catch (error) {
        if (!TRANSIENT_CODES.has(codeOf(error))) throw toError(error);
        failures += 1;
        const pause = backoffMs(policy, failures);
        if (this.closed || exhausted(policy, failures, Date.now() - started, pause)) {
          const failure = toError(error);
          throw failure instanceof UnavailableError
            ? failure
            : new EventStreamError(failure.code, failure.details, { cause: error });
        }
        await sleep(pause);
      }
    }
  }
}
