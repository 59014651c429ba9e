// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from '../../eventstream/v1/ConsumerGroup';

/**
 * The created consumer group.
 */
export interface CreateConsumerGroupResponse {
  /**
   * The group as created.
   */
  'group'?: (_eventstream_v1_ConsumerGroup | null);
}

/**
 * The created consumer group.
 */
export interface CreateConsumerGroupResponse__Output {
  /**
   * The group as created.
   */
  'group': (_eventstream_v1_ConsumerGroup__Output | null);
}
