// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Confirms a deletion.
 */
export interface DeleteConsumerGroupResponse {
}

/**
 * Confirms a deletion.
 */
export interface DeleteConsumerGroupResponse__Output {
}
