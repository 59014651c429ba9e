// Original file: proto/eventstream/v1/eventstream.proto

/**
 * A symbolic place in a topic's log to subscribe from.
 */
export const StartPosition = {
  /**
   * Treated as START_POSITION_EARLIEST.
   */
  START_POSITION_UNSPECIFIED: 'START_POSITION_UNSPECIFIED',
  /**
   * The oldest retained event.
   */
  START_POSITION_EARLIEST: 'START_POSITION_EARLIEST',
  /**
   * Only events appended after the subscription started.
   */
  START_POSITION_LATEST: 'START_POSITION_LATEST',
} as const;

/**
 * A symbolic place in a topic's log to subscribe from.
 */
export type StartPosition =
  /**
   * Treated as START_POSITION_EARLIEST.
   */
  | 'START_POSITION_UNSPECIFIED'
  | 0
  /**
   * The oldest retained event.
   */
  | 'START_POSITION_EARLIEST'
  | 1
  /**
   * Only events appended after the subscription started.
   */
  | 'START_POSITION_LATEST'
  | 2

/**
 * A symbolic place in a topic's log to subscribe from.
 */
export type StartPosition__Output = typeof StartPosition[keyof typeof StartPosition]
