// Original file: proto/eventstream/v1/eventstream.proto

import type { Topic as _eventstream_v1_Topic, Topic__Output as _eventstream_v1_Topic__Output } from '../../eventstream/v1/Topic';

/**
 * All topics.
 */
export interface ListTopicsResponse {
  /**
   * Every topic, sorted by name.
   */
  'topics'?: (_eventstream_v1_Topic)[];
}

/**
 * All topics.
 */
export interface ListTopicsResponse__Output {
  /**
   * Every topic, sorted by name.
   */
  'topics': (_eventstream_v1_Topic__Output)[];
}
