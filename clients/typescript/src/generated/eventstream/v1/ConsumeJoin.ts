// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Which group a member joins.
 */
export interface ConsumeJoin {
  /**
   * The topic to consume.
   */
  'topic'?: (string);
  /**
   * The group's name; created with default settings if missing.
   */
  'group'?: (string);
  /**
   * The most deliveries this member holds unacknowledged at once: 1 to 10,000. Zero: 256.
   */
  'maxInFlight'?: (number);
}

/**
 * Which group a member joins.
 */
export interface ConsumeJoin__Output {
  /**
   * The topic to consume.
   */
  'topic': (string);
  /**
   * The group's name; created with default settings if missing.
   */
  'group': (string);
  /**
   * The most deliveries this member holds unacknowledged at once: 1 to 10,000. Zero: 256.
   */
  'maxInFlight': (number);
}
