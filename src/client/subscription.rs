//! A subscription that survives dropped connections and server restarts.

use std::collections::VecDeque;
use std::time::SystemTime;

use tonic::{Status, Streaming};

use super::Transport;
use super::error::{ClientError, describe, is_transient};
use super::retry::{Backoff, RetryPolicy};
use crate::pb;
use crate::pb::event_stream_service_client::EventStreamServiceClient;
use crate::pb::subscribe_request::Start;

/// Where a subscription starts the first time; resumes always continue from an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// The oldest retained event.
    #[default]
    Earliest,
    /// Only events appended after the subscription started.
    Latest,
    /// This offset (inclusive).
    Offset(u64),
    /// The first event appended at or after this time.
    Time(SystemTime),
}

/// What to subscribe to: a topic, a start, filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    topic: String,
    start: StartAt,
    types: Vec<String>,
    key: String,
    stop_at_end: bool,
}

impl SubscribeOptions {
    /// All events of `topic` from the oldest retained one, following live events.
    pub fn new(topic: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            start: StartAt::Earliest,
            types: Vec::new(),
            key: String::new(),
            stop_at_end: false,
        }
    }

    /// Starts at `start` instead of the oldest retained event.
    pub fn start(mut self, start: StartAt) -> Self {
        self.start = start;
        self
    }

    /// Delivers only events of these types (all types when empty).
    pub fn types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Delivers only events with this entity key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Ends the subscription at the end of the log as it stands when the subscription (or,
    /// after a reconnect, the resumed subscription) starts, instead of following live events.
    pub fn stop_at_end(mut self, stop: bool) -> Self {
        self.stop_at_end = stop;
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The first start.
    pub fn start_at(&self) -> StartAt {
        self.start
    }

    fn request(&self, resume_at: Option<u64>) -> pb::SubscribeRequest {
        let start = match (resume_at, self.start) {
            (Some(offset), _) | (None, StartAt::Offset(offset)) => Start::FromOffset(offset),
            (None, StartAt::Time(time)) => Start::FromTime(time.into()),
            (None, StartAt::Latest) => Start::Position(pb::StartPosition::Latest.into()),
            (None, StartAt::Earliest) => Start::Position(pb::StartPosition::Earliest.into()),
        };
        pb::SubscribeRequest {
            topic: self.topic.clone(),
            start: Some(start),
            types: self.types.clone(),
            key: self.key.clone(),
            stop_at_end: self.stop_at_end,
        }
    }
}

/// One server response: the events that passed the filters, and where to resume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// The events, in offset order; empty for a caught-up notification.
    pub events: Vec<pb::Event>,
    /// Just past the last offset the server examined: resume here.
    pub next_offset: u64,
    /// True when this batch reached the end of the log as it stood.
    pub caught_up: bool,
}

/// A topic's events in offset order, reconnecting and resuming by itself.
///
/// When the stream fails transiently (UNAVAILABLE: a lost connection, a server that is down,
/// restarting or shutting down; DEADLINE_EXCEEDED) or a live stream ends without a status, the
/// subscription waits (exponential backoff, see [`RetryPolicy`]) and subscribes again with
/// `from_offset` set to the last `next_offset` received, so no event is lost or delivered twice.
/// The backoff restarts whenever a response arrives; when the policy is exhausted, the
/// subscription fails with [`ClientError::Unavailable`]. Permanent errors (NOT_FOUND,
/// OUT_OF_RANGE, ...) end it with their [`ClientError`].
///
/// [`Subscription::next`] and [`Subscription::next_batch`] are cancel-safe: dropping their
/// future (in a `select!` or a timeout) loses nothing, the next call carries on.
pub struct Subscription {
    grpc: EventStreamServiceClient<Transport>,
    options: SubscribeOptions,
    backoff: Backoff,
    stream: Option<Streaming<pb::SubscribeResponse>>,
    /// The offset to resume from: the last `next_offset` received, or the explicit start.
    resume_at: Option<u64>,
    /// Events received but not yet returned by `next`, and the end of their batch.
    pending: VecDeque<pb::Event>,
    pending_end: (u64, bool),
    position: Option<u64>,
    caught_up: bool,
    reconnects: u32,
    finished: bool,
}

impl Subscription {
    pub(crate) fn new(
        grpc: EventStreamServiceClient<Transport>,
        options: SubscribeOptions,
        reconnect: RetryPolicy,
    ) -> Self {
        let start_offset = match options.start {
            StartAt::Offset(offset) => Some(offset),
            _ => None,
        };
        Self {
            grpc,
            options,
            backoff: Backoff::new(reconnect),
            stream: None,
            resume_at: start_offset,
            pending: VecDeque::new(),
            pending_end: (0, false),
            position: start_offset,
            caught_up: false,
            reconnects: 0,
            finished: false,
        }
    }

    /// The next event, or `None` at the end of a `stop_at_end` subscription. Skips empty
    /// responses (their position and `caught_up` still apply).
    pub async fn next(&mut self) -> Result<Option<pb::Event>, ClientError> {
        while self.pending.is_empty() {
            let Some(batch) = self.receive().await? else {
                return Ok(None);
            };
            if batch.events.is_empty() {
                self.position = Some(batch.next_offset);
                self.caught_up = batch.caught_up;
            } else {
                self.pending = batch.events.into();
                self.pending_end = (batch.next_offset, batch.caught_up);
            }
        }
        let Some(event) = self.pending.pop_front() else {
            return Ok(None);
        };
        if self.pending.is_empty() {
            (self.position, self.caught_up) = (Some(self.pending_end.0), self.pending_end.1);
        } else {
            (self.position, self.caught_up) = (Some(event.offset + 1), false);
        }
        Ok(Some(event))
    }

    /// The next whole response, including empty ones (an empty caught-up batch says the
    /// subscriber reached the end of the log), or `None` at the end of a `stop_at_end`
    /// subscription. Events already received but not yet returned by [`Subscription::next`]
    /// come first, as one batch.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, ClientError> {
        let batch = if self.pending.is_empty() {
            self.receive().await?
        } else {
            let (next_offset, caught_up) = self.pending_end;
            Some(Batch {
                events: self.pending.drain(..).collect(),
                next_offset,
                caught_up,
            })
        };
        if let Some(batch) = &batch {
            (self.position, self.caught_up) = (Some(batch.next_offset), batch.caught_up);
        }
        Ok(batch)
    }

    /// Where to resume after the last event (or batch) returned: its offset + 1, or its batch's
    /// `next_offset` after a batch's last event. `None` before the first response of a
    /// subscription that did not start at an explicit offset. Store it after handling an event
    /// to resume later with [`StartAt::Offset`].
    pub fn position(&self) -> Option<u64> {
        self.position
    }

    /// True once the last event (or batch) returned reached the end of the log as it stood;
    /// false while history remains.
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// How many times the subscription reconnected.
    pub fn reconnects(&self) -> u32 {
        self.reconnects
    }

    /// The next response from the server, reconnecting as often as the policy allows.
    async fn receive(&mut self) -> Result<Option<Batch>, ClientError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let problem = match self.stream.as_mut() {
                None => match self.open().await {
                    Ok(stream) => {
                        self.stream = Some(stream);
                        continue;
                    }
                    Err(status) => status,
                },
                Some(stream) => match stream.message().await {
                    Ok(Some(response)) => {
                        self.backoff.reset();
                        return Ok(Some(self.accept(response)));
                    }
                    Ok(None) if self.options.stop_at_end => {
                        self.finished = true;
                        return Ok(None);
                    }
                    // A live subscription never ends with OK by itself; a server shutting down
                    // may close it without a status.
                    Ok(None) => Status::unavailable("the stream ended without a status"),
                    Err(status) => status,
                },
            };
            self.stream = None;
            if !is_transient(&problem) {
                self.finished = true;
                return Err(ClientError::from_status(problem));
            }
            let what = format!("subscription to {:?}", self.options.topic);
            let pause = match self.backoff.after_failure(&what, &problem) {
                Ok(pause) => pause,
                Err(error) => {
                    self.finished = true;
                    return Err(error);
                }
            };
            let resume = self.resume_at.map_or_else(
                || "its start".to_string(),
                |offset| format!("offset {offset}"),
            );
            tracing::info!(
                "{what} interrupted ({}); resuming from {resume} in {pause:.2?}",
                describe(&problem)
            );
            tokio::time::sleep(pause).await;
            self.reconnects += 1;
        }
    }

    async fn open(&mut self) -> Result<Streaming<pb::SubscribeResponse>, Status> {
        let deadline = self.backoff.attempt_deadline();
        let request = self.options.request(self.resume_at);
        // The deadline bounds opening the stream only: the stream itself lives on.
        let opening = self.grpc.subscribe(request);
        match tokio::time::timeout(deadline, opening).await {
            Ok(response) => response.map(tonic::Response::into_inner),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "subscription not opened within {deadline:?}"
            ))),
        }
    }

    /// Records `response`'s resume point and drops (with a warning) events at offsets already
    /// delivered: a well-behaved server never sends any, but a resume must not hand an event to
    /// the application twice.
    fn accept(&mut self, response: pb::SubscribeResponse) -> Batch {
        let mut floor = self.resume_at;
        let mut events = Vec::with_capacity(response.events.len());
        for event in response.events {
            if floor.is_some_and(|floor| event.offset < floor) {
                tracing::warn!(
                    "subscription to {:?}: the server repeated offset {} (expected >= {floor:?}); dropped",
                    self.options.topic,
                    event.offset
                );
                continue;
            }
            floor = Some(event.offset + 1);
            events.push(event);
        }
        self.resume_at = Some(response.next_offset);
        Batch {
            events,
            next_offset: response.next_offset,
            caught_up: response.caught_up,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_from_an_offset_whatever_the_first_start() {
        let options = SubscribeOptions::new("t").start(StartAt::Latest).key("a");
        let first = options.request(None);
        assert_eq!(
            first.start,
            Some(Start::Position(pb::StartPosition::Latest.into()))
        );
        let resumed = options.request(Some(7));
        assert_eq!(resumed.start, Some(Start::FromOffset(7)));
        assert_eq!(resumed.key, "a");
    }
}
