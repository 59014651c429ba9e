//! Prometheus metrics: their names and meanings, and the `/metrics` endpoint.
//!
//! The layers record through the `metrics` facade where things happen (the engine knows nothing
//! of Prometheus); with no `--metrics-listen` no recorder is installed and recording costs next
//! to nothing. Labels are bounded: `topic` (with `group` for consumer groups), and for RPCs `method` and
//! `code`, never a subscriber or a key.

mod endpoint;

pub use endpoint::{MetricsEndpoint, MetricsError, MetricsServer};

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Counter, per topic: events written to the log (duplicates are not written).
pub const APPENDED_EVENTS: &str = "eventstream_appended_events_total";
/// Counter, per topic: payload bytes of the events written.
pub const APPENDED_BYTES: &str = "eventstream_appended_bytes_total";
/// Counter, per topic: events answered as duplicates of an earlier event with the same
/// idempotency key, and so not written again.
pub const DUPLICATE_EVENTS: &str = "eventstream_duplicate_events_total";
/// Histogram, per topic: seconds from a publish request reaching the topic until its answer.
pub const PUBLISH_SECONDS: &str = "eventstream_publish_duration_seconds";
/// Histogram, per topic: events written by one group commit.
pub const COMMIT_EVENTS: &str = "eventstream_commit_events";
/// Histogram: seconds one fsync step takes: a group commit's write and fsync of its segment
/// file, or a flush and fsync of the index.
pub const FSYNC_SECONDS: &str = "eventstream_fsync_duration_seconds";
/// Histogram: publish requests made durable by one segment fsync (the group commit's fan-in).
pub const FSYNC_REQUESTS: &str = "eventstream_fsync_requests";
/// Gauge, per topic: the oldest retained offset.
pub const TOPIC_FIRST_OFFSET: &str = "eventstream_topic_first_offset";
/// Gauge, per topic: the offset the next event will get; events below it are readable.
pub const TOPIC_NEXT_OFFSET: &str = "eventstream_topic_next_offset";
/// Gauge, per topic: bytes the topic's retained events take in the store.
pub const TOPIC_STORED_BYTES: &str = "eventstream_topic_stored_bytes";
/// Gauge, per topic: open Subscribe streams.
pub const SUBSCRIPTIONS: &str = "eventstream_subscriptions_active";
/// Gauge, per topic: how far the furthest-behind subscription is from the end of the log, in
/// events (next offset minus the subscription's position).
pub const SUBSCRIBER_LAG: &str = "eventstream_subscriber_lag_max";
/// Counter, per topic: events sent to subscribers.
pub const DELIVERED_EVENTS: &str = "eventstream_delivered_events_total";
/// Counter, per topic: bytes of the events sent to subscribers, as stored (encoded events).
pub const DELIVERED_BYTES: &str = "eventstream_delivered_bytes_total";
/// Gauge, per topic and consumer group: events not yet acknowledged by the group.
pub const GROUP_LAG: &str = "eventstream_group_lag";
/// Gauge, per topic and consumer group: deliveries awaiting acknowledgement.
pub const GROUP_IN_FLIGHT: &str = "eventstream_group_in_flight";
/// Gauge, per topic and consumer group: members connected.
pub const GROUP_MEMBERS: &str = "eventstream_group_members";
/// Gauge, per topic and consumer group: 1 while the group delivers nothing (its position fell
/// below the retained range, or its data is damaged), else 0.
pub const GROUP_STUCK: &str = "eventstream_group_stuck";
/// Counter, per topic and consumer group: deliveries that were a second or later attempt.
pub const GROUP_REDELIVERIES: &str = "eventstream_group_redeliveries_total";
/// Counter, per topic and consumer group: events published to the dead-letter topic.
pub const GROUP_DEAD_LETTERED: &str = "eventstream_group_dead_lettered_total";
/// Counter, per `method` and `code`: finished RPCs.
pub const RPCS: &str = "eventstream_rpcs_total";

/// Bucket bounds of the latency histograms, in seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];
/// Bucket bounds of the batch-size histograms: powers of two up to the largest group commit.
const COUNT_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

/// Each histogram and its bucket bounds.
const HISTOGRAMS: [(&str, &[f64]); 4] = [
    (PUBLISH_SECONDS, SECONDS_BUCKETS),
    (FSYNC_SECONDS, SECONDS_BUCKETS),
    (COMMIT_EVENTS, COUNT_BUCKETS),
    (FSYNC_REQUESTS, COUNT_BUCKETS),
];

/// Registers the help text of every metric with the installed recorder.
fn describe() {
    describe_counter!(
        APPENDED_EVENTS,
        Unit::Count,
        "Events written to the log; duplicates are not written."
    );
    describe_counter!(
        APPENDED_BYTES,
        Unit::Bytes,
        "Payload bytes of the events written."
    );
    describe_counter!(
        DUPLICATE_EVENTS,
        Unit::Count,
        "Events answered as duplicates of an earlier event with the same idempotency key, not written again."
    );
    describe_histogram!(
        PUBLISH_SECONDS,
        Unit::Seconds,
        "Time from a publish request reaching the topic until its answer (durable, or failed)."
    );
    describe_histogram!(
        COMMIT_EVENTS,
        Unit::Count,
        "Events written by one group commit."
    );
    describe_histogram!(
        FSYNC_SECONDS,
        Unit::Seconds,
        "Time one fsync step takes: a group commit's segment write and fsync, or an index sync."
    );
    describe_histogram!(
        FSYNC_REQUESTS,
        Unit::Count,
        "Publish requests made durable by one segment fsync (group commit)."
    );
    describe_gauge!(
        TOPIC_FIRST_OFFSET,
        Unit::Count,
        "The oldest retained offset."
    );
    describe_gauge!(
        TOPIC_NEXT_OFFSET,
        Unit::Count,
        "The offset the next event will get."
    );
    describe_gauge!(
        TOPIC_STORED_BYTES,
        Unit::Bytes,
        "Bytes the retained events take in the store."
    );
    describe_gauge!(SUBSCRIPTIONS, Unit::Count, "Open Subscribe streams.");
    describe_gauge!(
        SUBSCRIBER_LAG,
        Unit::Count,
        "Events between the end of the log and the furthest-behind subscription."
    );
    describe_counter!(DELIVERED_EVENTS, Unit::Count, "Events sent to subscribers.");
    describe_counter!(
        DELIVERED_BYTES,
        Unit::Bytes,
        "Bytes of the encoded events sent to subscribers."
    );
    describe_gauge!(
        GROUP_LAG,
        Unit::Count,
        "Events a consumer group has not acknowledged yet."
    );
    describe_gauge!(
        GROUP_IN_FLIGHT,
        Unit::Count,
        "Deliveries of a consumer group awaiting acknowledgement."
    );
    describe_gauge!(
        GROUP_MEMBERS,
        Unit::Count,
        "Members connected to a consumer group."
    );
    describe_gauge!(
        GROUP_STUCK,
        Unit::Count,
        "1 while a consumer group delivers nothing until it is reset or repaired."
    );
    describe_counter!(
        GROUP_REDELIVERIES,
        Unit::Count,
        "Deliveries of a consumer group that were a second or later attempt."
    );
    describe_counter!(
        GROUP_DEAD_LETTERED,
        Unit::Count,
        "Events a consumer group published to its dead-letter topic."
    );
    describe_counter!(
        RPCS,
        Unit::Count,
        "Finished RPCs, by method and gRPC status code."
    );
}
