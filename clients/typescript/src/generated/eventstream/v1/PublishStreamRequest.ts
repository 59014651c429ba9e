// Original file: proto/eventstream/v1/eventstream.proto

import type { PublishRequest as _eventstream_v1_PublishRequest, PublishRequest__Output as _eventstream_v1_PublishRequest__Output } from '../../eventstream/v1/PublishRequest';

/**
 * One request on a PublishStream.
 */
export interface PublishStreamRequest {
  /**
   * The events to append, exactly as in a unary Publish.
   */
  'request'?: (_eventstream_v1_PublishRequest | null);
}

/**
 * One request on a PublishStream.
 */
export interface PublishStreamRequest__Output {
  /**
   * The events to append, exactly as in a unary Publish.
   */
  'request': (_eventstream_v1_PublishRequest__Output | null);
}
