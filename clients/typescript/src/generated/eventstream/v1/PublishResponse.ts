// Original file: proto/eventstream/v1/eventstream.proto

import type { PublishResult as _eventstream_v1_PublishResult, PublishResult__Output as _eventstream_v1_PublishResult__Output } from '../../eventstream/v1/PublishResult';

/**
 * The outcome of a Publish: one result per request event, in request order.
 */
export interface PublishResponse {
  /**
   * One result per event of the request, in the same order.
   */
  'results'?: (_eventstream_v1_PublishResult)[];
}

/**
 * The outcome of a Publish: one result per request event, in request order.
 */
export interface PublishResponse__Output {
  /**
   * One result per event of the request, in the same order.
   */
  'results': (_eventstream_v1_PublishResult__Output)[];
}
