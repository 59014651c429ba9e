/** The client: exactly-once-effect publish, resumable subscriptions, topic admin. */

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

import { EventStreamError, TRANSIENT_CODES, UnavailableError, codeOf, fromServiceError } from './errors';
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
import type { CreateTopicResponse__Output } from './generated/eventstream/v1/CreateTopicResponse';
import type { DeleteTopicResponse__Output } from './generated/eventstream/v1/DeleteTopicResponse';
import type { GetTopicResponse__Output } from './generated/eventstream/v1/GetTopicResponse';
import type { ListTopicsResponse__Output } from './generated/eventstream/v1/ListTopicsResponse';
import type { PublishResponse__Output } from './generated/eventstream/v1/PublishResponse';
import { toDate, toEventData, toTopicInfo, type NewEvent, type Published, type TopicInfo } from './types';

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

function duration(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

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
      retentionAge: options.retentionAgeMs === undefined ? null : duration(options.retentionAgeMs),
      dedupWindow: options.dedupWindowMs === undefined ? null : duration(options.dedupWindowMs),
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

  /** Runs a unary call, retrying transient failures per `policy`. */
  private async withRetry<T>(
    name: string,
    policy: RetryPolicy,
    attempt: (deadline: Date, done: (error: grpc.ServiceError | null, value?: T) => void) => unknown,
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
        if (!TRANSIENT_CODES.has(codeOf(error))) throw fromServiceError(error);
        failures += 1;
        const pause = backoffMs(policy, failures);
        if (this.closed || exhausted(policy, failures, Date.now() - started, pause)) {
          const failure = fromServiceError(error);
          throw failure instanceof UnavailableError
            ? failure
            : new EventStreamError(failure.code, failure.details, { cause: error });
        }
        await sleep(pause);
      }
    }
  }
}
