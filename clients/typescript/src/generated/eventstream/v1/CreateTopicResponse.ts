// Original file: proto/eventstream/v1/eventstream.proto

import type { Topic as _eventstream_v1_Topic, Topic__Output as _eventstream_v1_Topic__Output } from '../../eventstream/v1/Topic';

/**
 * The created topic.
 */
export interface CreateTopicResponse {
  /**
   * The topic as created.
   */
  'topic'?: (_eventstream_v1_Topic | null);
}

/**
 * The created topic.
 */
export interface CreateTopicResponse__Output {
  /**
   * The topic as created.
   */
  'topic': (_eventstream_v1_Topic__Output | null);
}
