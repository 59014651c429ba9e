// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks for a topic's consumer groups.
 */
export interface ListConsumerGroupsRequest {
  /**
   * The topic.
   */
  'topic'?: (string);
}

/**
 * Asks for a topic's consumer groups.
 */
export interface ListConsumerGroupsRequest__Output {
  /**
   * The topic.
   */
  'topic': (string);
}
