/** The client's event types: offsets as bigint (uint64), times as Date, payloads as Buffer. */

import type { Event__Output } from './generated/eventstream/v1/Event';
import type { Timestamp__Output } from './generated/google/protobuf/Timestamp';
import type { Topic__Output } from './generated/eventstream/v1/Topic';
import type { EventData } from './generated/eventstream/v1/EventData';

/** An event to publish. */
export interface NewEvent {
  /** What happened, e.g. `OrderPlaced`. Required, non-empty. */
  type: string;
  /** The body; a string is encoded as UTF-8. */
  payload?: Uint8Array | string;
  /** Makes publishing idempotent. Unset: `publish` assigns a random UUID. At most 256 bytes. */
  idempotencyKey?: string;
  /** The entity the event is about; subscribers may filter on it. */
  key?: string;
  headers?: Record<string, string>;
  contentType?: string;
  schemaVersion?: number;
}

/** An event as delivered to subscribers. */
export interface Event {
  /** A UUIDv7 assigned by the server, unique across topics. */
  id: string;
  topic: string;
  /** Position in the topic: gapless from 0, never reused. */
  offset: bigint;
  /** The server's append time. */
  time: Date;
  type: string;
  payload: Buffer;
  idempotencyKey: string;
  key: string;
  headers: Record<string, string>;
  contentType: string;
  schemaVersion: number;
}

/** Where one published event went. */
export interface Published {
  /** The event's offset (the original one when `duplicate`). */
  offset: bigint;
  /** The event's id (the original one when `duplicate`). */
  id: string;
  /** The append time (the original one when `duplicate`). */
  time: Date;
  /**
   * True if the server already had the idempotency key and did not append again. After a retry
   * this can be the client's own earlier attempt whose response was lost.
   */
  duplicate: boolean;
  /** The key that was sent (the caller's, or the UUID the client assigned). */
  idempotencyKey: string;
}

/** A topic's description. */
export interface TopicInfo {
  name: string;
  firstOffset: bigint;
  nextOffset: bigint;
  sizeBytes: bigint;
  createTime: Date;
  retentionAgeMs: number | null;
  retentionEvents: bigint;
  retentionBytes: bigint;
  dedupWindowMs: number | null;
}

/** One server response: the events that passed the filters, and where to resume. */
export interface Batch {
  events: Event[];
  /** Just past the last offset the server examined: resume here. */
  nextOffset: bigint;
  /** True when this batch reached the end of the log as it stood. */
  caughtUp: boolean;
}

export function toDate(stamp: Timestamp__Output | null | undefined): Date {
  if (!stamp) return new Date(0);
  return new Date(Number(stamp.seconds) * 1000 + Math.floor(stamp.nanos / 1e6));
}

export function fromDate(date: Date): { seconds: string; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1e6 };
}

function durationMs(value: { seconds: string; nanos: number } | null | undefined): number | null {
  if (!value) return null;
  return Number(value.seconds) * 1000 + Math.floor(value.nanos / 1e6);
}

export function toEvent(raw: Event__Output): Event {
  return {
    id: raw.id,
    topic: raw.topic,
    offset: BigInt(raw.offset),
    time: toDate(raw.time),
    type: raw.type,
    payload: raw.payload,
    idempotencyKey: raw.idempotencyKey,
    key: raw.key,
    headers: { ...raw.headers },
    contentType: raw.contentType,
    schemaVersion: raw.schemaVersion,
  };
}

export function toTopicInfo(raw: Topic__Output | null): TopicInfo {
  if (!raw) throw new Error('server returned no topic');
  return {
    name: raw.name,
    firstOffset: BigInt(raw.firstOffset),
    nextOffset: BigInt(raw.nextOffset),
    sizeBytes: BigInt(raw.sizeBytes),
    createTime: toDate(raw.createTime),
    retentionAgeMs: durationMs(raw.config?.retentionAge),
    retentionEvents: BigInt(raw.config?.retentionEvents ?? 0),
    retentionBytes: BigInt(raw.config?.retentionBytes ?? 0),
    dedupWindowMs: durationMs(raw.config?.dedupWindow),
  };
}

export function toEventData(event: NewEvent, idempotencyKey: string): EventData {
  const payload = event.payload ?? Buffer.alloc(0);
  return {
    type: event.type,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload),
    idempotencyKey,
    key: event.key ?? '',
    headers: { ...(event.headers ?? {}) },
    contentType: event.contentType ?? '',
    schemaVersion: event.schemaVersion ?? 0,
  };
}
