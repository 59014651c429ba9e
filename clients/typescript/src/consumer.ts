/**
 * A durable, idempotent consumer: its position, the ids of processed events and the handler's
 * own state live in one JSON file, replaced atomically (write temp + fsync + rename + fsync dir)
 * after each event.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

import type { EventStreamClient } from './client';
import { replaceFileDurably } from './durableFile';
import type { RetryPolicy } from './retry';
import type { Subscription } from './subscription';
import type { Event } from './types';

/** What the handler gets besides the event. */
export interface ConsumerContext<S> {
  /**
   * The consumer's state: a copy of the last committed one. Change it (or assign a new value) to
   * have the change committed atomically with the position and the event's id; if the handler
   * throws, the change is discarded. Must be JSON-serialisable.
   */
  state: S;
}

export type ConsumerHandler<S> = (event: Event, context: ConsumerContext<S>) => void | Promise<void>;

export interface DurableConsumerOptions<S> {
  /** Stored in the file, checked on load (default "default"). */
  name?: string;
  /** The state before the first event (default `{}`). */
  initialState?: S;
  /** Where to start the first time (default: the oldest retained event). */
  startOffset?: bigint | number;
  /** Start the first time at the end of the log. */
  latest?: boolean;
  types?: string[];
  key?: string;
  reconnect?: Partial<RetryPolicy>;
  /** How many recent processed ids to keep (default 10 000); older ones are below the position. */
  maxProcessedIds?: number;
}

interface Stored<S> {
  version: 1;
  topic: string;
  name: string;
  /** The offset to resume from, as a decimal string; null before the first commit. */
  position: string | null;
  /** Ids of the most recently processed events, oldest first. */
  processed: string[];
  state: S;
}

/**
 * Consumes a topic so that every event is handled once, across crashes and restarts.
 *
 * For each event: if its id is recorded as processed, it is skipped; otherwise
 * `handler(event, context)` runs, then the new position (offset + 1, or the batch's nextOffset),
 * the event's id and `context.state` are committed together by atomically replacing the file. If
 * the handler throws, nothing is committed and the error propagates out of run(); the next run
 * handles the event again. On start the consumer resumes from the stored position.
 *
 * **Guarantee**: changes to `context.state` take effect exactly once per event. Effects outside
 * the file (HTTP calls, databases) happen at least once: a crash after the handler finished but
 * before the commit runs it again for that event. Make them idempotent with `event.id` (a
 * UUIDv7, unique per event) as the key.
 *
 * Run one instance per file at a time.
 */
export class DurableConsumer<S = Record<string, unknown>> {
  readonly file: string;
  private stored: Stored<S>;
  private processed: Set<string>;
  private readonly maxProcessedIds: number;
  private subscription: Subscription | undefined;
  private stopping = false;

  constructor(
    readonly client: EventStreamClient,
    readonly topic: string,
    file: string,
    readonly handler: ConsumerHandler<S>,
    private readonly options: DurableConsumerOptions<S> = {},
  ) {
    this.file = path.resolve(file);
    this.maxProcessedIds = options.maxProcessedIds ?? 10_000;
    const name = options.name ?? 'default';
    this.stored = this.load() ?? {
      version: 1,
      topic,
      name,
      position: null,
      processed: [],
      state: options.initialState ?? ({} as S),
    };
    if (this.stored.topic !== topic || this.stored.name !== name) {
      throw new Error(`${this.file} belongs to consumer ${this.stored.name} of topic ${this.stored.topic}`);
    }
    this.processed = new Set(this.stored.processed);
  }

  /** The stored offset to resume from (undefined before the first commit). */
  get position(): bigint | undefined {
    return this.stored.position === null ? undefined : BigInt(this.stored.position);
  }

  /** The last committed state (a copy). */
  get state(): S {
    return structuredClone(this.stored.state);
  }

  isProcessed(eventId: string): boolean {
    return this.processed.has(eventId);
  }

  /**
   * Consumes until stop(), until the end of the log (`untilCaughtUp`), or until `maxEvents`
   * events were handled. Resolves to the number of events passed to the handler in this run.
   */
  async run(options: { untilCaughtUp?: boolean; maxEvents?: number } = {}): Promise<number> {
    this.stopping = false;
    const stored = this.position;
    const subscription = this.client.subscribe(this.topic, {
      fromOffset: stored ?? this.options.startOffset,
      latest: stored === undefined && this.options.startOffset === undefined ? this.options.latest : undefined,
      types: this.options.types,
      key: this.options.key,
      stopAtEnd: options.untilCaughtUp ?? false,
      reconnect: this.options.reconnect,
    });
    this.subscription = subscription;
    let handled = 0;
    try {
      for await (const batch of subscription.batches()) {
        const { events } = batch;
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!;
          const next = i === events.length - 1 ? batch.nextOffset : event.offset + 1n;
          if (await this.handle(event, next)) handled += 1;
          if (this.stopping || (options.maxEvents !== undefined && handled >= options.maxEvents)) return handled;
        }
        if (events.length === 0 && this.position !== batch.nextOffset) {
          await this.commit({ ...this.stored, position: batch.nextOffset.toString() });
        }
        if (this.stopping) return handled;
      }
    } finally {
      subscription.close();
      this.subscription = undefined;
    }
    return handled;
  }

  /** Stops run() after the event in progress. */
  stop(): void {
    this.stopping = true;
    this.subscription?.close();
  }

  private async handle(event: Event, next: bigint): Promise<boolean> {
    if (this.processed.has(event.id)) {
      await this.commit({ ...this.stored, position: next.toString() });
      return false;
    }
    const context: ConsumerContext<S> = { state: structuredClone(this.stored.state) };
    await this.handler(event, context);
    const processed = [...this.stored.processed, event.id];
    if (processed.length > this.maxProcessedIds) processed.splice(0, processed.length - this.maxProcessedIds);
    await this.commit({ ...this.stored, position: next.toString(), processed, state: context.state });
    return true;
  }

  private load(): Stored<S> | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const stored = JSON.parse(text) as Stored<S>;
    if (stored.version !== 1) throw new Error(`${this.file}: unknown version ${String(stored.version)}`);
    return stored;
  }

  /** Replaces the file atomically and durably, then adopts `next` as the committed state. */
  private async commit(next: Stored<S>): Promise<void> {
    await replaceFileDurably(this.file, JSON.stringify(next));
    this.stored = next;
    this.processed = new Set(next.processed);
  }
}
