// Original file: proto/eventstream/v1/eventstream.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { StartPosition as _eventstream_v1_StartPosition, StartPosition__Output as _eventstream_v1_StartPosition__Output } from '../../eventstream/v1/StartPosition';
import type { Long } from '@grpc/proto-loader';

/**
 * What to stream and from where.
 */
export interface SubscribeRequest {
  /**
   * The topic to read.
   */
  'topic'?: (string);
  /**
   * The first offset to deliver (inclusive). Equal to the topic's `next_offset`: wait for the
   * next event. Above `next_offset` or below `first_offset`: OUT_OF_RANGE.
   */
  'fromOffset'?: (number | string | Long);
  /**
   * Start at the first event whose append time is at or after this time.
   */
  'fromTime'?: (_google_protobuf_Timestamp | null);
  /**
   * Start at the oldest retained event or at the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition);
  /**
   * Deliver only events of these types. Empty: all types.
   */
  'types'?: (string)[];
  /**
   * Deliver only events with this key. Empty: all keys. Served from the topic's key index, so a
   * key's history costs what the key holds, not what the topic holds.
   */
  'key'?: (string);
  /**
   * Deliver up to the end of the log as it stands when the call starts, then end the stream with OK.
   */
  'stopAtEnd'?: (boolean);
  /**
   * Where to start. When none is set: the oldest retained event (EARLIEST).
   */
  'start'?: "fromOffset"|"fromTime"|"position";
}

/**
 * What to stream and from where.
 */
export interface SubscribeRequest__Output {
  /**
   * The topic to read.
   */
  'topic': (string);
  /**
   * The first offset to deliver (inclusive). Equal to the topic's `next_offset`: wait for the
   * next event. Above `next_offset` or below `first_offset`: OUT_OF_RANGE.
   */
  'fromOffset'?: (string);
  /**
   * Start at the first event whose append time is at or after this time.
   */
  'fromTime'?: (_google_protobuf_Timestamp__Output | null);
  /**
   * Start at the oldest retained event or at the end of the log.
   */
  'position'?: (_eventstream_v1_StartPosition__Output);
  /**
   * Deliver only events of these types. Empty: all types.
   */
  'types': (string)[];
  /**
   * Deliver only events with this key. Empty: all keys. Served from the topic's key index, so a
   * key's history costs what the key holds, not what the topic holds.
   */
  'key': (string);
  /**
   * Deliver up to the end of the log as it stands when the call starts, then end the stream with OK.
   */
  'stopAtEnd': (boolean);
  /**
   * Where to start. When none is set: the oldest retained event (EARLIEST).
   */
  'start'?: "fromOffset"|"fromTime"|"position";
}
