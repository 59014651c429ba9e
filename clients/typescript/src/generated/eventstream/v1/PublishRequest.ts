// Original file: proto/eventstream/v1/eventstream.proto

import type { EventData as _eventstream_v1_EventData, EventData__Output as _eventstream_v1_EventData__Output } from '../../eventstream/v1/EventData';

/**
 * Events to append to one topic.
 */
export interface PublishRequest {
  /**
   * The topic to append to. 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
   */
  'topic'?: (string);
  /**
   * The events, appended contiguously in this order, all or nothing. At least one.
   */
  'events'?: (_eventstream_v1_EventData)[];
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
   * The events, appended contiguously in this order, all or nothing. At least one.
   */
  'events': (_eventstream_v1_EventData__Output)[];
}
