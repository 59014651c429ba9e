// Original file: proto/eventstream/v1/eventstream.proto

import type { Event as _eventstream_v1_Event, Event__Output as _eventstream_v1_Event__Output } from '../../eventstream/v1/Event';

/**
 * One event delivered to a consumer group member.
 */
export interface GroupDelivery {
  /**
   * The event.
   */
  'event'?: (_eventstream_v1_Event | null);
  /**
   * 1 for the first delivery to the group, 2 for the second, and so on.
   */
  'attempt'?: (number);
}

/**
 * One event delivered to a consumer group member.
 */
export interface GroupDelivery__Output {
  /**
   * The event.
   */
  'event': (_eventstream_v1_Event__Output | null);
  /**
   * 1 for the first delivery to the group, 2 for the second, and so on.
   */
  'attempt': (number);
}
