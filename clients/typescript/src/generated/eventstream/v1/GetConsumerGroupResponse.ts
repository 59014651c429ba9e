// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from '../../eventstream/v1/ConsumerGroup';

/**
 * One consumer group.
 */
export interface GetConsumerGroupResponse {
  /**
   * The group.
   */
  'group'?: (_eventstream_v1_ConsumerGroup | null);
}

/**
 * One consumer group.
 */
export interface GetConsumerGroupResponse__Output {
  /**
   * The group.
   */
  'group': (_eventstream_v1_ConsumerGroup__Output | null);
}
