// Original file: proto/eventstream/v1/eventstream.proto

import type { Precondition as _eventstream_v1_Precondition, Precondition__Output as _eventstream_v1_Precondition__Output } from '../../eventstream/v1/Precondition';

/**
 * An event as a publisher hands it to the server.
 */
export interface EventData {
  /**
   * What happened, for example `OrderPlaced`. Required, non-empty.
   */
  'type'?: (string);
  /**
   * The event body, opaque to the server. At most the server's `--max-event-bytes` (default 1 MiB).
   */
  'payload'?: (Buffer | Uint8Array | string);
  /**
   * Makes publishing idempotent: an event whose key was already appended to the same topic within
   * the topic's dedup window is not appended again. Empty means no deduplication. At most 256 bytes.
   */
  'idempotencyKey'?: (string);
  /**
   * The entity the event is about (an account id, an order id); subscribers may filter on it.
   */
  'key'?: (string);
  /**
   * Free-form metadata (trace ids, producer name). Stored and delivered unchanged.
   */
  'headers'?: ({[key: string]: string});
  /**
   * The payload's media type, for example `application/json`. Stored and delivered unchanged.
   */
  'contentType'?: (string);
  /**
   * The version of the payload's schema, for consumers that upcast old events.
   */
  'schemaVersion'?: (number);
  /**
   * Appends the event only if its `key`'s latest version is as expected (`absent`: the key has
   * no events yet; `equals`: its latest event has exactly this version). Unset: any. Needs `key`.
   */
  'expectedKeyVersion'?: (_eventstream_v1_Precondition | null);
}

/**
 * An event as a publisher hands it to the server.
 */
export interface EventData__Output {
  /**
   * What happened, for example `OrderPlaced`. Required, non-empty.
   */
  'type': (string);
  /**
   * The event body, opaque to the server. At most the server's `--max-event-bytes` (default 1 MiB).
   */
  'payload': (Buffer);
  /**
   * Makes publishing idempotent: an event whose key was already appended to the same topic within
   * the topic's dedup window is not appended again. Empty means no deduplication. At most 256 bytes.
   */
  'idempotencyKey': (string);
  /**
   * The entity the event is about (an account id, an order id); subscribers may filter on it.
   */
  'key': (string);
  /**
   * Free-form metadata (trace ids, producer name). Stored and delivered unchanged.
   */
  'headers': ({[key: string]: string});
  /**
   * The payload's media type, for example `application/json`. Stored and delivered unchanged.
   */
  'contentType': (string);
  /**
   * The version of the payload's schema, for consumers that upcast old events.
   */
  'schemaVersion': (number);
  /**
   * Appends the event only if its `key`'s latest version is as expected (`absent`: the key has
   * no events yet; `equals`: its latest event has exactly this version). Unset: any. Needs `key`.
   */
  'expectedKeyVersion': (_eventstream_v1_Precondition__Output | null);
}
