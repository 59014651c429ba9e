// Original file: proto/eventstream/v1/eventstream.proto

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration';
import type { Long } from '@grpc/proto-loader';

/**
 * A delivery given back unfinished.
 */
export interface Nack {
  /**
   * The delivery's offset.
   */
  'offset'?: (number | string | Long);
  /**
   * Wait at least this long before delivering it again. Unset: at once. At most 24 h.
   */
  'delay'?: (_google_protobuf_Duration | null);
  /**
   * Why, for the dead-letter topic's `eventstream-dead-letter-reason` header. At most 1,024 bytes.
   */
  'reason'?: (string);
}

/**
 * A delivery given back unfinished.
 */
export interface Nack__Output {
  /**
   * The delivery's offset.
   */
  'offset': (string);
  /**
   * Wait at least this long before delivering it again. Unset: at once. At most 24 h.
   */
  'delay': (_google_protobuf_Duration__Output | null);
  /**
   * Why, for the dead-letter topic's `eventstream-dead-letter-reason` header. At most 1,024 bytes.
   */
  'reason': (string);
}
