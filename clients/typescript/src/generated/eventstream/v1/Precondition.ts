// Original file: proto/eventstream/v1/eventstream.proto

import type { Long } from '@grpc/proto-loader';

/**
 * An optimistic-concurrency expectation, checked atomically with the write it guards.
 */
export interface Precondition {
  /**
   * Nothing is there yet: a key without events, a cursor never set. Must be true when set.
   */
  'absent'?: (boolean);
  /**
   * The current value is exactly this: a key's latest version, a cursor's position.
   */
  'equals'?: (number | string | Long);
  /**
   * What is expected.
   */
  'expected'?: "absent"|"equals";
}

/**
 * An optimistic-concurrency expectation, checked atomically with the write it guards.
 */
export interface Precondition__Output {
  /**
   * Nothing is there yet: a key without events, a cursor never set. Must be true when set.
   */
  'absent'?: (boolean);
  /**
   * The current value is exactly this: a key's latest version, a cursor's position.
   */
  'equals'?: (string);
  /**
   * What is expected.
   */
  'expected'?: "absent"|"equals";
}
