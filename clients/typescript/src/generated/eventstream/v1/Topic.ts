// Original file: proto/eventstream/v1/eventstream.proto

import type { TopicConfig as _eventstream_v1_TopicConfig, TopicConfig__Output as _eventstream_v1_TopicConfig__Output } from '../../eventstream/v1/TopicConfig';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

/**
 * A topic's description.
 */
export interface Topic {
  /**
   * The topic's name.
   */
  'name'?: (string);
  /**
   * The topic's settings, with defaults filled in.
   */
  'config'?: (_eventstream_v1_TopicConfig | null);
  /**
   * The oldest retained offset (equal to `next_offset` when no event is retained).
   */
  'firstOffset'?: (number | string | Long);
  /**
   * The offset the next appended event will get.
   */
  'nextOffset'?: (number | string | Long);
  /**
   * The bytes the topic's retained events occupy in storage.
   */
  'sizeBytes'?: (number | string | Long);
  /**
   * When the topic was created.
   */
  'createTime'?: (_google_protobuf_Timestamp | null);
}

/**
 * A topic's description.
 */
export interface Topic__Output {
  /**
   * The topic's name.
   */
  'name': (string);
  /**
   * The topic's settings, with defaults filled in.
   */
  'config': (_eventstream_v1_TopicConfig__Output | null);
  /**
   * The oldest retained offset (equal to `next_offset` when no event is retained).
   */
  'firstOffset': (string);
  /**
   * The offset the next appended event will get.
   */
  'nextOffset': (string);
  /**
   * The bytes the topic's retained events occupy in storage.
   */
  'sizeBytes': (string);
  /**
   * When the topic was created.
   */
  'createTime': (_google_protobuf_Timestamp__Output | null);
}
