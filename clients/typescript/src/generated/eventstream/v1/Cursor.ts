// Original file: proto/eventstream/v1/eventstream.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { Long } from '@grpc/proto-loader';

/**
 * A named position stored with a topic.
 */
export interface Cursor {
  /**
   * The topic it is stored with.
   */
  'topic'?: (string);
  /**
   * Its name.
   */
  'name'?: (string);
  /**
   * Its position.
   */
  'position'?: (number | string | Long);
  /**
   * When it was last moved.
   */
  'updateTime'?: (_google_protobuf_Timestamp | null);
}

/**
 * A named position stored with a topic.
 */
export interface Cursor__Output {
  /**
   * The topic it is stored with.
   */
  'topic': (string);
  /**
   * Its name.
   */
  'name': (string);
  /**
   * Its position.
   */
  'position': (string);
  /**
   * When it was last moved.
   */
  'updateTime': (_google_protobuf_Timestamp__Output | null);
}
