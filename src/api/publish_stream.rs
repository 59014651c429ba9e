//! PublishStream: pipelined publishing over one bidirectional stream.
//!
//! The call's response stream does all of its work as it is polled, on the task that sends its
//! responses: it reads the requests that have arrived, validates each and submits it to the
//! engine, which fixes its place in the log at once, then yields the response of the oldest
//! request once its events are durable. No task in between to wake on either side. It stops
//! reading while [`MAX_IN_FLIGHT`] requests are unanswered, or while the client does not take
//! its responses, so a client that sends faster than the disk syncs is slowed by gRPC flow
//! control.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio_stream::Stream;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::{Status, Streaming};

use super::{convert, pb};
use crate::auth::{Caller, Permission};
use crate::engine::{Broker, EngineError, PendingAppend, SubmitNow};

/// Requests one stream may have submitted but not yet answered.
const MAX_IN_FLIGHT: usize = 1024;

/// The responses of one PublishStream call, in request order.
pub type Responses = Pin<Box<dyn Stream<Item = Result<pb::PublishStreamResponse, Status>> + Send>>;

/// Responses for the requests of one PublishStream call by `caller`, whose permission is
/// checked per request (each may name another topic).
pub(super) fn serve(
    broker: Arc<Broker>,
    caller: Caller,
    max_event_bytes: usize,
    requests: Streaming<pb::PublishStreamRequest>,
) -> Responses {
    let stopping = Box::pin(broker.stopping().clone().cancelled_owned());
    Box::pin(PublishStream {
        broker,
        caller,
        max_event_bytes,
        requests,
        stopping,
        waiting: None,
        in_flight: VecDeque::new(),
        input: Input::Open,
    })
}

/// A request's outcome as far as it is known when the request is read.
enum Submitted {
    Accepted(PendingAppend),
    Rejected(pb::PublishError),
}

/// Whether requests may still arrive.
enum Input {
    Open,
    /// The client closed its side: answer what was sent, then end with OK.
    ClosedByClient,
    /// The server is shutting down: answer what was read, then end with UNAVAILABLE.
    Shutdown,
    /// The transport failed: answer what was read, then end with its status.
    Failed(Status),
    /// The final status went out.
    Done,
}

/// A request's submission that has to wait for room in its topic's queue (or for its topic to
/// be created).
type Waiting = Pin<Box<dyn Future<Output = Result<PendingAppend, EngineError>> + Send>>;

/// One call's responses, which read and submit its requests as they are polled.
struct PublishStream {
    broker: Arc<Broker>,
    caller: Caller,
    max_event_bytes: usize,
    requests: Streaming<pb::PublishStreamRequest>,
    stopping: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The submission under way; no later request is read before it is queued, which keeps
    /// the requests' order in the log.
    waiting: Option<Waiting>,
    /// Read requests not answered yet, oldest first.
    in_flight: VecDeque<Submitted>,
    input: Input,
}

impl Stream for PublishStream {
    type Item = Result<pb::PublishStreamResponse, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Answers first: reading takes the connection's lock, once per wake-up is enough.
        if let Poll::Ready(response) = this.answer(cx) {
            return Poll::Ready(response);
        }
        this.read(cx);
        this.answer(cx)
    }
}

impl PublishStream {
    /// Reads and submits the requests that have arrived, while fewer than [`MAX_IN_FLIGHT`]
    /// are unanswered.
    fn read(&mut self, cx: &mut Context<'_>) {
        if !matches!(self.input, Input::Open) {
            return;
        }
        if self.stopping.as_mut().poll(cx).is_ready() {
            self.input = Input::Shutdown;
            return;
        }
        while self.in_flight.len() < MAX_IN_FLIGHT {
            if let Some(waiting) = &mut self.waiting {
                let Poll::Ready(submitted) = waiting.as_mut().poll(cx) else {
                    return;
                };
                self.waiting = None;
                self.in_flight.push_back(match submitted {
                    Ok(pending) => Submitted::Accepted(pending),
                    Err(error) => Submitted::Rejected(Status::from(error).into()),
                });
                continue;
            }
            let request = match Pin::new(&mut self.requests).poll_next(cx) {
                Poll::Pending => return,
                Poll::Ready(None) => {
                    self.input = Input::ClosedByClient;
                    return;
                }
                Poll::Ready(Some(Err(status))) => {
                    self.input = Input::Failed(status);
                    return;
                }
                Poll::Ready(Some(Ok(request))) => request.request.unwrap_or_default(),
            };
            self.submit(request);
        }
    }

    /// Validates `request` and queues it for its topic's writer, or starts waiting to.
    fn submit(&mut self, request: pb::PublishRequest) {
        let checked = convert::publication(request, self.max_event_bytes)
            .map_err(Status::from)
            .and_then(|(topic, publication)| {
                self.caller.authorize(Permission::Publish, &topic)?;
                Ok((topic, publication))
            });
        let submitted = match checked {
            Err(status) => Submitted::Rejected(status.into()),
            Ok((topic, publication)) => match self.broker.submit_now(&topic, publication) {
                SubmitNow::Queued(pending) => Submitted::Accepted(pending),
                SubmitNow::Refused(error) => Submitted::Rejected(Status::from(error).into()),
                SubmitNow::WouldWait(publication) => {
                    let broker = Arc::clone(&self.broker);
                    self.waiting =
                        Some(Box::pin(
                            async move { broker.submit(&topic, publication).await },
                        ));
                    return;
                }
            },
        };
        self.in_flight.push_back(submitted);
    }

    /// The response to the oldest unanswered request once its outcome is known; the final
    /// status once every request read is answered and no more will come.
    fn answer(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<pb::PublishStreamResponse, Status>>> {
        use pb::publish_stream_response::Outcome;
        let outcome = match self.in_flight.front_mut() {
            Some(Submitted::Accepted(pending)) => match ready!(Pin::new(pending).poll(cx)) {
                Ok(results) => Outcome::Response(pb::PublishResponse::from_appended(results)),
                Err(error) => Outcome::Error(Status::from(error).into()),
            },
            Some(Submitted::Rejected(error)) => Outcome::Error(std::mem::take(error)),
            None if matches!(self.input, Input::Open) => return Poll::Pending,
            None => return Poll::Ready(self.final_status()),
        };
        self.in_flight.pop_front();
        Poll::Ready(Some(Ok(pb::PublishStreamResponse {
            outcome: Some(outcome),
        })))
    }

    /// How the call ends once every request read is answered: OK if the client closed its
    /// side, else an error status.
    fn final_status(&mut self) -> Option<Result<pb::PublishStreamResponse, Status>> {
        match std::mem::replace(&mut self.input, Input::Done) {
            Input::Open | Input::ClosedByClient | Input::Done => None,
            Input::Shutdown => Some(Err(Status::unavailable(
                "the server is shutting down; send the unanswered requests again after \
                 reconnecting",
            ))),
            Input::Failed(status) => Some(Err(status)),
        }
    }
}

impl From<Status> for pb::PublishError {
    fn from(status: Status) -> Self {
        Self {
            code: status.code() as i32,
            message: status.message().to_string(),
        }
    }
}
