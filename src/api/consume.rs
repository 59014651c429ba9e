//! Consume: one consumer group member over a bidirectional stream.
//!
//! The first request joins the group; a task then forwards every later request's
//! acknowledgements, nacks and extensions to the group, while the response stream carries the
//! group's deliveries and ack confirmations. A request that is not valid ends the stream with
//! INVALID_ARGUMENT; a client that closes its side leaves the group (it could not acknowledge
//! anything more) and the stream ends with OK. Either way the member's unacknowledged deliveries
//! go to other members.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};
use tracing::Instrument;

use super::{convert, pb, record_topic};
use crate::auth::{Caller, Permission};
use crate::engine::{Broker, EngineError, MemberFeedback, MemberMessage};

/// The response stream of a Consume call.
pub(super) type ConsumeStream =
    Pin<Box<dyn Stream<Item = Result<pb::ConsumeResponse, Status>> + Send>>;

/// Joins the group named by the stream's first request and serves the member.
pub(super) async fn serve(
    broker: Arc<Broker>,
    caller: Caller,
    connection: Option<SocketAddr>,
    mut requests: Streaming<pb::ConsumeRequest>,
) -> Result<ConsumeStream, Status> {
    let first = tokio::select! {
        first = requests.message() => first?,
        () = broker.stopping().cancelled() => return Err(EngineError::ShuttingDown.into()),
    };
    let join = convert::join(first.unwrap_or_default())?;
    record_topic(&join.topic);
    caller.authorize(Permission::Subscribe, &join.topic)?;
    let membership = broker
        .consume(&join.topic, &join.group, join.max_in_flight, connection)
        .await?;
    let (invalid_tx, invalid_rx) = mpsc::channel(1);
    tokio::spawn(
        forward_settlements(
            broker.stopping().clone(),
            membership.feedback,
            requests,
            invalid_tx,
        )
        .in_current_span(),
    );
    let joined = pb::ConsumeResponse::joined(membership.group.into());
    let messages = membership
        .messages
        .map(|message| message.map(pb::ConsumeResponse::from).map_err(Status::from));
    // An error ends the call: tonic sends it as the status and stops polling.
    let invalid = ReceiverStream::new(invalid_rx).map(Err);
    Ok(Box::pin(
        tokio_stream::once(Ok(joined)).chain(messages.merge(invalid)),
    ))
}

/// Hands each later request to the group until the client stops sending (then leaves) or the
/// server stops.
async fn forward_settlements(
    stop: CancellationToken,
    feedback: MemberFeedback,
    mut requests: Streaming<pb::ConsumeRequest>,
    invalid: mpsc::Sender<Status>,
) {
    loop {
        let next = tokio::select! {
            next = requests.message() => next,
            () = stop.cancelled() => return,
        };
        let Ok(Some(request)) = next else {
            feedback.leave().await;
            return;
        };
        match convert::settlement(request) {
            Ok(settlement) => {
                if feedback.settle(settlement).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                // The response stream may be gone already; then nobody needs the error.
                let _ = invalid.send(error.into()).await;
                return;
            }
        }
    }
}

impl From<MemberMessage> for pb::ConsumeResponse {
    fn from(message: MemberMessage) -> Self {
        match message {
            MemberMessage::Deliveries(deliveries) => Self::from_encoded(
                deliveries
                    .into_iter()
                    .map(|delivery| (delivery.event.bytes, delivery.attempt))
                    .collect(),
            ),
            MemberMessage::AcksDurable(offsets) => Self::acks_durable(offsets),
        }
    }
}
