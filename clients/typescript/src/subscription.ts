/** A subscription that survives dropped connections and server restarts. */

import type { ClientReadableStream } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';

import type { EventStreamClient } from './client';
import { TRANSIENT_CODES, UnavailableError, codeOf, fromServiceError, isServiceError } from './errors';
import type { SubscribeRequest } from './generated/eventstream/v1/SubscribeRequest';
import type { SubscribeResponse__Output } from './generated/eventstream/v1/SubscribeResponse';
import { backoffMs, exhausted, retryPolicy, sleep, type RetryPolicy } from './retry';
import { fromDate, toEvent, type Batch, type Event } from './types';

export interface SubscribeOptions {
  /** Start at this offset (inclusive). At most one of fromOffset, fromTime, latest. */
  fromOffset?: bigint | number;
  /** Start at the first event appended at or after this time. */
  fromTime?: Date;
  /** Start at the end of the log (only new events). Default: the oldest retained event. */
  latest?: boolean;
  /** Deliver only events of these types. */
  types?: string[];
  /** Deliver only events with this key. */
  key?: string;
  /**
   * End at the end of the log as it stood when the subscription started (after a reconnect:
   * when the resumed subscription started).
   */
  stopAtEnd?: boolean;
  /** Overrides the client's reconnect policy. */
  reconnect?: Partial<RetryPolicy>;
  /** Aborting closes the subscription. */
  signal?: AbortSignal;
  /** Called before each reconnect, e.g. for logging. */
  onReconnect?: (info: { reason: string; resumeAt: bigint | undefined; delayMs: number }) => void;
}

/**
 * An async iterable over a topic's events that reconnects and resumes by itself.
 *
 * `for await (const event of subscription)` yields events in offset order. When the stream fails
 * with a transient status (UNAVAILABLE: lost connection, server down, restarting or shutting
 * down; DEADLINE_EXCEEDED) or ends unexpectedly, it waits (exponential backoff) and subscribes
 * again with `fromOffset` = the last `nextOffset` received: no event is lost or delivered twice.
 * The backoff resets whenever a response arrives; the loop gives up with UnavailableError when
 * the reconnect policy is exhausted. Permanent errors (NOT_FOUND, OUT_OF_RANGE, ...) are thrown.
 *
 * - `position`: where to resume after the last yielded event: its offset + 1, or the batch's
 *   `nextOffset` after the last event of a batch (undefined until the first response of a
 *   subscription that did not start at an explicit offset).
 * - `caughtUp`: true once the last event yielded (or an empty response) reached the end of the
 *   log as it stood.
 * - `reconnects`: how many times it reconnected.
 *
 * `close()` ends the iteration.
 */
export class Subscription implements AsyncIterable<Event> {
  readonly topic: string;
  position: bigint | undefined;
  caughtUp = false;
  reconnects = 0;
  private readonly options: SubscribeOptions;
  private readonly policy: RetryPolicy;
  private readonly abort = new AbortController();
  private call: ClientReadableStream<SubscribeResponse__Output> | undefined;
  private started = false;

  constructor(
    private readonly client: EventStreamClient,
    topic: string,
    options: SubscribeOptions,
  ) {
    const starts = [options.fromOffset !== undefined, options.fromTime !== undefined, options.latest === true];
    if (starts.filter(Boolean).length > 1) throw new Error('give at most one of fromOffset, fromTime, latest');
    this.topic = topic;
    this.options = options;
    this.policy = retryPolicy(client.reconnect, options.reconnect);
    this.position = options.fromOffset === undefined ? undefined : BigInt(options.fromOffset);
    if (options.signal?.aborted) this.abort.abort();
    else options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** Ends the subscription; a pending iteration finishes. */
  close(): void {
    this.abort.abort();
    this.call?.cancel();
  }

  /** Yields events one by one; see the class comment. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Event, void, undefined> {
    for await (const batch of this.run()) {
      const { events } = batch;
      if (events.length === 0) {
        this.position = batch.nextOffset;
        this.caughtUp = batch.caughtUp;
        continue;
      }
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        const last = i === events.length - 1;
        this.position = last ? batch.nextOffset : event.offset + 1n;
        this.caughtUp = last && batch.caughtUp;
        yield event;
      }
    }
  }

  /**
   * Yields whole responses, including empty ones (an empty caught-up batch tells that the end of
   * the log was reached). Use either this or event iteration, not both.
   */
  async *batches(): AsyncGenerator<Batch, void, undefined> {
    for await (const batch of this.run()) {
      this.position = batch.nextOffset;
      this.caughtUp = batch.caughtUp;
      yield batch;
    }
  }

  private request(resumeAt: bigint | undefined): SubscribeRequest {
    const { options } = this;
    const request: SubscribeRequest = {
      topic: this.topic,
      types: options.types ?? [],
      key: options.key ?? '',
      stopAtEnd: options.stopAtEnd ?? false,
    };
    if (resumeAt !== undefined) request.fromOffset = resumeAt.toString();
    else if (options.fromTime !== undefined) request.fromTime = fromDate(options.fromTime);
    else request.position = options.latest ? 'START_POSITION_LATEST' : 'START_POSITION_EARLIEST';
    return request;
  }

  private async *run(): AsyncGenerator<Batch, void, undefined> {
    if (this.started) throw new Error('a Subscription can be iterated only once');
    this.started = true;
    const signal = this.abort.signal;
    // The offset to resume from: the last nextOffset received (or the explicit start).
    let resumeAt = this.position;
    let failures = 0;
    let failingSince: number | undefined;
    while (!signal.aborted) {
      const call = this.client.raw.subscribe(this.request(resumeAt), this.client.callMetadata());
      // Errors are consumed through iteration; this keeps a late one (after cancel) from being
      // an unhandled 'error' event.
      call.on('error', () => {});
      this.call = call;
      if (signal.aborted) call.cancel();
      let problem: string;
      let code: Status = Status.UNAVAILABLE;
      try {
        for await (const response of call as AsyncIterable<SubscribeResponse__Output>) {
          failures = 0;
          failingSince = undefined;
          const events = this.checked(response, resumeAt);
          resumeAt = BigInt(response.nextOffset);
          yield { events, nextOffset: resumeAt, caughtUp: response.caughtUp };
        }
        if (signal.aborted || this.options.stopAtEnd) return;
        // A live subscription does not end with OK by itself; a server that is shutting down
        // may close it without a status. Treat as transient.
        problem = 'stream ended without an error';
      } catch (error) {
        if (signal.aborted) return;
        code = codeOf(error);
        if (!TRANSIENT_CODES.has(code)) throw fromServiceError(error);
        problem = isServiceError(error) ? `${Status[code]}: ${error.details}` : String(error);
      } finally {
        this.call = undefined;
        call.cancel();
      }
      failures += 1;
      const now = Date.now();
      failingSince ??= now;
      const delayMs = backoffMs(this.policy, failures);
      if (exhausted(this.policy, failures, now - failingSince, delayMs)) {
        throw new UnavailableError(code, `subscription to ${this.topic} gave up after ${failures} failures: ${problem}`);
      }
      this.options.onReconnect?.({ reason: problem, resumeAt, delayMs });
      if (!(await sleep(delayMs, signal))) return;
      this.reconnects += 1;
    }
  }

  /**
   * Drops events at offsets already delivered; a well-behaved server never sends any, but a
   * resume must not hand an event to the application twice.
   */
  private checked(response: SubscribeResponse__Output, expected: bigint | undefined): Event[] {
    const events: Event[] = [];
    let floor = expected;
    for (const raw of response.events) {
      const event = toEvent(raw);
      if (floor !== undefined && event.offset < floor) {
        process.emitWarning(`subscription to ${this.topic}: server repeated offset ${event.offset} (expected >= ${floor}); dropped`);
        continue;
      }
      events.push(event);
      floor = event.offset + 1n;
    }
    return events;
  }
}
