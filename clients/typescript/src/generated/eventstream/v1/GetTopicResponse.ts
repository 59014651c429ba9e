// Original file: proto/eventstream/v1/eventstream.proto

import type { Topic as _eventstream_v1_Topic, Topic__Output as _eventstream_v1_Topic__Output } from '../../eventstream/v1/Topic';

/**
 * One topic's description.
 */
export interface GetTopicResponse {
  /**
   * The topic.
   */
  'topic'?: (_eventstream_v1_Topic | null);
}

/**
 * One topic's description.
 */
export interface GetTopicResponse__Output {
  /**
   * The topic.
   */
  'topic': (_eventstream_v1_Topic__Output | null);
}
