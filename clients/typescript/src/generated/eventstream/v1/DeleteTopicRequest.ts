// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks to delete a topic.
 */
export interface DeleteTopicRequest {
  /**
   * The topic's name.
   */
  'name'?: (string);
}

/**
 * Asks to delete a topic.
 */
export interface DeleteTopicRequest__Output {
  /**
   * The topic's name.
   */
  'name': (string);
}
