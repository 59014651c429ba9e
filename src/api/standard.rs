//! The standard gRPC services generic tools rely on: health checking (`grpc.health.v1`) and server
//! reflection (`grpc.reflection.v1` and `v1alpha`).

use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_check_response};
use tonic_health::server::{HealthReporter, HealthService};
use tonic_reflection::server::Builder;

use super::pb;

/// The services whose health is reported: the server as a whole ("") and the event API.
const REPORTED: [&str; 2] = ["", pb::event_stream_service_server::SERVICE_NAME];

/// Switches the reported health; see [`health`].
pub struct Readiness {
    reporter: HealthReporter,
}

impl Readiness {
    /// Reports NOT_SERVING from now on, so probes and load balancers stop sending calls while the
    /// server drains.
    pub async fn draining(&self) {
        for service in REPORTED {
            self.reporter
                .set_service_status(service, ServingStatus::NotServing)
                .await;
        }
    }
}

/// The health service, reporting SERVING for [`REPORTED`] until [`Readiness::draining`].
///
/// Watch streams end with UNAVAILABLE once `stopping` is cancelled, after a last NOT_SERVING, so
/// a watcher never holds the server's drain open.
pub async fn health(stopping: CancellationToken) -> (Readiness, HealthServer<HealthApi>) {
    let reporter = HealthReporter::new();
    for service in REPORTED {
        reporter
            .set_service_status(service, ServingStatus::Serving)
            .await;
    }
    let api = HealthApi {
        inner: HealthService::from_health_reporter(reporter.clone()),
        stopping,
    };
    (Readiness { reporter }, HealthServer::new(api))
}

/// `grpc.health.v1.Health`: tonic-health's service, with watch streams that end on shutdown.
pub struct HealthApi {
    inner: HealthService,
    stopping: CancellationToken,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for HealthApi {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let statuses = self.inner.watch(request).await?.into_inner();
        let (sender, receiver) = mpsc::channel(1);
        tokio::spawn(forward_until_stopping(
            statuses,
            sender,
            self.stopping.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// Forwards status changes until shutdown, then makes sure the watcher's last status is
/// NOT_SERVING and ends the stream.
async fn forward_until_stopping(
    mut statuses: impl Stream<Item = Result<HealthCheckResponse, Status>> + Unpin,
    sender: mpsc::Sender<Result<HealthCheckResponse, Status>>,
    stopping: CancellationToken,
) {
    let not_serving = health_check_response::ServingStatus::NotServing as i32;
    let mut last = None;
    loop {
        let next = tokio::select! {
            next = statuses.next() => next,
            () = stopping.cancelled() => break,
            () = sender.closed() => return,
        };
        let Some(next) = next else { break };
        if let Ok(response) = &next {
            last = Some(response.status);
        }
        if sender.send(next).await.is_err() {
            return;
        }
    }
    if last != Some(not_serving)
        && sender
            .send(Ok(HealthCheckResponse {
                status: not_serving,
            }))
            .await
            .is_err()
    {
        return;
    }
    let _ = sender
        .send(Err(Status::unavailable("the server is shutting down")))
        .await;
}

/// The encoded descriptors of every service this server offers.
pub(super) const DESCRIPTOR_SETS: [&[u8]; 4] = [
    pb::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];

/// A reflection builder knowing every service this server offers.
fn reflection() -> Builder<'static> {
    DESCRIPTOR_SETS.into_iter().fold(
        // The reflection services are in DESCRIPTOR_SETS, so both versions list both.
        Builder::configure().include_reflection_service(false),
        Builder::register_encoded_file_descriptor_set,
    )
}

/// Server reflection, version `grpc.reflection.v1`.
pub fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection().build_v1()
}

/// Server reflection, version `grpc.reflection.v1alpha` (what most tools still ask for).
pub fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    tonic_reflection::server::Error,
> {
    reflection().build_v1alpha()
}
