// Original file: proto/eventstream/v1/eventstream.proto


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
}
