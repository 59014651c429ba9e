// Original file: proto/eventstream/v1/eventstream.proto

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration';
import type { OutOfRangePolicy as _eventstream_v1_OutOfRangePolicy, OutOfRangePolicy__Output as _eventstream_v1_OutOfRangePolicy__Output } from '../../eventstream/v1/OutOfRangePolicy';

/**
 * A consumer group's settings, fixed at creation.
 */
export interface ConsumerGroupConfig {
  /**
   * How long a member has to acknowledge a delivery before it is delivered again (to any member
   * with room, possibly the same one). Unset: 30 s. At least 1 ms, at most 24 h.
   */
  'ackDeadline'?: (_google_protobuf_Duration | null);
  /**
   * Deliveries of one event before it goes to the dead-letter topic. Zero: unlimited.
   */
  'maxDeliveries'?: (number);
  /**
   * Where events go after `max_deliveries` attempts; needs `max_deliveries`. Empty (with
   * `max_deliveries` set): `<topic>.<group>.dead-letters`. Created with the group if missing.
   * Empty in the description of a group without `max_deliveries`. Its events carry the original type, payload, key and
   * headers, plus the headers `eventstream-dead-letter-topic`, `-offset`, `-group`, `-attempts`
   * and `-reason` (the last nack's reason, or `ack deadline passed`).
   */
  'deadLetterTopic'?: (string);
  /**
   * What happens when the group's position falls below the retained range. Unset: FAIL.
   */
  'outOfRange'?: (_eventstream_v1_OutOfRangePolicy);
}

/**
 * A consumer group's settings, fixed at creation.
 */
export interface ConsumerGroupConfig__Output {
  /**
   * How long a member has to acknowledge a delivery before it is delivered again (to any member
   * with room, possibly the same one). Unset: 30 s. At least 1 ms, at most 24 h.
   */
  'ackDeadline': (_google_protobuf_Duration__Output | null);
  /**
   * Deliveries of one event before it goes to the dead-letter topic. Zero: unlimited.
   */
  'maxDeliveries': (number);
  /**
   * Where events go after `max_deliveries` attempts; needs `max_deliveries`. Empty (with
   * `max_deliveries` set): `<topic>.<group>.dead-letters`. Created with the group if missing.
   * Empty in the description of a group without `max_deliveries`. Its events carry the original type, payload, key and
   * headers, plus the headers `eventstream-dead-letter-topic`, `-offset`, `-group`, `-attempts`
   * and `-reason` (the last nack's reason, or `ack deadline passed`).
   */
  'deadLetterTopic': (string);
  /**
   * What happens when the group's position falls below the retained range. Unset: FAIL.
   */
  'outOfRange': (_eventstream_v1_OutOfRangePolicy__Output);
}
