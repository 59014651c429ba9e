// Original file: proto/eventstream/v1/eventstream.proto


/**
 * Why one request of a PublishStream failed.
 */
export interface PublishError {
  /**
   * The gRPC status code a unary Publish would have failed with (a google.rpc.Code value).
   */
  'code'?: (number);
  /**
   * What went wrong, in words a person can act on.
   */
  'message'?: (string);
}

/**
 * Why one request of a PublishStream failed.
 */
export interface PublishError__Output {
  /**
   * The gRPC status code a unary Publish would have failed with (a google.rpc.Code value).
   */
  'code': (number);
  /**
   * What went wrong, in words a person can act on.
   */
  'message': (string);
}
