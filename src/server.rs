//! Runs the server on a listener until a shutdown signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::api::{EventStreamApi, EventStreamServiceServer, ObserveLayer, request_limit, standard};
use crate::config::Config;
use crate::engine::{Broker, EngineError, EngineSettings};
use crate::storage::{Store, StoreError};
use crate::telemetry::{MetricsEndpoint, MetricsError};

/// How long in-flight calls get to finish once shutdown has begun.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be opened.
    #[error("opening the data directory: {0}")]
    Store(#[from] StoreError),
    /// Loading topics or the final flush failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The gRPC transport failed.
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The descriptors for server reflection did not load.
    #[error("server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The service descriptors did not decode.
    #[error("decoding the service descriptors: {0}")]
    Descriptors(#[from] prost::DecodeError),
    /// Metrics could not be served.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Serves the API on `listener` until `shutdown` completes.
///
/// On shutdown: reports NOT_SERVING to health checks, stops accepting calls, ends open
/// subscriptions and health watches with UNAVAILABLE, lets in-flight publishes finish (at most [`DRAIN_TIMEOUT`]), then makes everything durable.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    // Bound first, so a taken port fails fast, and the recorder is in place before the engine
    // takes its metric handles.
    let metrics = match config.metrics_listen {
        Some(address) => Some(MetricsEndpoint::bind(address).await?),
        None => None,
    };
    let data_dir = config.data_dir.clone();
    let cache_bytes = config.cache_bytes;
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir, cache_bytes))
        .await
        .map_err(EngineError::from)??;
    store.set_min_free_bytes(config.min_free_disk_bytes);
    let broker = Broker::open(
        store,
        EngineSettings {
            auto_create_topics: config.auto_create_topics,
            fsync: config.fsync,
            default_dedup_window: config.default_dedup_window,
            retention_interval: config.retention_interval,
            max_topics: config.max_topics,
            max_subscriptions: config.max_subscriptions,
            max_subscriptions_per_connection: config.max_subscriptions_per_connection,
        },
    )
    .await?;
    let metrics = match metrics {
        Some(endpoint) => {
            tracing::info!("serving metrics on http://{}/metrics", endpoint.address());
            Some(endpoint.start(Arc::clone(&broker)))
        }
        None => None,
    };
    // Said only now that the data is open, so "listening" means ready to serve.
    let address = listener
        .local_addr()
        .map_or_else(|_| config.listen.to_string(), |address| address.to_string());
    tracing::info!(
        "eventstream listening on {address}, data in {}, fsync {:?}",
        config.data_dir.display(),
        config.fsync
    );
    let (readiness, health) = standard::health(broker.stopping().clone()).await;
    let service =
        EventStreamServiceServer::new(EventStreamApi::new(broker.clone(), config.max_event_bytes))
            // A backstop: `request_limit` refuses such messages first, with a better status.
            .max_decoding_message_size(config.max_request_bytes)
            .max_encoding_message_size(usize::MAX);

    // Without TCP_NODELAY, small responses wait on the peer's delayed ACK: ~40 ms per round trip.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
    // Pings find dead peers, whose subscriptions would otherwise hold their slots for as long as
    // the TCP connection looks open (hours, through a NAT that forgot it).
    let keepalive = (!config.keepalive_interval.is_zero()).then_some(config.keepalive_interval);
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(keepalive)
        .http2_keepalive_timeout(Some(config.keepalive_timeout))
        .layer(ObserveLayer::new()?)
        .layer(request_limit::layer(config.max_request_bytes))
        .add_service(service)
        .add_service(health)
        .add_service(standard::reflection_v1()?)
        .add_service(standard::reflection_v1alpha()?)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = accepting_stopped.await;
        });
    tokio::pin!(server);

    tokio::select! {
        served = &mut server => served?,
        () = shutdown => {
            tracing::info!("shutting down: ending subscriptions, finishing in-flight publishes");
            readiness.draining().await;
            let _ = stop_accepting.send(());
            broker.end_subscriptions().await;
            match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
                Ok(served) => served?,
                Err(_) => tracing::warn!("in-flight calls did not finish within {DRAIN_TIMEOUT:?}; closing them"),
            }
        }
    }
    broker.close().await?;
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    tracing::info!("stopped; all acknowledged events are on disk");
    Ok(())
}
