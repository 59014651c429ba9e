// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks for one cursor.
 */
export interface GetCursorRequest {
  /**
   * The topic the cursor is stored with.
   */
  'topic'?: (string);
  /**
   * The cursor's name.
   */
  'name'?: (string);
}

/**
 * Asks for one cursor.
 */
export interface GetCursorRequest__Output {
  /**
   * The topic the cursor is stored with.
   */
  'topic': (string);
  /**
   * The cursor's name.
   */
  'name': (string);
}
