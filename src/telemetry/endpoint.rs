//! The `/metrics` endpoint: the Prometheus recorder, and a small HTTP/1 server that renders it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{
    GROUP_DEAD_LETTERED, GROUP_IN_FLIGHT, GROUP_LAG, GROUP_MEMBERS, GROUP_REDELIVERIES,
    GROUP_STUCK, HISTOGRAMS, SUBSCRIBER_LAG, SUBSCRIPTIONS, TOPIC_FIRST_OFFSET, TOPIC_NEXT_OFFSET,
    TOPIC_STORED_BYTES, describe,
};
use crate::engine::Broker;

/// How often recorded histogram samples are folded into their buckets between scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long to wait before accepting again after the listener failed (e.g. out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why metrics could not be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The metrics address could not be bound.
    #[error("cannot listen for metrics on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The recorder could not be set up (for instance, another one is installed).
    #[error("setting up the metrics recorder: {0}")]
    Recorder(#[from] BuildError),
}

/// The process's Prometheus recorder, installed on first use: the `metrics` facade takes one
/// global recorder, so servers sharing a process (as tests do) share it.
fn recorder() -> Result<PrometheusHandle, BuildError> {
    static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let mut builder = PrometheusBuilder::new()
        // Gauges are all set at scrape time, so one this scrape did not set belongs to a deleted
        // topic: dropping idle gauges at once removes the deleted topic's series.
        .idle_timeout(MetricKindMask::GAUGE, Some(Duration::ZERO));
    for (name, buckets) in HISTOGRAMS {
        builder = builder.set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(name.to_string()),
            buckets,
        )?;
    }
    let handle = builder.install_recorder()?;
    describe();
    *installed = Some(handle.clone());
    Ok(handle)
}

/// Renders the metrics, with the gauges set from the broker's current state.
struct Scrape {
    handle: PrometheusHandle,
    broker: Arc<Broker>,
    /// Setting the gauges and rendering must not interleave with another scrape's, or one
    /// scrape's render could find the gauges the other set stale and drop them.
    rendering: Mutex<()>,
}

impl Scrape {
    fn render(&self) -> String {
        let _rendering = self
            .rendering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for stats in self.broker.topic_stats() {
            let topic = stats.info.name.to_string();
            let bounds = stats.info.bounds;
            gauge!(TOPIC_FIRST_OFFSET, "topic" => topic.clone()).set(bounds.first_offset as f64);
            gauge!(TOPIC_NEXT_OFFSET, "topic" => topic.clone()).set(bounds.next_offset as f64);
            gauge!(TOPIC_STORED_BYTES, "topic" => topic.clone()).set(bounds.size_bytes as f64);
            gauge!(SUBSCRIPTIONS, "topic" => topic.clone()).set(stats.subscriptions as f64);
            gauge!(SUBSCRIBER_LAG, "topic" => topic).set(stats.max_lag as f64);
        }
        for (topic, group, gauges) in self.broker.group_gauges() {
            let labels = [("topic", topic.to_string()), ("group", group.to_string())];
            gauge!(GROUP_LAG, &labels).set(gauges.lag as f64);
            gauge!(GROUP_IN_FLIGHT, &labels).set(gauges.in_flight as f64);
            gauge!(GROUP_MEMBERS, &labels).set(gauges.members as f64);
            gauge!(GROUP_STUCK, &labels).set(f64::from(u8::from(gauges.stuck)));
            counter!(GROUP_REDELIVERIES, &labels).absolute(gauges.counters.redeliveries);
            counter!(GROUP_DEAD_LETTERED, &labels).absolute(gauges.counters.dead_lettered);
        }
        self.handle.render()
    }
}

/// A bound metrics address, serving once [`MetricsEndpoint::start`]ed.
pub struct MetricsEndpoint {
    listener: TcpListener,
    address: SocketAddr,
    handle: PrometheusHandle,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl MetricsEndpoint {
    /// Installs the recorder and binds `address`; call before the broker opens, so every metric
    /// handle the engine takes is the recorder's.
    pub async fn bind(address: SocketAddr) -> Result<Self, MetricsError> {
        let handle = recorder()?;
        let listen_error = |source| MetricsError::Listen { address, source };
        let listener = TcpListener::bind(address).await.map_err(listen_error)?;
        let address = listener.local_addr().map_err(listen_error)?;
        Ok(Self {
            listener,
            address,
            handle,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves `GET /metrics` until [`MetricsServer::stop`].
    pub fn start(self, broker: Arc<Broker>) -> MetricsServer {
        let Self {
            listener,
            address: _,
            handle,
            stop,
            tasks,
        } = self;
        let scrape = Arc::new(Scrape {
            handle: handle.clone(),
            broker,
            rendering: Mutex::new(()),
        });
        tasks.spawn(upkeep(handle, stop.clone()));
        tasks.spawn(accept(listener, scrape, stop.clone(), tasks.clone()));
        MetricsServer { stop, tasks }
    }
}

/// A serving metrics endpoint.
pub struct MetricsServer {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl MetricsServer {
    /// Stops accepting, finishes the scrapes in progress and closes every connection.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for MetricsServer {
    /// A server that fails stops its endpoint too, if without waiting for it.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    let mut interval = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = interval.tick() => handle.run_upkeep(),
            () = stop.cancelled() => return,
        }
    }
}

async fn accept(
    listener: TcpListener,
    scrape: Arc<Scrape>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tasks.spawn(connection(stream, Arc::clone(&scrape), stop.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics endpoint: accepting a connection failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, scrape: Arc<Scrape>, stop: CancellationToken) {
    let service = service_fn(move |request| {
        let scrape = Arc::clone(&scrape);
        async move { Ok::<_, Infallible>(respond(&request, &scrape)) }
    });
    let served = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = result {
        // A scraper hanging up mid-response is its business, not the server's.
        tracing::debug!(%error, "metrics connection ended with an error");
    }
}

fn respond(request: &Request<Incoming>, scrape: &Scrape) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if request.uri().path() != "/metrics" {
        (
            StatusCode::NOT_FOUND,
            "text/plain",
            "only /metrics is served here\n".into(),
        )
    } else if request.method() != Method::GET {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "use GET\n".into(),
        )
    } else {
        (StatusCode::OK, CONTENT_TYPE, scrape.render())
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
