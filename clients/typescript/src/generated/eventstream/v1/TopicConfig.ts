// Original file: proto/eventstream/v1/eventstream.proto

import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../google/protobuf/Duration';
import type { Long } from '@grpc/proto-loader';

/**
 * Per-topic settings. Unset retention fields mean "keep forever".
 */
export interface TopicConfig {
  /**
   * Remove events older than this (by append time). Unset or zero: no age limit.
   */
  'retentionAge'?: (_google_protobuf_Duration | null);
  /**
   * Keep at most this many events. Zero: no count limit.
   */
  'retentionEvents'?: (number | string | Long);
  /**
   * Keep at most this many stored bytes. Zero: no size limit.
   */
  'retentionBytes'?: (number | string | Long);
  /**
   * How long an idempotency key is remembered. Unset: the server's default (24 h unless
   * configured otherwise with `--default-dedup-window`).
   */
  'dedupWindow'?: (_google_protobuf_Duration | null);
}

/**
 * Per-topic settings. Unset retention fields mean "keep forever".
 */
export interface TopicConfig__Output {
  /**
   * Remove events older than this (by append time). Unset or zero: no age limit.
   */
  'retentionAge': (_google_protobuf_Duration__Output | null);
  /**
   * Keep at most this many events. Zero: no count limit.
   */
  'retentionEvents': (string);
  /**
   * Keep at most this many stored bytes. Zero: no size limit.
   */
  'retentionBytes': (string);
  /**
   * How long an idempotency key is remembered. Unset: the server's default (24 h unless
   * configured otherwise with `--default-dedup-window`).
   */
  'dedupWindow': (_google_protobuf_Duration__Output | null);
}
