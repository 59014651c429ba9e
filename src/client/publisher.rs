//! [`Publisher`]: many publishes in flight on one PublishStream, answered in order, with the
//! same exactly-once retries as [`Client::publish`](super::Client::publish).
//!
//! A task owns the stream. It keeps every request sent but not yet answered; when the stream
//! breaks (a lost connection, a server restart or shutdown, an answer overdue by the policy's
//! attempt timeout) it opens a new one and sends them again, in their order and with the same
//! idempotency keys, so those already appended come back as duplicates with their original
//! offsets instead of being appended twice.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use super::error::is_transient;
use super::retry::Backoff;
use super::{ClientError, Published, RetryPolicy, Transport, assign_idempotency_keys, published};
use crate::pb;
use crate::pb::event_stream_service_client::EventStreamServiceClient;

/// Publishes a [`Publisher`] keeps sent but unanswered at most; more wait in its queue, and
/// [`Publisher::send`] waits while that is full. The server reads at most 1,024 requests of a
/// stream ahead.
pub const PUBLISHER_WINDOW: usize = 1024;

/// Publishes queued for a [`Publisher`]'s task beyond its window.
const QUEUED: usize = 64;

/// Publishes over one PublishStream: [`Publisher::send`] returns as soon as the publish is on
/// its way, and the [`PendingPublish`] it returns resolves once the events are durable. Publishes
/// are appended in the order they were sent. Create one with
/// [`Client::publisher`](super::Client::publisher); dropping it (every clone) closes the stream
/// once every publish sent is answered. Cheap to clone: clones share the stream, and their publishes are
/// appended in the order they were sent.
#[derive(Debug, Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Queued>,
}

/// The outcome of one [`Publisher::send`]: one result per event, in order, once they are
/// durable; a publish the server refused (a failed expectation, a bad event) fails alone, with
/// the same error as [`Client::publish_request`](super::Client::publish_request).
#[derive(Debug)]
pub struct PendingPublish {
    answer: oneshot::Receiver<Result<Vec<Published>, ClientError>>,
}

impl Future for PendingPublish {
    type Output = Result<Vec<Published>, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| {
                Err(ClientError::Protocol(
                    "the publisher's task ended without answering".to_string(),
                ))
            })
        })
    }
}

/// A publish waiting for its answer.
struct Queued {
    request: pb::PublishRequest,
    keys: Vec<String>,
    answer: oneshot::Sender<Result<Vec<Published>, ClientError>>,
}

/// A publish sent on the current stream, not answered yet.
struct InFlight {
    publish: Queued,
    sent: Instant,
}

impl Publisher {
    pub(super) fn start(grpc: EventStreamServiceClient<Transport>, policy: RetryPolicy) -> Self {
        let (queue, queued) = mpsc::channel(QUEUED);
        tokio::spawn(
            PublishTask {
                grpc,
                policy,
                in_flight: VecDeque::new(),
            }
            .run(queued),
        );
        Self { queue }
    }

    /// Sends `events` to `topic`; see [`Publisher::send_request`].
    pub async fn send(
        &self,
        topic: &str,
        events: Vec<pb::EventData>,
    ) -> Result<PendingPublish, ClientError> {
        self.send_request(pb::PublishRequest {
            topic: topic.to_string(),
            events,
            ..Default::default()
        })
        .await
    }

    /// Sends a whole request (expectations, a cursor to move), giving each event without an
    /// idempotency key a UUID v4 first, as [`Client::publish_request`](super::Client::publish_request)
    /// does. Waits only while [`PUBLISHER_WINDOW`] publishes are unanswered and more are queued.
    pub async fn send_request(
        &self,
        mut request: pb::PublishRequest,
    ) -> Result<PendingPublish, ClientError> {
        let keys = assign_idempotency_keys(&mut request);
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Queued {
                request,
                keys,
                answer,
            })
            .await
            .map_err(|_| ClientError::Protocol("the publisher's task ended".to_string()))?;
        Ok(PendingPublish { answer: answered })
    }
}

/// The task behind a [`Publisher`].
struct PublishTask {
    grpc: EventStreamServiceClient<Transport>,
    policy: RetryPolicy,
    in_flight: VecDeque<InFlight>,
}

/// Why a stream stopped.
enum Stopped {
    /// The publisher was dropped and every publish is answered.
    Done,
    /// The stream failed; a new one may take over.
    Failed(Status),
}

impl PublishTask {
    async fn run(mut self, mut queued: mpsc::Receiver<Queued>) {
        let mut backoff = Backoff::new(self.policy.clone());
        loop {
            if self.in_flight.is_empty() {
                // At the start, and after a failure answered every publish: the next stream is
                // opened for the next publish.
                match queued.recv().await {
                    Some(publish) => self.in_flight.push_back(InFlight {
                        publish,
                        sent: Instant::now(),
                    }),
                    None => return,
                }
            }
            let status = match self.stream(&mut queued, &mut backoff).await {
                Stopped::Done => return,
                Stopped::Failed(status) => status,
            };
            if !is_transient(&status) {
                self.fail_in_flight(|| ClientError::from_status(status.clone()));
                continue;
            }
            match backoff.after_failure("PublishStream", &status) {
                Ok(pause) => tokio::time::sleep(pause).await,
                Err(gave_up) => {
                    self.fail_in_flight(|| error_copy(&gave_up));
                    backoff.reset();
                }
            }
        }
    }

    /// Opens a stream, sends the unanswered publishes on it again, then sends and answers
    /// publishes until the stream fails or the publisher is dropped with nothing unanswered.
    async fn stream(
        &mut self,
        queued: &mut mpsc::Receiver<Queued>,
        backoff: &mut Backoff,
    ) -> Stopped {
        // What was queued while no stream was open shares this attempt, and its retry budget.
        while self.in_flight.len() < PUBLISHER_WINDOW {
            let Ok(publish) = queued.try_recv() else {
                break;
            };
            self.in_flight.push_back(InFlight {
                publish,
                sent: Instant::now(),
            });
        }
        let (requests, outgoing) = mpsc::channel(PUBLISHER_WINDOW);
        for in_flight in &mut self.in_flight {
            in_flight.sent = Instant::now();
            // Cannot fail: the channel has room for a full window and the stream holds it.
            let _ = requests.try_send(stream_request(&in_flight.publish));
        }
        let opening = self.grpc.publish_stream(ReceiverStream::new(outgoing));
        let mut responses = match tokio::time::timeout(self.policy.attempt_timeout, opening).await {
            Ok(Ok(responses)) => responses.into_inner(),
            Ok(Err(status)) => return Stopped::Failed(status),
            Err(_) => return Stopped::Failed(self.overdue()),
        };
        let mut queue_open = true;
        loop {
            let overdue = self
                .in_flight
                .front()
                .map(|oldest| oldest.sent + self.policy.attempt_timeout);
            tokio::select! {
                publish = queued.recv(), if queue_open && self.in_flight.len() < PUBLISHER_WINDOW => {
                    match publish {
                        Some(publish) => {
                            let _ = requests.try_send(stream_request(&publish));
                            self.in_flight.push_back(InFlight { publish, sent: Instant::now() });
                        }
                        None if self.in_flight.is_empty() => return Stopped::Done,
                        None => queue_open = false,
                    }
                }
                response = responses.message() => match response {
                    Ok(Some(response)) => {
                        backoff.reset();
                        if let Err(status) = self.answer_oldest(response) {
                            return Stopped::Failed(status);
                        }
                        if !queue_open && self.in_flight.is_empty() {
                            return Stopped::Done;
                        }
                    }
                    Ok(None) => {
                        return Stopped::Failed(Status::unavailable(
                            "the server ended the stream with publishes unanswered",
                        ));
                    }
                    Err(status) => return Stopped::Failed(status),
                },
                () = sleep_until(overdue) => return Stopped::Failed(self.overdue()),
            }
        }
    }

    /// The failure of a stream that left a publish unanswered for the policy's attempt timeout.
    fn overdue(&self) -> Status {
        Status::deadline_exceeded(format!(
            "no answer within {:?}",
            self.policy.attempt_timeout
        ))
    }

    /// Answers the oldest publish in flight with `response`; a response with nothing in flight
    /// breaks the stream.
    fn answer_oldest(&mut self, response: pb::PublishStreamResponse) -> Result<(), Status> {
        use pb::publish_stream_response::Outcome;
        let Some(InFlight { publish, .. }) = self.in_flight.pop_front() else {
            return Err(Status::internal("a response to no publish"));
        };
        let outcome = match response.outcome {
            Some(Outcome::Response(response)) => published(response.results, publish.keys),
            Some(Outcome::Error(error)) => Err(ClientError::from_status(Status::new(
                Code::from(error.code),
                error.message,
            ))),
            None => Err(ClientError::Protocol(
                "a PublishStream response without an outcome".to_string(),
            )),
        };
        let _ = publish.answer.send(outcome);
        Ok(())
    }

    /// Answers every publish in flight with the error `error` makes.
    fn fail_in_flight(&mut self, error: impl Fn() -> ClientError) {
        for in_flight in self.in_flight.drain(..) {
            let _ = in_flight.publish.answer.send(Err(error()));
        }
    }
}

/// The stream message carrying `publish`.
fn stream_request(publish: &Queued) -> pb::PublishStreamRequest {
    pb::PublishStreamRequest {
        request: Some(publish.request.clone()),
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// `error` again, for each publish it fails (a [`ClientError`] cannot be cloned: some variants
/// hold sources that cannot).
fn error_copy(error: &ClientError) -> ClientError {
    match error {
        ClientError::Unavailable {
            what,
            attempts,
            elapsed,
            last_error,
        } => ClientError::Unavailable {
            what: what.clone(),
            attempts: *attempts,
            elapsed: *elapsed,
            last_error: last_error.clone(),
        },
        other => ClientError::Protocol(other.to_string()),
    }
}
