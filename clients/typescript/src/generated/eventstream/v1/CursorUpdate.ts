// Original file: proto/eventstream/v1/eventstream.proto

import type { Precondition as _eventstream_v1_Precondition, Precondition__Output as _eventstream_v1_Precondition__Output } from '../../eventstream/v1/Precondition';
import type { Long } from '@grpc/proto-loader';

/**
 * A named position stored with a topic, written atomically with a Publish.
 */
export interface CursorUpdate {
  /**
   * The cursor's name: 1 to 249 characters of `[A-Za-z0-9._-]`.
   */
  'name'?: (string);
  /**
   * The new position, typically the next offset to process in the topic being consumed.
   */
  'position'?: (number | string | Long);
  /**
   * Moves the cursor only if its current position is as expected (`absent`: never set). Unset:
   * any. Fences off a second, stale instance of the same consumer.
   */
  'expectedPosition'?: (_eventstream_v1_Precondition | null);
}

/**
 * A named position stored with a topic, written atomically with a Publish.
 */
export interface CursorUpdate__Output {
  /**
   * The cursor's name: 1 to 249 characters of `[A-Za-z0-9._-]`.
   */
  'name': (string);
  /**
   * The new position, typically the next offset to process in the topic being consumed.
   */
  'position': (string);
  /**
   * Moves the cursor only if its current position is as expected (`absent`: never set). Unset:
   * any. Fences off a second, stale instance of the same consumer.
   */
  'expectedPosition': (_eventstream_v1_Precondition__Output | null);
}
