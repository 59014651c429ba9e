// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks to delete a consumer group.
 */
export interface DeleteConsumerGroupRequest {
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
 * Asks to delete a consumer group.
 */
export interface DeleteConsumerGroupRequest__Output {
  /**
   * The topic it consumes.
   */
  'topic': (string);
  /**
   * Its name.
   */
  'name': (string);
}
