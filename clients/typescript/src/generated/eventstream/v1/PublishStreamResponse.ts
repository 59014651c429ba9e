// Original file: proto/eventstream/v1/eventstream.proto

import type { PublishResponse as _eventstream_v1_PublishResponse, PublishResponse__Output as _eventstream_v1_PublishResponse__Output } from '../../eventstream/v1/PublishResponse';
import type { PublishError as _eventstream_v1_PublishError, PublishError__Output as _eventstream_v1_PublishError__Output } from '../../eventstream/v1/PublishError';

/**
 * The outcome of one PublishStreamRequest; responses come in request order.
 */
export interface PublishStreamResponse {
  /**
   * The request's events were appended (or recognised as duplicates) and are durable.
   */
  'response'?: (_eventstream_v1_PublishResponse | null);
  /**
   * The request failed; nothing of it was appended.
   */
  'error'?: (_eventstream_v1_PublishError | null);
  /**
   * Success or failure of the request this response answers.
   */
  'outcome'?: "response"|"error";
}

/**
 * The outcome of one PublishStreamRequest; responses come in request order.
 */
export interface PublishStreamResponse__Output {
  /**
   * The request's events were appended (or recognised as duplicates) and are durable.
   */
  'response'?: (_eventstream_v1_PublishResponse__Output | null);
  /**
   * The request failed; nothing of it was appended.
   */
  'error'?: (_eventstream_v1_PublishError__Output | null);
  /**
   * Success or failure of the request this response answers.
   */
  'outcome'?: "response"|"error";
}
