//! A topic's metric handles, registered once so that recording is an atomic update.

use metrics::{Counter, Histogram, counter, histogram};

use crate::model::TopicName;
use crate::telemetry::{
    APPENDED_BYTES, APPENDED_EVENTS, COMMIT_EVENTS, DELIVERED_BYTES, DELIVERED_EVENTS,
    DUPLICATE_EVENTS, FSYNC_REQUESTS, FSYNC_SECONDS, PUBLISH_SECONDS,
};

/// What happens to one topic, as counted for `/metrics` (see [`crate::telemetry`]).
#[derive(Clone)]
pub(super) struct TopicInstruments {
    pub appended_events: Counter,
    pub appended_bytes: Counter,
    pub duplicate_events: Counter,
    pub commit_events: Histogram,
    pub publish_seconds: Histogram,
    pub delivered_events: Counter,
    pub delivered_bytes: Counter,
    /// Shared by all topics.
    pub fsync_seconds: Histogram,
    /// Shared by all topics.
    pub fsync_requests: Histogram,
}

impl TopicInstruments {
    pub fn new(topic: &TopicName) -> Self {
        let topic = topic.to_string();
        Self {
            appended_events: counter!(APPENDED_EVENTS, "topic" => topic.clone()),
            appended_bytes: counter!(APPENDED_BYTES, "topic" => topic.clone()),
            duplicate_events: counter!(DUPLICATE_EVENTS, "topic" => topic.clone()),
            commit_events: histogram!(COMMIT_EVENTS, "topic" => topic.clone()),
            publish_seconds: histogram!(PUBLISH_SECONDS, "topic" => topic.clone()),
            delivered_events: counter!(DELIVERED_EVENTS, "topic" => topic.clone()),
            delivered_bytes: counter!(DELIVERED_BYTES, "topic" => topic),
            fsync_seconds: histogram!(FSYNC_SECONDS),
            fsync_requests: histogram!(FSYNC_REQUESTS),
        }
    }
}
