// Original file: proto/eventstream/v1/eventstream.proto

import type { Event as _eventstream_v1_Event, Event__Output as _eventstream_v1_Event__Output } from '../../eventstream/v1/Event';
import type { Long } from '@grpc/proto-loader';

/**
 * A batch of events, in offset order, with the position to resume from.
 */
export interface SubscribeResponse {
  /**
   * The events of this batch that pass the filters. Empty only in the first response of a
   * subscription that starts at the end, in the last response of a `stop_at_end` stream, and in
   * progress reports (a live stream whose filters skipped events reports its position after a
   * second without matching events).
   */
  'events'?: (_eventstream_v1_Event)[];
  /**
   * Just past the last event the server examined (filtered-out ones included): subscribe again
   * with `from_offset = next_offset` to resume with nothing lost and nothing repeated.
   */
  'nextOffset'?: (number | string | Long);
  /**
   * True when this response reaches the end of the log as it stands; false while history remains.
   * The first response of a subscription that starts at the end has no events and is caught up.
   */
  'caughtUp'?: (boolean);
}

/**
 * A batch of events, in offset order, with the position to resume from.
 */
export interface SubscribeResponse__Output {
  /**
   * The events of this batch that pass the filters. Empty only in the first response of a
   * subscription that starts at the end, in the last response of a `stop_at_end` stream, and in
   * progress reports (a live stream whose filters skipped events reports its position after a
   * second without matching events).
   */
  'events': (_eventstream_v1_Event__Output)[];
  /**
   * Just past the last event the server examined (filtered-out ones included): subscribe again
   * with `from_offset = next_offset` to resume with nothing lost and nothing repeated.
   */
  'nextOffset': (string);
  /**
   * True when this response reaches the end of the log as it stands; false while history remains.
   * The first response of a subscription that starts at the end has no events and is caught up.
   */
  'caughtUp': (boolean);
}
