// Original file: proto/eventstream/v1/eventstream.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { StartPosition as _eventstream_v1_StartPosition, StartPosition__Output as _eventstream_v1_StartPosition__Output } from '../../eventstream/v1/StartPosition';
import type { Long } from '@grpc/proto-loader';

/**
 * Asks to move a consumer group.
 */
export interface ResetConsumerGroupRequest {
  /**
   * The topic it consumes.
   */
  'topic'?: (string);
  /**
   * Its name.
   */
  'name'?: (string);
  /**
   * This offset (inclusive), within the retained range or the next offset.
   */
  'toOffset'?: (number | string | Long);
  /**
   * The first event appended at or after this time.
   */
  'toTime'?: (_google_protobuf_Timestamp | null);
  /**
   * The oldest retained event or the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition);
  /**
   * The new position. One must be set.
   */
  'target'?: "toOffset"|"toTime"|"position";
}

/**
 * Asks to move a consumer group.
 */
export interface ResetConsumerGroupRequest__Output {
  /**
   * The topic it consumes.
   */
  'topic': (string);
  /**
   * Its name.
   */
  'name': (string);
  /**
   * This offset (inclusive), within the retained range or the next offset.
   */
  'toOffset'?: (string);
  /**
   * The first event appended at or after this time.
   */
  'toTime'?: (_google_protobuf_Timestamp__Output | null);
  /**
   * The oldest retained event or the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition__Output);
  /**
   * The new position. One must be set.
   */
  'target'?: "toOffset"|"toTime"|"position";
}
