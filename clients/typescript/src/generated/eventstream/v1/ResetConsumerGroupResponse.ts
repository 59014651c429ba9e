// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from '../../eventstream/v1/ConsumerGroup';

/**
 * The reset consumer group.
 */
export interface ResetConsumerGroupResponse {
  /**
   * The group at its new position.
   */
  'group'?: (_eventstream_v1_ConsumerGroup | null);
}

/**
 * The reset consumer group.
 */
export interface ResetConsumerGroupResponse__Output {
  /**
   * The group at its new position.
   */
  'group': (_eventstream_v1_ConsumerGroup__Output | null);
}
