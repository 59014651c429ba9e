// Original file: proto/eventstream/v1/eventstream.proto

import type { GroupDelivery as _eventstream_v1_GroupDelivery, GroupDelivery__Output as _eventstream_v1_GroupDelivery__Output } from '../../eventstream/v1/GroupDelivery';
import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from '../../eventstream/v1/ConsumerGroup';
import type { Long } from '@grpc/proto-loader';

/**
 * One message to a consumer group member.
 */
export interface ConsumeResponse {
  /**
   * Events for this member, in offset order within the batch.
   */
  'deliveries'?: (_eventstream_v1_GroupDelivery)[];
  /**
   * Offsets this member acknowledged whose acknowledgement is now durable.
   */
  'acksDurable'?: (number | string | Long)[];
  /**
   * Set in the first response only: the group joined.
   */
  'group'?: (_eventstream_v1_ConsumerGroup | null);
}

/**
 * One message to a consumer group member.
 */
export interface ConsumeResponse__Output {
  /**
   * Events for this member, in offset order within the batch.
   */
  'deliveries': (_eventstream_v1_GroupDelivery__Output)[];
  /**
   * Offsets this member acknowledged whose acknowledgement is now durable.
   */
  'acksDurable': (string)[];
  /**
   * Set in the first response only: the group joined.
   */
  'group': (_eventstream_v1_ConsumerGroup__Output | null);
}
