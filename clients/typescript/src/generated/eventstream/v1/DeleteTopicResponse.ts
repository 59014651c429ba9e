// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Confirms a deletion.
 */
export interface DeleteTopicResponse {
}

/**
 * Confirms a deletion.
 */
export interface DeleteTopicResponse__Output {
}
