// Original file: proto/eventstream/v1/eventstream.proto

import type { EventData as _eventstream_v1_EventData, EventData__Output as _eventstream_v1_EventData__Output } from '../../eventstream/v1/EventData';
import type { CursorUpdate as _eventstream_v1_CursorUpdate, CursorUpdate__Output as _eventstream_v1_CursorUpdate__Output } from '../../eventstream/v1/CursorUpdate';
import type { Long } from '@grpc/proto-loader';

/**
 * Events to append to one topic.
 */
export interface PublishRequest {
  /**
   * The topic to append to. 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
   */
  'topic'?: (string);
  /**
   * The events, appended contiguously in this order, all or nothing. At least one, unless
   * `cursor` is set.
   */
  'events'?: (_eventstream_v1_EventData)[];
  /**
   * Appends only if the topic's next offset is exactly this (that is, nothing was appended since
   * the caller looked). Unset: any.
   */
  'expectedNextOffset'?: (number | string | Long);
  /**
   * Moves a named cursor of this topic in the same atomic, durable write as the events: a
   * consumer that reads one topic and publishes its results here records "processed up to X"
   * and the results together, all or nothing.
   */
  'cursor'?: (_eventstream_v1_CursorUpdate | null);
  '_expectedNextOffset'?: "expectedNextOffset";
}

/**
 * Events to append to one topic.
 */
export interface PublishRequest__Output {
  /**
   * The topic to append to. 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
   */
  'topic': (string);
  /**
   * The events, appended contiguously in this order, all or nothing. At least one, unless
   * `cursor` is set.
   */
  'events': (_eventstream_v1_EventData__Output)[];
  /**
   * Appends only if the topic's next offset is exactly this (that is, nothing was appended since
   * the caller looked). Unset: any.
   */
  'expectedNextOffset'?: (string);
  /**
   * Moves a named cursor of this topic in the same atomic, durable write as the events: a
   * consumer that reads one topic and publishes its results here records "processed up to X"
   * and the results together, all or nothing.
   */
  'cursor': (_eventstream_v1_CursorUpdate__Output | null);
  '_expectedNextOffset'?: "expectedNextOffset";
}
