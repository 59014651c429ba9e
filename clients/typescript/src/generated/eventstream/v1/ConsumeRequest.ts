// Original file: proto/eventstream/v1/eventstream.proto

import type { ConsumeJoin as _eventstream_v1_ConsumeJoin, ConsumeJoin__Output as _eventstream_v1_ConsumeJoin__Output } from '../../eventstream/v1/ConsumeJoin';
import type { Nack as _eventstream_v1_Nack, Nack__Output as _eventstream_v1_Nack__Output } from '../../eventstream/v1/Nack';
import type { Long } from '@grpc/proto-loader';

/**
 * One message from a consumer group member.
 */
export interface ConsumeRequest {
  /**
   * The first message of the stream, and only it: which group to join.
   */
  'join'?: (_eventstream_v1_ConsumeJoin | null);
  /**
   * Offsets whose processing is done. Each is confirmed in a later `acks_durable`.
   */
  'acks'?: (number | string | Long)[];
  /**
   * Deliveries to give back, to be delivered again (to any member).
   */
  'nacks'?: (_eventstream_v1_Nack)[];
  /**
   * Offsets still being worked on: their ack deadline starts again from now.
   */
  'extend'?: (number | string | Long)[];
}

/**
 * One message from a consumer group member.
 */
export interface ConsumeRequest__Output {
  /**
   * The first message of the stream, and only it: which group to join.
   */
  'join': (_eventstream_v1_ConsumeJoin__Output | null);
  /**
   * Offsets whose processing is done. Each is confirmed in a later `acks_durable`.
   */
  'acks': (string)[];
  /**
   * Deliveries to give back, to be delivered again (to any member).
   */
  'nacks': (_eventstream_v1_Nack__Output)[];
  /**
   * Offsets still being worked on: their ack deadline starts again from now.
   */
  'extend': (string)[];
}
