// Original file: proto/eventstream/v1/eventstream.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

/**
 * Where one published event went.
 */
export interface PublishResult {
  /**
   * The event's offset in the topic (the original one when `duplicate` is true).
   */
  'offset'?: (number | string | Long);
  /**
   * The event's id (the original one when `duplicate` is true).
   */
  'id'?: (string);
  /**
   * The event's append time (the original one when `duplicate` is true).
   */
  'time'?: (_google_protobuf_Timestamp | null);
  /**
   * True if the idempotency key had already been appended and this event was not appended again.
   */
  'duplicate'?: (boolean);
  /**
   * The event's version within its key (see `Event.key_version`); unset without a key.
   */
  'keyVersion'?: (number | string | Long);
  '_keyVersion'?: "keyVersion";
}

/**
 * Where one published event went.
 */
export interface PublishResult__Output {
  /**
   * The event's offset in the topic (the original one when `duplicate` is true).
   */
  'offset': (string);
  /**
   * The event's id (the original one when `duplicate` is true).
   */
  'id': (string);
  /**
   * The event's append time (the original one when `duplicate` is true).
   */
  'time': (_google_protobuf_Timestamp__Output | null);
  /**
   * True if the idempotency key had already been appended and this event was not appended again.
   */
  'duplicate': (boolean);
  /**
   * The event's version within its key (see `Event.key_version`); unset without a key.
   */
  'keyVersion'?: (string);
  '_keyVersion'?: "keyVersion";
}
