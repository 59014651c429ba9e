// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks for one topic's description.
 */
export interface GetTopicRequest {
  /**
   * The topic's name.
   */
  'name'?: (string);
}

/**
 * Asks for one topic's description.
 */
export interface GetTopicRequest__Output {
  /**
   * The topic's name.
   */
  'name': (string);
}
