// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from '../../eventstream/v1/ConsumerGroup';

/**
 * A topic's consumer groups.
 */
export interface ListConsumerGroupsResponse {
  /**
   * Every group of the topic, sorted by name.
   */
  'groups'?: (_eventstream_v1_ConsumerGroup)[];
}

/**
 * A topic's consumer groups.
 */
export interface ListConsumerGroupsResponse__Output {
  /**
   * Every group of the topic, sorted by name.
   */
  'groups': (_eventstream_v1_ConsumerGroup__Output)[];
}
