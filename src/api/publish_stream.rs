//! PublishStream: pipelined publishing over one bidirectional stream.
//!
//! A reader task validates each incoming request and submits it to the engine, which fixes its
//! place in the log at once; a responder task awaits the submitted appends in order and sends one
//! response each. The channel between them bounds how many requests a stream has in flight, so a
//! client that sends faster than the disk syncs is slowed by gRPC flow control.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};
use tracing::Instrument;

use super::{convert, pb};
use crate::auth::{Caller, Permission};
use crate::engine::{Broker, PendingAppend};

/// Requests one stream may have submitted but not yet answered.
const MAX_IN_FLIGHT: usize = 1024;
/// Responses buffered for a slow reader.
const RESPONSE_BUFFER: usize = 64;

/// A request's outcome as far as it is known when the request is read.
enum Submitted {
    Accepted(PendingAppend),
    Rejected(Status),
}

/// Starts the reader and responder tasks of one PublishStream call by `caller`, whose
/// permission is checked per request: each may name another topic.
pub(super) fn serve(
    broker: Arc<Broker>,
    caller: Caller,
    max_event_bytes: usize,
    requests: Streaming<pb::PublishStreamRequest>,
) -> ReceiverStream<Result<pb::PublishStreamResponse, Status>> {
    let (submitted_tx, submitted_rx) = mpsc::channel(MAX_IN_FLIGHT);
    let (responses_tx, responses_rx) = mpsc::channel(RESPONSE_BUFFER);
    // In the call's span, so whatever they log is attributed to it.
    tokio::spawn(
        read_requests(broker, caller, max_event_bytes, requests, submitted_tx).in_current_span(),
    );
    tokio::spawn(answer_in_order(submitted_rx, responses_tx).in_current_span());
    ReceiverStream::new(responses_rx)
}

/// Who ended the request stream.
enum Ended {
    /// The client closed its side: answer what was sent, then end with OK.
    Client,
    /// The server is shutting down: answer what was read, then end with UNAVAILABLE.
    Shutdown,
    /// The transport failed: answer what was read, then end with its status.
    Transport(Status),
}

async fn read_requests(
    broker: Arc<Broker>,
    caller: Caller,
    max_event_bytes: usize,
    mut requests: Streaming<pb::PublishStreamRequest>,
    submitted: mpsc::Sender<Result<Submitted, Ended>>,
) {
    let ended = loop {
        let next = tokio::select! {
            next = requests.next() => next,
            () = broker.stopping().cancelled() => break Ended::Shutdown,
        };
        let request = match next {
            None => break Ended::Client,
            Some(Err(status)) => break Ended::Transport(status),
            Some(Ok(request)) => request.request.unwrap_or_default(),
        };
        let outcome = match submit(&broker, &caller, max_event_bytes, request).await {
            Ok(pending) => Submitted::Accepted(pending),
            Err(status) => Submitted::Rejected(status),
        };
        if submitted.send(Ok(outcome)).await.is_err() {
            return;
        }
    };
    if !matches!(ended, Ended::Client) {
        let _ = submitted.send(Err(ended)).await;
    }
}

async fn submit(
    broker: &Broker,
    caller: &Caller,
    max_event_bytes: usize,
    request: pb::PublishRequest,
) -> Result<PendingAppend, Status> {
    let (topic, publication) = convert::publication(request, max_event_bytes)?;
    caller.authorize(Permission::Publish, &topic)?;
    Ok(broker.submit(&topic, publication).await?)
}

async fn answer_in_order(
    mut submitted: mpsc::Receiver<Result<Submitted, Ended>>,
    responses: mpsc::Sender<Result<pb::PublishStreamResponse, Status>>,
) {
    use pb::publish_stream_response::Outcome;
    while let Some(next) = submitted.recv().await {
        let response = match next {
            Ok(Submitted::Accepted(pending)) => match pending.outcome().await {
                Ok(results) => Ok(Outcome::Response(pb::PublishResponse {
                    results: results.into_iter().map(Into::into).collect(),
                })),
                Err(error) => Ok(Outcome::Error(Status::from(error).into())),
            },
            Ok(Submitted::Rejected(status)) => Ok(Outcome::Error(status.into())),
            Err(Ended::Shutdown) => Err(Status::unavailable(
                "the server is shutting down; send the unanswered requests again after reconnecting",
            )),
            Err(Ended::Transport(status)) => Err(status),
            Err(Ended::Client) => return,
        };
        let response = response.map(|outcome| pb::PublishStreamResponse {
            outcome: Some(outcome),
        });
        if responses.send(response).await.is_err() {
            return;
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
