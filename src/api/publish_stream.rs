//! PublishStream: pipelined publishing over one bidirectional stream.
//!
//! A reader task validates each incoming request and submits it to the engine, which fixes its
//! place in the log at once; the response stream awaits the submitted appends in order and
//! yields one response each (as the call's own task polls it: no task in between to wake). The
//! channel between them bounds how many requests a stream has in flight, so a client that sends
//! faster than the disk syncs is slowed by gRPC flow control.

use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};
use tracing::Instrument;

use super::{convert, pb};
use crate::auth::{Caller, Permission};
use crate::engine::{Broker, PendingAppend};

/// Requests one stream may have submitted but not yet answered.
const MAX_IN_FLIGHT: usize = 1024;

/// The responses of one PublishStream call, in request order.
pub type Responses = Pin<Box<dyn Stream<Item = Result<pb::PublishStreamResponse, Status>> + Send>>;

/// A request's outcome as far as it is known when the request is read.
enum Submitted {
    Accepted(PendingAppend),
    Rejected(Status),
}

/// Starts the reader task of one PublishStream call by `caller`, whose permission is checked
/// per request (each may name another topic); returns the call's responses.
pub(super) fn serve(
    broker: Arc<Broker>,
    caller: Caller,
    max_event_bytes: usize,
    requests: Streaming<pb::PublishStreamRequest>,
) -> Responses {
    let (submitted_tx, submitted_rx) = mpsc::channel(MAX_IN_FLIGHT);
    // In the call's span, so whatever it logs is attributed to it.
    tokio::spawn(
        read_requests(broker, caller, max_event_bytes, requests, submitted_tx).in_current_span(),
    );
    Box::pin(
        ReceiverStream::new(submitted_rx)
            .then(answer)
            .map_while(|response| response),
    )
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

/// The response to the next submitted request, once its outcome is known; `None` when the
/// client ended its side, which ends the responses.
async fn answer(
    next: Result<Submitted, Ended>,
) -> Option<Result<pb::PublishStreamResponse, Status>> {
    use pb::publish_stream_response::Outcome;
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
        Err(Ended::Client) => return None,
    };
    Some(response.map(|outcome| pb::PublishStreamResponse {
        outcome: Some(outcome),
    }))
}

impl From<Status> for pb::PublishError {
    fn from(status: Status) -> Self {
        Self {
            code: status.code() as i32,
            message: status.message().to_string(),
        }
    }
}
