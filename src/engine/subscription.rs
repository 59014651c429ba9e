//! Subscriptions: a producer task per subscriber that reads the durable log by offset and sends
//! batches through a small bounded channel.
//!
//! The task never holds more than one read chunk plus the channel's few batches, so a subscriber
//! that stops reading stalls only its own task: gRPC flow control fills, `send` waits, and the
//! server's memory stays flat. Live events are found the same way as history: the task waits for
//! the topic's durable end offset to move, then reads from the log, so the switch from catch-up
//! to live can neither skip nor repeat an event.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::Stream;
use tokio_util::sync::CancellationToken;

use super::EngineError;
use super::limits::SubscriptionSlot;
use super::topic::{TopicHandle, Visible};
use crate::model::Timestamp;
use crate::storage::StoreError;
use crate::storage::record_batch::{BatchError, EncodedEvent};

/// Responses buffered per subscriber before the producer waits for the client.
const CHANNEL_CAPACITY: usize = 4;
/// Payload bytes one read from the log aims for.
const READ_CHUNK_BYTES: usize = 1024 * 1024;
/// Reads of at most this many events, a live subscriber's usual read of the newest events, are
/// made on the task itself: an index lookup and a read of bytes just written, in the operating
/// system's cache, take less than handing the read to a blocking thread and back.
const INLINE_READ_EVENTS: u64 = 64;
/// Payload bytes one response aims for (a larger single event still goes out alone).
const RESPONSE_BYTES: usize = 1024 * 1024;
/// Events one response carries at most.
const RESPONSE_EVENTS: usize = 4096;
/// How long a live subscription whose filter skipped events waits before reporting its position
/// in a response with no events.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At this offset (inclusive).
    Offset(u64),
    /// At the first event appended at or after this time.
    Time(Timestamp),
    /// At the oldest retained event.
    Earliest,
    /// After the newest event.
    Latest,
}

/// What a subscriber asks for.
#[derive(Debug, Clone)]
pub struct SubscribeSpec {
    /// Where to start.
    pub start: StartAt,
    /// Deliver only these types; empty means all.
    pub types: HashSet<String>,
    /// Deliver only events with this key.
    pub key: Option<String>,
    /// End the stream at the end of the log as of the call.
    pub stop_at_end: bool,
}

impl SubscribeSpec {
    fn wants(&self, event: &EncodedEvent) -> Result<bool, BatchError> {
        if self.types.is_empty() && self.key.is_none() {
            return Ok(true);
        }
        let fields = event.filter_fields()?;
        Ok(
            (self.types.is_empty() || self.types.contains(fields.event_type))
                && self.key.as_deref().is_none_or(|key| key == fields.key),
        )
    }
}

/// One response of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Events that passed the filters, in offset order, as stored.
    pub events: Vec<EncodedEvent>,
    /// Where to resume: just past the last event examined.
    pub next_offset: u64,
    /// Whether this response reaches the end of the log as it stood.
    pub caught_up: bool,
}

/// The stream of a subscription: deliveries, then either an error or (for `stop_at_end`) the end.
///
/// The error travels apart from the deliveries, so it can never be lost to a full buffer. Shutdown
/// and deletion are yielded as soon as they are known, dropping deliveries still buffered (the
/// client resumes from the last `next_offset` it did receive); any other error, such as damaged
/// data further on, comes after the deliveries before it, so a reader gets everything up to it.
pub struct Deliveries {
    deliveries: mpsc::Receiver<Delivery>,
    failure: Option<oneshot::Receiver<EngineError>>,
    /// An error to yield once the buffered deliveries are out.
    after_deliveries: Option<EngineError>,
}

/// Whether `error` ends a stream at once rather than after what is buffered.
fn is_urgent(error: &EngineError) -> bool {
    matches!(
        error,
        EngineError::ShuttingDown | EngineError::TopicNotFound(_)
    )
}

impl Stream for Deliveries {
    type Item = Result<Delivery, EngineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(failure) = self.failure.as_mut() {
            match Pin::new(failure).poll(cx) {
                Poll::Ready(Ok(error)) if is_urgent(&error) => {
                    self.failure = None;
                    self.deliveries.close();
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Ok(error)) => {
                    self.failure = None;
                    self.after_deliveries = Some(error);
                }
                // The producer ended without an error: what is buffered is all there is.
                Poll::Ready(Err(_)) => self.failure = None,
                Poll::Pending => {}
            }
        }
        match self.deliveries.poll_recv(cx) {
            Poll::Ready(Some(delivery)) => Poll::Ready(Some(Ok(delivery))),
            // Closed: wait for the failure, if one may still come.
            Poll::Ready(None) if self.failure.is_some() => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(self.after_deliveries.take().map(Err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Resolves the start and spawns the producer task, which holds `slot` until it ends.
pub(super) fn start(
    topic: Arc<TopicHandle>,
    spec: SubscribeSpec,
    slot: SubscriptionSlot,
    shutdown: CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
) -> Result<Deliveries, EngineError> {
    let mut visible = topic.visible();
    let bounds = *visible.borrow_and_update();
    let position = resolve_start(&topic, spec.start, bounds)?;
    let end = spec.stop_at_end.then_some(bounds.next_offset);
    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let (failure_sender, failure) = oneshot::channel();
    let reported = topic.track_subscriber(position);
    let producer = Producer {
        topic,
        reported,
        spec,
        visible,
        sender,
        failure: failure_sender,
        position,
        end,
        last_sent: None,
        announced_caught_up: false,
        shutdown,
        _slot: slot,
    };
    tasks.spawn(producer.run());
    Ok(Deliveries {
        deliveries: receiver,
        failure: Some(failure),
        after_deliveries: None,
    })
}

pub(super) fn resolve_start(
    topic: &TopicHandle,
    start: StartAt,
    bounds: Visible,
) -> Result<u64, EngineError> {
    match start {
        StartAt::Earliest => Ok(bounds.first_offset),
        StartAt::Latest => Ok(bounds.next_offset),
        StartAt::Offset(offset) => {
            if offset < bounds.first_offset || offset > bounds.next_offset {
                return Err(EngineError::OffsetOutOfRange {
                    topic: topic.log().name().clone(),
                    requested: offset,
                    first: bounds.first_offset,
                    next: bounds.next_offset,
                });
            }
            Ok(offset)
        }
        StartAt::Time(time) => {
            let found = topic.log().offset_at_time(time)?;
            // A batch found beyond the durable end is not readable yet; everything readable is
            // older than `time`, so the subscription starts at the end.
            Ok(found
                .unwrap_or(bounds.next_offset)
                .clamp(bounds.first_offset, bounds.next_offset))
        }
    }
}

struct Producer {
    topic: Arc<TopicHandle>,
    /// `position` as of the last response, for the topic's lag metric.
    reported: Arc<AtomicU64>,
    spec: SubscribeSpec,
    visible: watch::Receiver<Visible>,
    sender: mpsc::Sender<Delivery>,
    failure: oneshot::Sender<EngineError>,
    position: u64,
    /// For `stop_at_end`: the end offset as of the call.
    end: Option<u64>,
    /// `next_offset` of the last response sent.
    last_sent: Option<u64>,
    /// Whether a response with `caught_up` has been sent.
    announced_caught_up: bool,
    shutdown: CancellationToken,
    /// Counts the subscription against the limits until the task ends.
    _slot: SubscriptionSlot,
}

/// Why the producer stopped.
enum Stop {
    /// The client went away, or the stream ended as asked.
    Done,
    /// The stream ends with this error.
    Fail(EngineError),
}

impl Producer {
    async fn run(mut self) {
        if let Err(Stop::Fail(error)) = self.stream().await {
            // A read racing a deletion fails on the dropped tree: the deletion is the news.
            let error = if self.topic.deleted().is_cancelled() {
                self.not_found()
            } else {
                error
            };
            // A client that went away needs no error.
            let _ = self.failure.send(error);
        }
    }

    async fn stream(&mut self) -> Result<(), Stop> {
        loop {
            let bounds = *self.visible.borrow_and_update();
            let end = self
                .end
                .map_or(bounds.next_offset, |end| end.min(bounds.next_offset));
            if self.position < bounds.first_offset {
                return Err(Stop::Fail(EngineError::Trimmed {
                    topic: self.topic.log().name().clone(),
                    position: self.position,
                    first: bounds.first_offset,
                }));
            }
            if self.position < end {
                self.deliver_chunk(end, bounds.first_offset).await?;
                continue;
            }
            // At the end of the log as it stands.
            let stopping = self.end.is_some();
            if !self.announced_caught_up || (stopping && self.last_sent != Some(self.position)) {
                self.send(Vec::new(), true).await?;
            }
            if stopping {
                return Err(Stop::Done);
            }
            self.wait_for_more().await?;
        }
    }

    /// Reads the next chunk of `[position, end)` and sends what passes the filters. With a key
    /// filter the chunk comes from the key index: only that key's events are read.
    async fn deliver_chunk(&mut self, end: u64, first: u64) -> Result<(), Stop> {
        let log = self.topic.log().clone();
        let from = self.position;
        let key = self.spec.key.clone();
        let read_chunk = move || match key {
            Some(key) => log.read_key(&key, from, end, READ_CHUNK_BYTES),
            None => log
                .read(from, end, READ_CHUNK_BYTES)
                .map(|events| (events, from)),
        };
        let read = if end - from <= INLINE_READ_EVENTS {
            read_chunk()
        } else {
            tokio::task::spawn_blocking(read_chunk)
                .await
                .map_err(|error| Stop::Fail(error.into()))?
        };
        let (events, scanned_to) = match read {
            Ok(read) => read,
            Err(error) => {
                // Retention may have removed the range between the bounds check and the read.
                // The stored state moves with the trim itself; the visible range only after it.
                let stored_first = self
                    .topic
                    .log()
                    .state()
                    .map_or(0, |state| state.bounds.first_offset);
                let first = first
                    .max(self.visible.borrow().first_offset)
                    .max(stored_first);
                let error = if from < first {
                    EngineError::Trimmed {
                        topic: self.topic.log().name().clone(),
                        position: from,
                        first,
                    }
                } else {
                    error.into()
                };
                return Err(Stop::Fail(error));
            }
        };
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        for event in events {
            self.position = event.offset + 1;
            let wanted = self.spec.wants(&event).map_err(|source| {
                Stop::Fail(
                    StoreError::Corrupt {
                        topic: self.topic.log().name().clone(),
                        offset: event.offset,
                        end: event.offset + 1,
                        source,
                    }
                    .into(),
                )
            })?;
            if !wanted {
                continue;
            }
            batch_bytes += event.bytes.len();
            batch.push(event);
            if batch_bytes >= RESPONSE_BYTES || batch.len() >= RESPONSE_EVENTS {
                let caught_up = self.position >= end;
                self.send(std::mem::take(&mut batch), caught_up).await?;
                batch_bytes = 0;
            }
        }
        self.position = self.position.max(scanned_to);
        if !batch.is_empty() {
            self.send(batch, self.position >= end).await?;
        }
        Ok(())
    }

    async fn send(&mut self, events: Vec<EncodedEvent>, caught_up: bool) -> Result<(), Stop> {
        let count = events.len() as u64;
        let bytes: u64 = events.iter().map(|event| event.bytes.len() as u64).sum();
        let delivery = Delivery {
            events,
            next_offset: self.position,
            caught_up,
        };
        tokio::select! {
            sent = self.sender.send(delivery) => sent.map_err(|_| Stop::Done)?,
            () = self.shutdown.cancelled() => return Err(Stop::Fail(EngineError::ShuttingDown)),
            () = self.topic.deleted().cancelled() => return Err(self.deleted()),
        }
        self.last_sent = Some(self.position);
        self.announced_caught_up |= caught_up;
        self.reported.store(self.position, Ordering::Relaxed);
        let instruments = self.topic.instruments();
        instruments.delivered_events.increment(count);
        instruments.delivered_bytes.increment(bytes);
        Ok(())
    }

    async fn wait_for_more(&mut self) -> Result<(), Stop> {
        // Events skipped by a filter move the position without a response; report it after a
        // quiet spell, so a resuming client does not re-scan them.
        let unreported = self.last_sent != Some(self.position);
        let report_progress = async {
            if unreported {
                tokio::time::sleep(PROGRESS_INTERVAL).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = report_progress => self.send(Vec::new(), true).await,
            changed = self.visible.changed() => changed.map_err(|_| self.deleted()),
            () = self.sender.closed() => Err(Stop::Done),
            () = self.shutdown.cancelled() => Err(Stop::Fail(EngineError::ShuttingDown)),
            () = self.topic.deleted().cancelled() => Err(self.deleted()),
        }
    }

    fn deleted(&self) -> Stop {
        Stop::Fail(self.not_found())
    }

    fn not_found(&self) -> EngineError {
        EngineError::TopicNotFound(self.topic.log().name().clone())
    }
}
