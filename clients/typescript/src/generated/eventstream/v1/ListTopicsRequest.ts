// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Asks for all topics.
 */
export interface ListTopicsRequest {
}

/**
 * Asks for all topics.
 */
export interface ListTopicsRequest__Output {
}
