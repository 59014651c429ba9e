//! Runs the server on a listener until a shutdown signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::api::{
    Authenticator, EventStreamApi, EventStreamServiceServer, ObserveLayer, request_limit, standard,
};
use crate::auth::{AuthFileError, Tokens};
use crate::config::{Config, FsyncPolicy};
use crate::engine::{Broker, EngineError, EngineSettings};
use crate::storage::{Store, StoreError, StoreOptions};
use crate::telemetry::{MetricsEndpoint, MetricsError};
use crate::tls::check_certificates;

/// How long in-flight calls get to finish once shutdown has begun.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client gets to complete the TLS handshake: a connection that stalls in it holds
/// a socket and a task.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// A TLS certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate, key or client CA is not usable PEM.
    #[error("TLS: {0}")]
    Tls(String),
    /// The auth file is missing or invalid.
    #[error(transparent)]
    Auth(#[from] AuthFileError),
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
    // Security settings first: a server that cannot be secured as asked must not start at all.
    let tokens = match &config.auth_file {
        Some(path) => {
            let tokens = Tokens::load(path)?;
            tracing::info!(
                "authentication on: {} tokens from {}",
                tokens.len(),
                path.display()
            );
            Some(Arc::new(tokens))
        }
        None => {
            tracing::warn!(
                "no --auth-file: the server is open, any client may publish, subscribe, create and delete topics"
            );
            None
        }
    };
    let tls = tls_config(&config)?;
    // Bound first, so a taken port fails fast, and the recorder is in place before the engine
    // takes its metric handles.
    let metrics = match config.metrics_listen {
        Some(address) => Some(MetricsEndpoint::bind(address).await?),
        None => None,
    };
    let data_dir = config.data_dir.clone();
    let options = StoreOptions {
        cache_bytes: config.cache_bytes,
        segment_bytes: config.segment_bytes,
        sync_appends: config.fsync == FsyncPolicy::Always,
        dedup_generation_keys: usize::try_from(config.dedup_generation_keys).unwrap_or(usize::MAX),
    };
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir, options))
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
            max_consumer_groups: config.max_consumer_groups,
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
    let transport = match (&tls, &config.tls_client_ca) {
        (None, _) => "plaintext",
        (Some(_), None) => "TLS",
        (Some(_), Some(_)) => "TLS with client certificates",
    };
    tracing::info!(
        "eventstream listening on {address}, {transport}, data in {}, fsync {:?}",
        config.data_dir.display(),
        config.fsync
    );
    let (readiness, health) = standard::health(broker.stopping().clone()).await;
    let service =
        EventStreamServiceServer::new(EventStreamApi::new(broker.clone(), config.max_event_bytes))
            // A backstop: `request_limit` refuses such messages first, with a better status.
            .max_decoding_message_size(config.max_request_bytes)
            .max_encoding_message_size(usize::MAX);
    // Only the event stream API: health checks and reflection stay open to probes and tools.
    let service = InterceptedService::new(service, Authenticator::new(tokens));

    // Without TCP_NODELAY, small responses wait on the peer's delayed ACK: ~40 ms per round trip.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
    // Pings find dead peers, whose subscriptions would otherwise hold their slots for as long as
    // the TCP connection looks open (hours, through a NAT that forgot it).
    let keepalive = (!config.keepalive_interval.is_zero()).then_some(config.keepalive_interval);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|error| ServerError::Tls(crate::errors::with_causes(&error)))?;
    }
    let server = builder
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

/// The TLS settings `config` asks for, with the files read; `None` for plaintext.
fn tls_config(config: &Config) -> Result<Option<ServerTlsConfig>, ServerError> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ServerError::TlsFile {
            path: path.to_path_buf(),
            source,
        })
    };
    let read_certificates = |path: &Path| {
        let pem = read(path)?;
        check_certificates(&pem)
            .map_err(|error| ServerError::Tls(format!("{}: {error}", path.display())))?;
        Ok::<_, ServerError>(pem)
    };
    let mut tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(read_certificates(cert)?, read(key)?))
        .timeout(TLS_HANDSHAKE_TIMEOUT);
    if let Some(ca) = &config.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read_certificates(ca)?));
    }
    Ok(Some(tls))
}
