/**
 * A consumer group member: joins a group with Consume, runs an async handler on its share of the
 * events, acknowledges what succeeded and gives back what failed.
 */

import type { ClientDuplexStream } from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';

import type { EventStreamClient } from './client';
import { TRANSIENT_CODES, UnavailableError, fromGroupServiceError, isServiceError } from './errors';
import type { ConsumeRequest } from './generated/eventstream/v1/ConsumeRequest';
import type { ConsumeResponse__Output } from './generated/eventstream/v1/ConsumeResponse';
import type { Nack } from './generated/eventstream/v1/Nack';
import { ProcessedIds } from './processedIds';
import { backoffMs, exhausted, retryPolicy, sleep, type RetryPolicy } from './retry';
import { toConsumerGroupInfo, toDuration, toEvent, type ConsumerGroupInfo, type Event } from './types';

/** What the handler gets besides the event. */
export interface DeliveryContext {
  /** 1 for the event's first delivery to the group, 2 for the second, and so on. */
  attempt: number;
}

export type GroupHandler = (event: Event, context: DeliveryContext) => Promise<void>;

export interface GroupConsumerOptions {
  /** Handlers running at once (default 1). */
  concurrency?: number;
  /**
   * Deliveries the server hands this member before they are acknowledged (1 to 10 000; default:
   * `concurrency`). More than `concurrency` prefetches: the extra deliveries wait here, and their
   * ack deadlines are extended while they wait.
   */
  maxInFlight?: number;
  /** After a handler rejects, the server waits at least this long before delivering the event again (default: at once). */
  retryDelayMs?: number;
  /** Overrides the client's reconnect policy. */
  reconnect?: Partial<RetryPolicy>;
  /** How long stop() waits for sent acks to be confirmed durable before it ends the stream anyway (default 5 s). */
  stopTimeoutMs?: number;
  /** Aborting stops the consumer, as stop() does. */
  signal?: AbortSignal;
  /** Called with the group's description each time this member joins (again). */
  onJoin?: (group: ConsumerGroupInfo) => void;
  /** Called when the handler rejects, before the event is given back; e.g. for logging. */
  onHandlerError?: (error: unknown, event: Event, context: DeliveryContext) => void;
  /** Called before each reconnect, e.g. for logging. */
  onReconnect?: (info: { reason: string; delayMs: number }) => void;
}

/** The proto's limit on a nack's reason. */
const MAX_REASON_BYTES = 1024;
/** Extends are sent this often per ack deadline, so one lost to a slow event loop is not fatal. */
const EXTENDS_PER_DEADLINE = 3;
const MIN_EXTEND_INTERVAL_MS = 10;

type ConsumeCall = ClientDuplexStream<ConsumeRequest, ConsumeResponse__Output>;

/**
 * One Consume stream: the offsets delivered on it, and the acks and nacks to send on it. Acks
 * and nacks are only ever sent on the stream that delivered the event: after a reconnect the
 * server has taken back what the old stream held.
 */
class Session {
  /** Delivered on this stream, neither acked nor nacked yet. */
  readonly held = new Set<bigint>();
  /** Acked on this stream, not yet confirmed in `acks_durable`. */
  readonly unconfirmed = new Set<bigint>();
  /** False once the stream ended or was cancelled: nothing more may be written. */
  open = true;
  private acks: bigint[] = [];
  private nacks: Nack[] = [];
  private flushScheduled = false;
  private extendTimer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly call: ConsumeCall) {}

  ack(offset: bigint): void {
    if (!this.open || !this.held.delete(offset)) return;
    this.acks.push(offset);
    this.unconfirmed.add(offset);
    this.scheduleFlush();
  }

  nack(offset: bigint, delayMs: number | undefined, reason: string): void {
    if (!this.open || !this.held.delete(offset)) return;
    this.nacks.push({ offset: offset.toString(), delay: delayMs === undefined ? null : toDuration(delayMs), reason });
    this.scheduleFlush();
  }

  confirm(offset: bigint): void {
    this.unconfirmed.delete(offset);
    this.notify();
  }

  /** Keeps extending the ack deadline of everything held, since it is all being (or about to be) worked on. */
  startExtending(ackDeadlineMs: number): void {
    const interval = Math.max(MIN_EXTEND_INTERVAL_MS, ackDeadlineMs / EXTENDS_PER_DEADLINE);
    this.extendTimer = setInterval(() => {
      if (this.open && this.held.size > 0) this.call.write({ extend: [...this.held].map(String) });
    }, interval);
  }

  /** Sends the acks and nacks collected so far; they are batched per event-loop turn. */
  flush(): void {
    this.flushScheduled = false;
    if (!this.open || (this.acks.length === 0 && this.nacks.length === 0)) return;
    this.call.write({ acks: this.acks.map(String), nacks: this.nacks });
    this.acks = [];
    this.nacks = [];
  }

  /** The stream ended (or is given up): cancel it, and forget what it held. */
  close(): void {
    this.open = false;
    clearInterval(this.extendTimer);
    this.held.clear();
    this.call.cancel();
    this.notify();
  }

  /** Resolves once `done()` holds (checked after each confirmation and at close) or after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

interface Queued {
  session: Session;
  event: Event;
  attempt: number;
}

/** The reason sent with a nack: the error's message, cut to the proto's limit. */
function nackReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_REASON_BYTES) return text;
  // Cut before a UTF-8 continuation byte (10xxxxxx) would split a character.
  let end = MAX_REASON_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * A member of consumer group `group` on `topic`.
 *
 * `run()` joins the group (creating it with default settings if missing) and hands each delivery
 * to `handler`, at most `concurrency` at once. The server never delivers two events with the same
 * key at once, so handlers for one key never overlap. When the handler resolves, the event's id is
 * recorded durably in `file`, then the event is acknowledged; when it rejects, the event is
 * given back (nacked, reason = the error's message, after `retryDelayMs`) to be delivered again,
 * to this member or another. A delivery whose id is already recorded (handled, but its ack did
 * not reach the server before a disconnect, a crash or its deadline) is acknowledged without
 * running the handler again. Ids are forgotten once the server confirms their ack as durable: it
 * never delivers those events to the group again. While deliveries wait or run, their ack
 * deadlines are extended.
 *
 * After UNAVAILABLE (or DEADLINE_EXCEEDED, or a stream that ends by itself) it rejoins with
 * backoff per the reconnect policy; the server redelivers what the old stream held. Handlers
 * still running from the old stream finish and record their ids, but their acks are not sent:
 * the redelivery is acknowledged from the record. `run()` rejects on permanent errors
 * (NotFoundError when the group is deleted, FailedPreconditionError when its position fell out of
 * the retained range, ...) and when the file cannot be written.
 *
 * **Guarantee**: each event's handler succeeds at least once; the record makes a second run
 * unlikely only for redeliveries to a member using the same file. A member that crashed after
 * its handler succeeded but before the id reached the file, or another member (with its own
 * file) receiving the redelivery, runs the handler again: make side effects idempotent with
 * `event.id` as the key.
 *
 * Run one instance per file at a time.
 */
export class GroupConsumer {
  /** The group as described when this member last joined. */
  groupInfo: ConsumerGroupInfo | undefined;
  /** Handlers that resolved, handlers that rejected, and deliveries acknowledged from the record. */
  readonly counts = { handled: 0, failed: 0, alreadyProcessed: 0 };
  reconnects = 0;
  private readonly processed: ProcessedIds;
  private readonly policy: RetryPolicy;
  private readonly concurrency: number;
  private readonly maxInFlight: number;
  private readonly stopTimeoutMs: number;
  /** Waiting for a free handler slot (or for an earlier run of the same event to finish). */
  private readonly queue: Queued[] = [];
  /** Handler runs by event id, including those from a stream that has since ended. */
  private readonly running = new Map<string, Promise<void>>();
  /** Aborted when stopping: ends a reconnect backoff early. */
  private readonly stopping = new AbortController();
  private session: Session | undefined;
  private failure: { error: unknown } | undefined;
  private shutdown: Promise<void> | undefined;
  private done: Promise<void> | undefined;

  constructor(
    readonly client: EventStreamClient,
    readonly topic: string,
    readonly group: string,
    file: string,
    readonly handler: GroupHandler,
    private readonly options: GroupConsumerOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 1;
    this.maxInFlight = options.maxInFlight ?? this.concurrency;
    if (!(this.concurrency >= 1) || !(this.maxInFlight >= 1)) throw new Error('concurrency and maxInFlight must be at least 1');
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5_000;
    this.policy = retryPolicy(client.reconnect, options.reconnect);
    this.processed = new ProcessedIds(file, topic, group);
    if (options.signal?.aborted) this.stopping.abort();
    else options.signal?.addEventListener('abort', () => void this.stop(), { once: true });
  }

  /** The file of processed ids. */
  get file(): string {
    return this.processed.file;
  }

  /** True if the event's id is recorded as processed and its ack is not yet confirmed durable. */
  isProcessed(eventId: string): boolean {
    return this.processed.has(eventId);
  }

  /**
   * Consumes until stop() (or the signal), then resolves once every started handler has finished
   * and the stream has ended. Rejects on a permanent error, or once the reconnect policy is
   * exhausted (UnavailableError).
   */
  run(): Promise<void> {
    if (this.done) throw new Error('a GroupConsumer runs only once');
    this.done = this.runToEnd();
    return this.done;
  }

  /**
   * Stops: gives back deliveries not yet started, waits for running handlers (their acks are
   * sent), waits up to `stopTimeoutMs` for the acks to be confirmed durable, then ends the stream.
   * Resolves when run() has ended; run() itself reports any error.
   */
  async stop(): Promise<void> {
    this.shutdown ??= this.shutDown();
    await this.shutdown;
    await this.done?.catch(() => undefined);
  }

  private async runToEnd(): Promise<void> {
    try {
      await this.consume();
    } catch (error) {
      this.failure ??= { error };
    }
    // A permanent error ends run() too: start nothing more, and let running handlers finish so
    // none is left behind.
    this.stopping.abort();
    this.pump();
    await this.idle();
    await this.shutdown;
    try {
      await this.processed.flush();
    } catch (error) {
      this.failure ??= { error };
    }
    if (this.failure) throw this.failure.error;
  }

  private async shutDown(): Promise<void> {
    this.stopping.abort();
    this.pump();
    await this.idle();
    const session = this.session;
    if (!session?.open) return;
    session.flush();
    await session.until(() => !session.open || session.unconfirmed.size === 0, this.stopTimeoutMs);
    // Cancelled rather than half-closed (which leaves the group too, but only once the server
    // reads it): with every ack confirmed the server has nothing of this member's left to
    // settle; what it still holds (deliveries sent while stopping) it redelivers on the
    // disconnect.
    session.close();
  }

  /** Resolves when no handler is running. */
  private async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  /** Ends run() with `error`: the stream is cancelled, so the server redelivers what it held. */
  private fail(error: unknown): void {
    this.failure ??= { error };
    this.stopping.abort();
    this.session?.close();
  }

  private async consume(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    let failingSince: number | undefined;
    while (!signal.aborted) {
      const call = this.client.raw.consume(this.client.callMetadata());
      // Errors are consumed through iteration; this keeps a late one (after cancel) from being
      // an unhandled 'error' event.
      call.on('error', () => {});
      const session = new Session(call);
      this.session = session;
      let problem: string;
      let code: Status = Status.UNAVAILABLE;
      try {
        call.write({ join: { topic: this.topic, group: this.group, maxInFlight: this.maxInFlight } });
        let joined = false;
        for await (const response of call as AsyncIterable<ConsumeResponse__Output>) {
          failures = 0;
          failingSince = undefined;
          if (!joined) {
            this.join(session, response);
            joined = true;
          }
          this.receive(session, response);
        }
        if (signal.aborted) return;
        // A member's stream does not end with OK unless the member half-closed it; a server that
        // is shutting down may close it without a status. Treat as transient.
        problem = 'stream ended without an error';
      } catch (error) {
        if (signal.aborted) return;
        // Not a status: a response that breaks the protocol (see join() and receive()).
        if (!isServiceError(error)) throw error;
        if (!TRANSIENT_CODES.has(error.code)) throw fromGroupServiceError(error);
        code = error.code;
        problem = `${Status[code]}: ${error.details}`;
      } finally {
        session.close();
        // Queued deliveries of this stream are the server's again.
        this.pump();
      }
      failures += 1;
      const now = Date.now();
      failingSince ??= now;
      const delayMs = backoffMs(this.policy, failures);
      if (exhausted(this.policy, failures, now - failingSince, delayMs)) {
        throw new UnavailableError(code, `consumer group ${this.group} on ${this.topic} gave up after ${failures} failures: ${problem}`);
      }
      this.options.onReconnect?.({ reason: problem, delayMs });
      if (!(await sleep(delayMs, signal))) return;
      this.reconnects += 1;
    }
  }

  private join(session: Session, response: ConsumeResponse__Output): void {
    if (!response.group) throw new Error(`the server's first Consume response for group ${this.group} did not describe the group`);
    const group = toConsumerGroupInfo(response.group);
    this.groupInfo = group;
    this.processed.forgetBelow(group.ackFloor);
    session.startExtending(group.ackDeadlineMs);
    this.options.onJoin?.(group);
  }

  private receive(session: Session, response: ConsumeResponse__Output): void {
    for (const delivery of response.deliveries) {
      if (!delivery.event) throw new Error(`the server sent group ${this.group} a delivery without an event`);
      const event = toEvent(delivery.event);
      // A second delivery of an offset this stream still holds is the same work: the copy
      // already queued or running acknowledges it.
      if (session.held.has(event.offset)) continue;
      session.held.add(event.offset);
      this.queue.push({ session, event, attempt: delivery.attempt });
    }
    // Before any id is forgotten below: a redelivery that crossed its first ack on the way (its
    // deadline passed) is settled from the record.
    this.pump();
    for (const raw of response.acksDurable) {
      const offset = BigInt(raw);
      session.confirm(offset);
      // Held again means delivered again before the server took the first ack: that delivery
      // still needs the id, until its own ack is durable.
      if (!session.held.has(offset)) this.processed.forget(offset);
    }
  }

  /** Starts handlers for queued deliveries while slots are free; settles what needs no handler. */
  private pump(): void {
    const stopping = this.stopping.signal.aborted;
    for (let i = 0; i < this.queue.length; ) {
      const { session, event } = this.queue[i]!;
      if (!session.open) {
        this.queue.splice(i, 1);
      } else if (this.running.has(event.id)) {
        // Delivered again while a run from an ended stream is still going: its outcome decides.
        i += 1;
      } else if (this.processed.has(event.id)) {
        this.queue.splice(i, 1);
        this.counts.alreadyProcessed += 1;
        session.ack(event.offset);
      } else if (stopping) {
        this.queue.splice(i, 1);
        session.nack(event.offset, undefined, 'consumer stopping');
      } else if (this.running.size < this.concurrency) {
        this.start(this.queue.splice(i, 1)[0]!);
      } else {
        i += 1;
      }
    }
  }

  private start(item: Queued): void {
    const run = this.handle(item)
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.running.delete(item.event.id);
        this.pump();
      });
    this.running.set(item.event.id, run);
  }

  private async handle({ session, event, attempt }: Queued): Promise<void> {
    const context: DeliveryContext = { attempt };
    try {
      await this.handler(event, context);
    } catch (error) {
      this.counts.failed += 1;
      session.nack(event.offset, this.options.retryDelayMs, nackReason(error));
      this.options.onHandlerError?.(error, event, context);
      return;
    }
    // Recorded before the ack: once the server could consider the event done, a redelivery of it
    // (after a lost ack) is recognised.
    await this.processed.record(event.offset, event.id);
    this.counts.handled += 1;
    session.ack(event.offset);
  }
}
