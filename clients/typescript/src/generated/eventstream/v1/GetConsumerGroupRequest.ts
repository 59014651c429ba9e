// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks for one consumer group.
 */
export interface GetConsumerGroupRequest {
  /**
   * The topic it consumes.
   */
  'topic'?: (string);
  /**
   * Its name.
   */
  'name'?: (string);
}

/**
 * Asks for one consumer group.
 */
export interface GetConsumerGroupRequest__Output {
  /**
   * The topic it consumes.
   */
  'topic': (string);
  /**
   * Its name.
   */
  'name': (string);
}
