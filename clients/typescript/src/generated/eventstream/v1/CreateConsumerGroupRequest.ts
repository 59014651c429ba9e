// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumerGroupConfig as _eventstream_v1_ConsumerGroupConfig, ConsumerGroupConfig__Output as _eventstream_v1_ConsumerGroupConfig__Output } from '../../eventstream/v1/ConsumerGroupConfig';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { StartPosition as _eventstream_v1_StartPosition, StartPosition__Output as _eventstream_v1_StartPosition__Output } from '../../eventstream/v1/StartPosition';
import type { Long } from '@grpc/proto-loader';

/**
 * Asks to create a consumer group.
 */
export interface CreateConsumerGroupRequest {
  /**
   * The topic to consume.
   */
  'topic'?: (string);
  /**
   * The group's name: 1 to 249 characters of `[A-Za-z0-9._-]`.
   */
  'name'?: (string);
  /**
   * The group's settings. Unset: defaults.
   */
  'config'?: (_eventstream_v1_ConsumerGroupConfig | null);
  /**
   * This offset (inclusive), within the retained range or the next offset.
   */
  'fromOffset'?: (number | string | Long);
  /**
   * The first event appended at or after this time.
   */
  'fromTime'?: (_google_protobuf_Timestamp | null);
  /**
   * The oldest retained event or the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition);
  /**
   * Where the group starts. Unset: the oldest retained event.
   */
  'start'?: "fromOffset"|"fromTime"|"position";
}

/**
 * Asks to create a consumer group.
 */
export interface CreateConsumerGroupRequest__Output {
  /**
   * The topic to consume.
   */
  'topic': (string);
  /**
   * The group's name: 1 to 249 characters of `[A-Za-z0-9._-]`.
   */
  'name': (string);
  /**
   * The group's settings. Unset: defaults.
   */
  'config': (_eventstream_v1_ConsumerGroupConfig__Output | null);
  /**
   * This offset (inclusive), within the retained range or the next offset.
   */
  'fromOffset'?: (string);
  /**
   * The first event appended at or after this time.
   */
  'fromTime'?: (_google_protobuf_Timestamp__Output | null);
  /**
   * The oldest retained event or the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition__Output);
  /**
   * Where the group starts. Unset: the oldest retained event.
   */
  'start'?: "fromOffset"|"fromTime"|"position";
}
