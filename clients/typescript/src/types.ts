/** The client's event types: offsets as bigint (uint64), times as Date, payloads as Buffer. */

import type { ConsumerGroup__Output } from './generated/eventstream/v1/ConsumerGroup';
import type { Event__Output } from './generated/eventstream/v1/Event';
import type { OutOfRangePolicy__Output } from './generated/eventstream/v1/OutOfRangePolicy';
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

/**
 * What a consumer group does when retention removes events it has not acknowledged: `fail`
 * (stop delivering until the group is reset), `earliest` (continue from the oldest retained
 * event) or `latest` (continue from the end of the log); skipped events are counted.
 */
export type OutOfRangePolicy = 'fail' | 'earliest' | 'latest';

/** A consumer group's description: its settings and where it stands. */
export interface ConsumerGroupInfo {
  topic: string;
  name: string;
  /** How long a member has to acknowledge a delivery before it goes to another member. */
  ackDeadlineMs: number;
  /** Deliveries of one event before it goes to the dead-letter topic; 0: unlimited. */
  maxDeliveries: number;
  deadLetterTopic: string;
  outOfRange: OutOfRangePolicy;
  /** The lowest offset not yet acknowledged: everything below it is done, durably. */
  ackFloor: bigint;
  /** The topic's next offset when the description was taken. */
  nextOffset: bigint;
  /** Events not yet acknowledged. */
  lag: bigint;
  /** Members connected now. */
  members: number;
  /** Events delivered and awaiting their acknowledgement now. */
  inFlight: bigint;
  /** Second or later deliveries since the group was created. */
  redeliveries: bigint;
  /** Events published to the dead-letter topic since the group was created. */
  deadLettered: bigint;
  /** Events removed by retention before the group acknowledged them. */
  skipped: bigint;
  createTime: Date;
  /** Why the group is not delivering; empty when it is healthy. */
  problem: string;
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

export function toDuration(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
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

/** The proto's default ack deadline, which an unset `ack_deadline` means. */
const DEFAULT_ACK_DEADLINE_MS = 30_000;

const OUT_OF_RANGE_POLICIES: Readonly<Record<OutOfRangePolicy__Output, OutOfRangePolicy>> = {
  // The proto treats an unset policy as FAIL.
  OUT_OF_RANGE_POLICY_UNSPECIFIED: 'fail',
  OUT_OF_RANGE_POLICY_FAIL: 'fail',
  OUT_OF_RANGE_POLICY_EARLIEST: 'earliest',
  OUT_OF_RANGE_POLICY_LATEST: 'latest',
};

export function toOutOfRangePolicy(policy: OutOfRangePolicy): OutOfRangePolicy__Output {
  const names = { fail: 'OUT_OF_RANGE_POLICY_FAIL', earliest: 'OUT_OF_RANGE_POLICY_EARLIEST', latest: 'OUT_OF_RANGE_POLICY_LATEST' } as const;
  return names[policy];
}

export function toConsumerGroupInfo(raw: ConsumerGroup__Output | null): ConsumerGroupInfo {
  if (!raw) throw new Error('server returned no consumer group');
  return {
    topic: raw.topic,
    name: raw.name,
    ackDeadlineMs: durationMs(raw.config?.ackDeadline) ?? DEFAULT_ACK_DEADLINE_MS,
    maxDeliveries: raw.config?.maxDeliveries ?? 0,
    deadLetterTopic: raw.config?.deadLetterTopic ?? '',
    outOfRange: OUT_OF_RANGE_POLICIES[raw.config?.outOfRange ?? 'OUT_OF_RANGE_POLICY_UNSPECIFIED'],
    ackFloor: BigInt(raw.ackFloor),
    nextOffset: BigInt(raw.nextOffset),
    lag: BigInt(raw.lag),
    members: raw.members,
    inFlight: BigInt(raw.inFlight),
    redeliveries: BigInt(raw.redeliveries),
    deadLettered: BigInt(raw.deadLettered),
    skipped: BigInt(raw.skipped),
    createTime: toDate(raw.createTime),
    problem: raw.problem,
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
