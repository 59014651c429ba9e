// Original file: proto/eventstream/v1/eventstream.proto

import type { Cursor as _eventstream_v1_Cursor, Cursor__Output as _eventstream_v1_Cursor__Output } from '../../eventstream/v1/Cursor';

/**
 * One cursor.
 */
export interface GetCursorResponse {
  /**
   * The cursor.
   */
  'cursor'?: (_eventstream_v1_Cursor | null);
}

/**
 * One cursor.
 */
export interface GetCursorResponse__Output {
  /**
   * The cursor.
   */
  'cursor': (_eventstream_v1_Cursor__Output | null);
}
