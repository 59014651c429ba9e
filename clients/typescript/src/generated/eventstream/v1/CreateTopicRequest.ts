// Original file: proto/eventstream/v1/eventstream.proto

import type { TopicConfig as _eventstream_v1_TopicConfig, TopicConfig__Output as _eventstream_v1_TopicConfig__Output } from '../../eventstream/v1/TopicConfig';

/**
 * Asks to create a topic.
 */
export interface CreateTopicRequest {
  /**
   * The new topic's name. 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
   */
  'name'?: (string);
  /**
   * The new topic's settings. Unset: keep forever, default dedup window.
   */
  'config'?: (_eventstream_v1_TopicConfig | null);
}

/**
 * Asks to create a topic.
 */
export interface CreateTopicRequest__Output {
  /**
   * The new topic's name. 1 to 249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
   */
  'name': (string);
  /**
   * The new topic's settings. Unset: keep forever, default dedup window.
   */
  'config': (_eventstream_v1_TopicConfig__Output | null);
}
