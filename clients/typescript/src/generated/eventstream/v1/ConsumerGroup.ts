// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroupConfig as _eventstream_v1_ConsumerGroupConfig, ConsumerGroupConfig__Output as _eventstream_v1_ConsumerGroupConfig__Output } from '../../eventstream/v1/ConsumerGroupConfig';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

/**
 * A consumer group's description.
 */
export interface ConsumerGroup {
  /**
   * The topic it consumes.
   */
  'topic'?: (string);
  /**
   * Its name, unique within the topic.
   */
  'name'?: (string);
  /**
   * Its settings, with defaults filled in.
   */
  'config'?: (_eventstream_v1_ConsumerGroupConfig | null);
  /**
   * The ack floor: the lowest offset not yet acknowledged. Everything below it is done, durably.
   */
  'ackFloor'?: (number | string | Long);
  /**
   * The topic's next offset when this description was taken.
   */
  'nextOffset'?: (number | string | Long);
  /**
   * Events not yet acknowledged: `next_offset - ack_floor` minus those acknowledged above the floor.
   */
  'lag'?: (number | string | Long);
  /**
   * Members connected now.
   */
  'members'?: (number);
  /**
   * Events delivered and awaiting their acknowledgement now.
   */
  'inFlight'?: (number | string | Long);
  /**
   * Deliveries that were a second or later attempt, since the group was created.
   */
  'redeliveries'?: (number | string | Long);
  /**
   * Events published to the dead-letter topic, since the group was created.
   */
  'deadLettered'?: (number | string | Long);
  /**
   * Events removed by retention before the group acknowledged them, since it was created.
   */
  'skipped'?: (number | string | Long);
  /**
   * When the group was created.
   */
  'createTime'?: (_google_protobuf_Timestamp | null);
  /**
   * Why the group is not delivering, if it is not (for example its position fell below the
   * retained range). Empty when it is healthy.
   */
  'problem'?: (string);
}

/**
 * A consumer group's description.
 */
export interface ConsumerGroup__Output {
  /**
   * The topic it consumes.
   */
  'topic': (string);
  /**
   * Its name, unique within the topic.
   */
  'name': (string);
  /**
   * Its settings, with defaults filled in.
   */
  'config': (_eventstream_v1_ConsumerGroupConfig__Output | null);
  /**
   * The ack floor: the lowest offset not yet acknowledged. Everything below it is done, durably.
   */
  'ackFloor': (string);
  /**
   * The topic's next offset when this description was taken.
   */
  'nextOffset': (string);
  /**
   * Events not yet acknowledged: `next_offset - ack_floor` minus those acknowledged above the floor.
   */
  'lag': (string);
  /**
   * Members connected now.
   */
  'members': (number);
  /**
   * Events delivered and awaiting their acknowledgement now.
   */
  'inFlight': (string);
  /**
   * Deliveries that were a second or later attempt, since the group was created.
   */
  'redeliveries': (string);
  /**
   * Events published to the dead-letter topic, since the group was created.
   */
  'deadLettered': (string);
  /**
   * Events removed by retention before the group acknowledged them, since it was created.
   */
  'skipped': (string);
  /**
   * When the group was created.
   */
  'createTime': (_google_protobuf_Timestamp__Output | null);
  /**
   * Why the group is not delivering, if it is not (for example its position fell below the
   * retained range). Empty when it is healthy.
   */
  'problem': (string);
}
