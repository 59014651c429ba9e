//! A consumer group member that helps handlers be idempotent: the ids of events it handled are
//! kept in a local sled tree, so an event the server delivers again (after a crash, a reconnect
//! or a lost acknowledgement) is acknowledged without running the handler a second time.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::Client;
use super::error::{BoxError, ClientError, is_transient};
use super::retry::Backoff;
use crate::pb;

/// Prefix of handled event ids (value: the event's offset, big-endian u64).
const HANDLED_PREFIX: &[u8] = b"handled/";
/// Prefix of handled offsets (value: the event's id), to forget ids once their ack is durable.
const OFFSET_PREFIX: &[u8] = b"offset/";

/// Which group to join, and how.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    topic: String,
    group: String,
    max_in_flight: u32,
    retry_delay: Duration,
}

impl GroupOptions {
    /// Joins `group` of `topic` (created with defaults by the server if missing).
    pub fn new(topic: impl Into<String>, group: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            group: group.into(),
            max_in_flight: 256,
            retry_delay: Duration::ZERO,
        }
    }

    /// The most deliveries held unacknowledged at once (1 to 10,000; default 256).
    pub fn max_in_flight(mut self, limit: u32) -> Self {
        self.max_in_flight = limit;
        self
    }

    /// How long the server waits before delivering an event again after its handler failed
    /// (default: at once).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }
}

/// One member of a consumer group, handling each event at most once per local store.
///
/// For each delivery: if the event's id is recorded in the store, the event is acknowledged
/// without calling the handler; otherwise the handler runs, and on success the id is recorded
/// (and flushed to disk before the acknowledgement is sent), on failure the delivery is nacked
/// with the error as its reason and comes back later (with `attempt` counted up, and to the
/// group's dead-letter topic after its `max_deliveries`). Ids are forgotten once the server
/// confirms their acknowledgement durable: it never delivers those events to the group again.
///
/// **Guarantee.** A handler runs at most once per event as long as its success was recorded:
/// only a crash of this process between a handler's return and the flush of its batch runs it
/// again. Events of one key arrive one at a time, in offset order; parallelism comes from
/// running more members (in this process or others). Run one member per store at a time.
pub struct GroupConsumer {
    client: Client,
    tree: sled::Tree,
    options: GroupOptions,
}

/// What [`GroupConsumer::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupRunStats {
    /// Events passed to the handler that succeeded.
    pub handled: u64,
    /// Deliveries acknowledged without the handler: their id was recorded as handled.
    pub skipped_as_handled: u64,
    /// Deliveries whose handler failed, nacked.
    pub failed: u64,
}

/// A stream joined: where to send acknowledgements, and the responses.
struct Joined {
    requests: mpsc::Sender<pb::ConsumeRequest>,
    responses: tonic::Streaming<pb::ConsumeResponse>,
}

impl GroupConsumer {
    /// A member of the group in `options`, keeping handled ids in `db` (one tree per topic and
    /// group).
    pub fn open(client: Client, db: &sled::Db, options: GroupOptions) -> Result<Self, ClientError> {
        let tree = db.open_tree(format!(
            "eventstream-group/{}/{}",
            options.topic, options.group
        ))?;
        Ok(Self {
            client,
            tree,
            options,
        })
    }

    /// Whether the event with this id is recorded as handled (and not yet forgotten).
    pub fn is_handled(&self, event_id: &str) -> Result<bool, ClientError> {
        Ok(self.tree.contains_key(handled_key(event_id))?)
    }

    /// Consumes until `stop` completes or an error that reconnecting cannot fix; reconnects
    /// with the client's reconnect policy after transient failures (the server redelivers what
    /// was not acknowledged).
    pub async fn run<H, Fut, E>(
        &self,
        stop: impl Future<Output = ()>,
        mut handler: H,
    ) -> Result<GroupRunStats, ClientError>
    where
        H: FnMut(pb::Event, u32) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<BoxError>,
    {
        let mut stats = GroupRunStats::default();
        let mut backoff = Backoff::new(self.client.reconnect.clone());
        let what = format!(
            "Consume {:?} group {:?}",
            self.options.topic, self.options.group
        );
        tokio::pin!(stop);
        loop {
            let session = self.session(&mut handler, &mut stats, &mut backoff);
            let ended = tokio::select! {
                ended = session => ended,
                () = &mut stop => return Ok(stats),
            };
            let status = match ended {
                Ok(status) if is_transient(&status) => status,
                Ok(status) => return Err(ClientError::from_status(status)),
                Err(error) => return Err(error),
            };
            let pause = backoff.after_failure(&what, &status)?;
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = &mut stop => return Ok(stats),
            }
        }
    }

    /// One stream's life: joins, handles deliveries until the stream fails; returns its status.
    async fn session<H, Fut, E>(
        &self,
        handler: &mut H,
        stats: &mut GroupRunStats,
        backoff: &mut Backoff,
    ) -> Result<Status, ClientError>
    where
        H: FnMut(pb::Event, u32) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<BoxError>,
    {
        let Joined {
            requests,
            mut responses,
        } = match self.join().await {
            Ok(joined) => joined,
            Err(status) => return Ok(status),
        };
        backoff.reset();
        loop {
            let response = match responses.message().await {
                Ok(Some(response)) => response,
                Ok(None) => return Ok(Status::unavailable("the server ended the stream")),
                Err(status) => return Ok(status),
            };
            self.forget(&response.acks_durable)?;
            if response.deliveries.is_empty() {
                continue;
            }
            let settled = self.handle(handler, response.deliveries, stats).await?;
            if requests.send(settled).await.is_err() {
                return Ok(Status::unavailable("the stream closed"));
            }
        }
    }

    async fn join(&self) -> Result<Joined, Status> {
        let (requests, outgoing) = mpsc::channel(16);
        let join = pb::ConsumeRequest {
            join: Some(pb::ConsumeJoin {
                topic: self.options.topic.clone(),
                group: self.options.group.clone(),
                max_in_flight: self.options.max_in_flight,
            }),
            ..Default::default()
        };
        requests
            .send(join)
            .await
            .map_err(|_| Status::internal("request channel closed"))?;
        let mut responses = self
            .client
            .grpc()
            .consume(ReceiverStream::new(outgoing))
            .await?
            .into_inner();
        // The first response only describes the group.
        responses
            .message()
            .await?
            .ok_or_else(|| Status::unavailable("the server ended the stream"))?;
        Ok(Joined {
            requests,
            responses,
        })
    }

    /// Handles one batch of deliveries in order; returns the acks and nacks to send.
    async fn handle<H, Fut, E>(
        &self,
        handler: &mut H,
        deliveries: Vec<pb::GroupDelivery>,
        stats: &mut GroupRunStats,
    ) -> Result<pb::ConsumeRequest, ClientError>
    where
        H: FnMut(pb::Event, u32) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<BoxError>,
    {
        let mut settled = pb::ConsumeRequest::default();
        for delivery in deliveries {
            let Some(event) = delivery.event else {
                continue;
            };
            let offset = event.offset;
            if self.is_handled(&event.id)? {
                stats.skipped_as_handled += 1;
                settled.acks.push(offset);
                continue;
            }
            let id = event.id.clone();
            match handler(event, delivery.attempt).await {
                Ok(()) => {
                    let mut batch = sled::Batch::default();
                    batch.insert(handled_key(&id), &offset.to_be_bytes());
                    batch.insert(offset_key(offset), id.as_bytes());
                    self.tree.apply_batch(batch)?;
                    stats.handled += 1;
                    settled.acks.push(offset);
                }
                Err(error) => {
                    stats.failed += 1;
                    let mut reason = error.into().to_string();
                    truncate_to_boundary(&mut reason, 1024);
                    settled.nacks.push(pb::Nack {
                        offset,
                        delay: prost_types::Duration::try_from(self.options.retry_delay).ok(),
                        reason,
                    });
                }
            }
        }
        // Recorded before acknowledged: a crash after the ack cannot lose the record.
        self.tree.flush_async().await?;
        Ok(settled)
    }

    /// Forgets the ids of events whose acknowledgement is durable.
    fn forget(&self, offsets: &[u64]) -> Result<(), ClientError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for &offset in offsets {
            if let Some(id) = self.tree.get(offset_key(offset))? {
                batch.remove(handled_key_bytes(&id));
                batch.remove(offset_key(offset));
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

fn handled_key(event_id: &str) -> Vec<u8> {
    handled_key_bytes(event_id.as_bytes())
}

fn handled_key_bytes(event_id: &[u8]) -> Vec<u8> {
    [HANDLED_PREFIX, event_id].concat()
}

fn offset_key(offset: u64) -> Vec<u8> {
    [OFFSET_PREFIX, &offset.to_be_bytes()].concat()
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn truncate_to_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let cut = (0..=max)
            .rev()
            .find(|&index| text.is_char_boundary(index))
            .unwrap_or(0);
        text.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_cut_at_a_character_boundary() {
        let mut reason = "é".repeat(600);
        truncate_to_boundary(&mut reason, 1024);
        assert_eq!(reason.len(), 1024);
        let mut odd = format!("a{}", "é".repeat(600));
        truncate_to_boundary(&mut odd, 1024);
        assert_eq!(odd.len(), 1023);
    }
}
