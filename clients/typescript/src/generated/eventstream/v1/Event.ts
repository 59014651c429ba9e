// Original file: proto/eventstream/v1/eventstream.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

/**
 * An event as stored in a topic's log and delivered to subscribers.
 */
export interface Event {
  /**
   * A UUID v7 assigned by the server on append, unique across topics.
   */
  'id'?: (string);
  /**
   * The topic the event belongs to.
   */
  'topic'?: (string);
  /**
   * The event's position in its topic: gapless, starting at 0, never reused.
   */
  'offset'?: (number | string | Long);
  /**
   * The server's append time. Never decreases along a topic's log.
   */
  'time'?: (_google_protobuf_Timestamp | null);
  /**
   * The publisher's event type.
   */
  'type'?: (string);
  /**
   * The publisher's payload, byte for byte.
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * The publisher's idempotency key, empty if none was given.
   */
  'idempotencyKey'?: (string);
  /**
   * The publisher's entity key, empty if none was given.
   */
  'key'?: (string);
  /**
   * The publisher's headers.
   */
  'headers'?: ({[key: string]: string});
  /**
   * The publisher's content type.
   */
  'contentType'?: (string);
  /**
   * The publisher's schema version.
   */
  'schemaVersion'?: (number);
  /**
   * The event's version within its key: 0 for the key's first event, then 1, 2, ... Kept across
   * retention (a key's versions never restart). Unset for events without a key.
   */
  'keyVersion'?: (number | string | Long);
  '_keyVersion'?: "keyVersion";
}

/**
 * An event as stored in a topic's log and delivered to subscribers.
 */
export interface Event__Output {
  /**
   * A UUID v7 assigned by the server on append, unique across topics.
   */
  'id': (string);
  /**
   * The topic the event belongs to.
   */
  'topic': (string);
  /**
   * The event's position in its topic: gapless, starting at 0, never reused.
   */
  'offset': (string);
  /**
   * The server's append time. Never decreases along a topic's log.
   */
  'time': (_google_protobuf_Timestamp__Output | null);
  /**
   * The publisher's event type.
   */
  'type': (string);
  /**
   * The publisher's payload, byte for byte.
   */
  'payload': (Buffer);
  /**
   * The publisher's idempotency key, empty if none was given.
   */
  'idempotencyKey': (string);
  /**
   * The publisher's entity key, empty if none was given.
   */
  'key': (string);
  /**
   * The publisher's headers.
   */
  'headers': ({[key: string]: string});
  /**
   * The publisher's content type.
   */
  'contentType': (string);
  /**
   * The publisher's schema version.
   */
  'schemaVersion': (number);
  /**
   * The event's version within its key: 0 for the key's first event, then 1, 2, ... Kept across
   * retention (a key's versions never restart). Unset for events without a key.
   */
  'keyVersion'?: (string);
  '_keyVersion'?: "keyVersion";
}
