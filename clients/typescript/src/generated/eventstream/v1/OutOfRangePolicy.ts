// Original file: proto/eventstream/v1/eventstream.proto

/**
 * What a consumer group does when its position falls below the topic's retained range
 * (retention removed events it had not acknowledged).
 */
export const OutOfRangePolicy = {
  /**
   * Treated as OUT_OF_RANGE_POLICY_FAIL.
   */
  OUT_OF_RANGE_POLICY_UNSPECIFIED: 'OUT_OF_RANGE_POLICY_UNSPECIFIED',
  /**
   * Stop delivering and report FAILED_PRECONDITION until the group is reset: never a silent jump.
   */
  OUT_OF_RANGE_POLICY_FAIL: 'OUT_OF_RANGE_POLICY_FAIL',
  /**
   * Continue from the oldest retained event; the removed events are counted as skipped.
   */
  OUT_OF_RANGE_POLICY_EARLIEST: 'OUT_OF_RANGE_POLICY_EARLIEST',
  /**
   * Continue from the end of the log; the removed and remaining events are counted as skipped.
   */
  OUT_OF_RANGE_POLICY_LATEST: 'OUT_OF_RANGE_POLICY_LATEST',
} as const;

/**
 * What a consumer group does when its position falls below the topic's retained range
 * (retention removed events it had not acknowledged).
 */
export type OutOfRangePolicy =
  /**
   * Treated as OUT_OF_RANGE_POLICY_FAIL.
   */
  | 'OUT_OF_RANGE_POLICY_UNSPECIFIED'
  | 0
  /**
   * Stop delivering and report FAILED_PRECONDITION until the group is reset: never a silent jump.
   */
  | 'OUT_OF_RANGE_POLICY_FAIL'
  | 1
  /**
   * Continue from the oldest retained event; the removed events are counted as skipped.
   */
  | 'OUT_OF_RANGE_POLICY_EARLIEST'
  | 2
  /**
   * Continue from the end of the log; the removed and remaining events are counted as skipped.
   */
  | 'OUT_OF_RANGE_POLICY_LATEST'
  | 3

/**
 * What a consumer group does when its position falls below the topic's retained range
 * (retention removed events it had not acknowledged).
 */
export type OutOfRangePolicy__Output = typeof OutOfRangePolicy[keyof typeof OutOfRangePolicy]
