//! A Rust client for the eventstream server: the generated gRPC client plus the three things that
//! are hard to get right by hand, with the same behaviour as the Python and TypeScript clients in
//! `clients/`:
//!
//! 1. [`Client::publish`] with exactly-once effect: every event gets an idempotency key (a UUID v4
//!    unless the caller set one) before the first attempt, and transient failures (UNAVAILABLE,
//!    DEADLINE_EXCEEDED, a lost connection) are retried with backoff re-sending the same keys, so a
//!    retry after a lost reply is answered with the original offsets and `duplicate = true`
//!    instead of appending again. [`Client::publisher`] does the same for many publishes in
//!    flight on one PublishStream, appended in the order sent.
//! 2. [`Client::subscribe`] returns a [`Subscription`] whose [`Subscription::next`] reconnects
//!    with backoff after a dropped connection or a server restart and resumes from the last
//!    `next_offset` received: no event lost, none repeated.
//! 3. [`DurableConsumer`] stores its position and the ids of processed events in a sled tree,
//!    committed atomically with the handler's own state changes, so a consumer that crashes
//!    mid-event neither skips an event nor handles one twice.
//!
//! ```no_run
//! # async fn demo() -> Result<(), eventstream::client::ClientError> {
//! use eventstream::client::{Client, SubscribeOptions, event};
//!
//! let client = Client::connect_lazy("http://127.0.0.1:50051")?;
//! let published = client.publish("orders", vec![event("OrderPlaced", &b"{\"id\":1}"[..])]).await?;
//! println!("offset {} key {}", published[0].offset, published[0].idempotency_key);
//!
//! let mut orders = client.subscribe(SubscribeOptions::new("orders").stop_at_end(true));
//! while let Some(event) = orders.next().await? {
//!     println!("{} {} (resume at {:?})", event.offset, event.r#type, orders.position());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The connection is made lazily by the first call and re-made after any failure, so a client
//! can be created before the server is up and outlives server restarts.
//!
//! A server that requires TLS and a token is reached through the builder:
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventstream::client::Client;
//!
//! let client = Client::builder("https://events.example.com:50051")
//!     .ca_certificate(std::fs::read("ca.pem")?)      // omit to trust the system's CAs
//!     .client_identity(std::fs::read("client.pem")?, std::fs::read("client.key")?) // mTLS only
//!     .token(std::env::var("EVENTSTREAM_TOKEN")?)
//!     .connect_lazy()?;
//! # Ok(())
//! # }
//! ```

mod consumer;
mod error;
pub mod fault;
mod group;
mod publisher;
mod retry;
mod subscription;

use std::future::Future;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};
use tower::util::BoxCloneSyncService;

use crate::pb;
use crate::pb::event_stream_service_client::EventStreamServiceClient;

pub use consumer::{DurableConsumer, RunUntil, StagedState, StateEntry};
pub use error::{BoxError, ClientError};
pub use group::{GroupConsumer, GroupOptions, GroupRunStats};
pub use publisher::{PUBLISHER_WINDOW, PendingPublish, Publisher};
pub use retry::RetryPolicy;
pub use subscription::{Batch, StartAt, SubscribeOptions, Subscription};

/// The HTTP/2 service calls go through: a tonic channel, possibly wrapped in layers added with
/// [`ClientBuilder::layer`].
pub type Transport = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    TransportError,
>;

/// A failure below gRPC: connecting, HTTP/2, or a transport layer. Calls report it as a status
/// whose source is this error; a lost connection counts as transient.
#[derive(Debug)]
pub struct TransportError(BoxError);

impl TransportError {
    /// Wraps `error` (once: a `TransportError` is taken as it is).
    pub fn new(error: impl Into<BoxError>) -> Self {
        match error.into().downcast::<TransportError>() {
            Ok(error) => *error,
            Err(error) => Self(error),
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

// A concrete error type rather than `BoxError` itself: with a boxed trait object as the
// transport's error, rustc cannot prove the call futures `Send` (its higher-ranked lifetime
// check on `From<Box<dyn Error>>` fails), so a publish could not be spawned.
impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

type Wrapper = Box<dyn FnOnce(Transport) -> Transport + Send>;

/// A new event with a type and a payload; set the other fields with struct update syntax.
pub fn event(event_type: impl Into<String>, payload: impl Into<Bytes>) -> pb::EventData {
    pb::EventData {
        r#type: event_type.into(),
        payload: payload.into(),
        ..Default::default()
    }
}

/// Where one published event went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The event's offset (the original one when `duplicate`).
    pub offset: u64,
    /// The server-assigned event id, a UUID v7 (the original one when `duplicate`).
    pub id: String,
    /// The append time (the original one when `duplicate`).
    pub time: SystemTime,
    /// True if the server already had this idempotency key and did not append again. After a
    /// retry this can be the client's own earlier attempt whose reply was lost.
    pub duplicate: bool,
    /// The idempotency key that was sent: the caller's, or the UUID v4 the client assigned.
    pub idempotency_key: String,
    /// The event's version within its key; `None` without a key.
    pub key_version: Option<u64>,
}

/// A new topic's settings; the defaults keep events forever with the server's dedup window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSettings {
    /// Remove events older than this.
    pub retention_age: Option<Duration>,
    /// Keep at most this many events.
    pub retention_events: Option<u64>,
    /// Keep at most this many stored bytes.
    pub retention_bytes: Option<u64>,
    /// Remember idempotency keys this long; `None` for the server's default.
    pub dedup_window: Option<Duration>,
}

impl From<TopicSettings> for pb::TopicConfig {
    fn from(settings: TopicSettings) -> Self {
        pb::TopicConfig {
            retention_age: settings.retention_age.map(proto_duration),
            retention_events: settings.retention_events.unwrap_or(0),
            retention_bytes: settings.retention_bytes.unwrap_or(0),
            dedup_window: settings.dedup_window.map(proto_duration),
        }
    }
}

impl From<&pb::TopicConfig> for TopicSettings {
    /// Reads a topic's settings back; zero limits mean "no limit", like unset ones.
    fn from(config: &pb::TopicConfig) -> Self {
        let duration = |value: Option<prost_types::Duration>| {
            value
                .and_then(|value| Duration::try_from(value).ok())
                .filter(|value| !value.is_zero())
        };
        TopicSettings {
            retention_age: duration(config.retention_age),
            retention_events: Some(config.retention_events).filter(|&events| events > 0),
            retention_bytes: Some(config.retention_bytes).filter(|&bytes| bytes > 0),
            dedup_window: duration(config.dedup_window),
        }
    }
}

fn proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

/// Converts a protobuf time to a [`SystemTime`] (the epoch for a missing or invalid one).
pub fn system_time(timestamp: Option<&prost_types::Timestamp>) -> SystemTime {
    timestamp
        .and_then(|timestamp| SystemTime::try_from(*timestamp).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Configures a [`Client`]: retry policies, connection timeout, TLS, token, transport layers.
pub struct ClientBuilder {
    server: String,
    publish_retry: RetryPolicy,
    reconnect: RetryPolicy,
    connect_timeout: Duration,
    ca_certificate: Option<Vec<u8>>,
    client_identity: Option<(Vec<u8>, Vec<u8>)>,
    token: Option<String>,
    wrappers: Vec<Wrapper>,
}

impl ClientBuilder {
    /// The policy for publishes and topic calls ([`RetryPolicy::PUBLISH`] by default).
    pub fn publish_retry(mut self, policy: RetryPolicy) -> Self {
        self.publish_retry = policy;
        self
    }

    /// The policy for subscription reconnects ([`RetryPolicy::RECONNECT`] by default).
    pub fn reconnect(mut self, policy: RetryPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// How long one TCP connection attempt may take (5 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the CA certificate(s) in `pem` (PEM) for an `https://` server, instead of the
    /// system's CA certificates.
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate = Some(pem.into());
        self
    }

    /// Presents this certificate chain and private key (PEM) to an `https://` server that
    /// requires client certificates.
    pub fn client_identity(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Sends `token` with every call, as the metadata `authorization: Bearer <token>`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Wraps the transport in a tower layer (metadata, metrics, or [`fault::LoseReplies`] to
    /// test retries). Layers added later wrap the earlier ones. An error a layer returns counts
    /// as a transport failure, which is retried like a lost connection.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Transport> + Send + 'static,
        L::Service: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Error: Into<BoxError>,
        <L::Service as tower::Service<http::Request<tonic::body::Body>>>::Future: Send + 'static,
    {
        self.wrappers.push(Box::new(move |transport| {
            BoxCloneSyncService::new(tower::ServiceExt::map_err(
                layer.layer(transport),
                TransportError::new,
            ))
        }));
        self
    }

    /// Builds the client without connecting: the first call connects, and every call after a
    /// failure reconnects.
    ///
    /// Fails if the address is invalid, if TLS settings were given for a plaintext `http://`
    /// address (they would silently not apply), or if the token cannot be sent as metadata.
    pub fn connect_lazy(self) -> Result<Client, ClientError> {
        let uri = if self.server.contains("://") {
            self.server.clone()
        } else {
            format!("http://{}", self.server)
        };
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|error| ClientError::InvalidServerAddress {
                address: self.server.clone(),
                reason: error.to_string(),
            })?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            // Pings detect a dead connection under an idle subscription, which would otherwise
            // wait for events forever.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        if let Some(pem) = &self.ca_certificate {
            crate::tls::check_certificates(pem)
                .map_err(|error| ClientError::Tls(format!("CA certificate: {error}")))?;
        }
        if endpoint.uri().scheme_str() == Some("https") {
            endpoint = endpoint
                .tls_config(self.tls_config())
                .map_err(|error| ClientError::Tls(crate::errors::with_causes(&error)))?;
        } else if self.ca_certificate.is_some() || self.client_identity.is_some() {
            return Err(ClientError::Tls(format!(
                "a CA or client certificate was given for {:?}, which is not an https:// address",
                self.server
            )));
        }
        let authorization = self.token.as_deref().map(bearer).transpose()?;
        let channel = tower::ServiceExt::map_request(
            endpoint.connect_lazy(),
            move |mut request: http::Request<tonic::body::Body>| {
                if let Some(value) = &authorization {
                    request
                        .headers_mut()
                        .insert(http::header::AUTHORIZATION, value.clone());
                }
                request
            },
        );
        let base =
            BoxCloneSyncService::new(tower::ServiceExt::map_err(channel, TransportError::new));
        let transport = self
            .wrappers
            .into_iter()
            .fold(base, |transport, wrap| wrap(transport));
        Ok(Client {
            grpc: EventStreamServiceClient::new(transport).max_decoding_message_size(usize::MAX),
            server: self.server,
            publish_retry: self.publish_retry,
            reconnect: self.reconnect,
        })
    }
}

impl ClientBuilder {
    fn tls_config(&self) -> ClientTlsConfig {
        let tls = match &self.ca_certificate {
            Some(pem) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        match &self.client_identity {
            Some((cert, key)) => tls.identity(Identity::from_pem(cert, key)),
            None => tls,
        }
    }
}

/// The `authorization` value carrying `token`, marked sensitive so HTTP tooling hides it.
fn bearer(token: &str) -> Result<http::HeaderValue, ClientError> {
    let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.trim()))
        .map_err(|_| ClientError::InvalidToken)?;
    value.set_sensitive(true);
    Ok(value)
}

/// A client for one eventstream server. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Client {
    grpc: EventStreamServiceClient<Transport>,
    server: String,
    publish_retry: RetryPolicy,
    reconnect: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `server` (`http://host:port` or `host:port` for plaintext, `https://host:port`
    /// for TLS trusting the system's CAs) with default settings, connecting on first use.
    pub fn connect_lazy(server: &str) -> Result<Self, ClientError> {
        Self::builder(server).connect_lazy()
    }

    /// A builder for a client of `server` with non-default settings.
    pub fn builder(server: &str) -> ClientBuilder {
        ClientBuilder {
            server: server.to_string(),
            publish_retry: RetryPolicy::PUBLISH,
            reconnect: RetryPolicy::RECONNECT,
            connect_timeout: Duration::from_secs(5),
            ca_certificate: None,
            client_identity: None,
            token: None,
            wrappers: Vec::new(),
        }
    }

    /// The server address as given.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The generated gRPC client, for calls this layer does not wrap.
    pub fn grpc(&self) -> EventStreamServiceClient<Transport> {
        self.grpc.clone()
    }

    /// Appends `events` to `topic`, all or nothing, contiguously, in order, with exactly-once
    /// effect (see the module documentation). Returns one result per event, in order.
    ///
    /// Fails with [`ClientError::Unavailable`] when the retry budget runs out: the events may or
    /// may not have been appended then. To settle that later, give events your own idempotency
    /// keys and publish them again with the same keys.
    pub async fn publish(
        &self,
        topic: &str,
        events: Vec<pb::EventData>,
    ) -> Result<Vec<Published>, ClientError> {
        self.publish_with(topic, events, &self.publish_retry).await
    }

    /// [`Client::publish`] with a retry policy for this call only.
    pub async fn publish_with(
        &self,
        topic: &str,
        events: Vec<pb::EventData>,
        policy: &RetryPolicy,
    ) -> Result<Vec<Published>, ClientError> {
        let request = pb::PublishRequest {
            topic: topic.to_string(),
            events,
            ..Default::default()
        };
        self.publish_request_with(request, policy).await
    }

    /// Publishes a whole request: events with expectations (`expected_next_offset`, per-event
    /// `expected_key_version`) and a cursor to move, with the same exactly-once retries as
    /// [`Client::publish`]. A retry of a request whose reply was lost comes back as duplicates,
    /// not as a conflict. A failed expectation is [`ClientError::Conflict`].
    pub async fn publish_request(
        &self,
        request: pb::PublishRequest,
    ) -> Result<Vec<Published>, ClientError> {
        self.publish_request_with(request, &self.publish_retry)
            .await
    }

    /// [`Client::publish_request`] with a retry policy for this call only.
    pub async fn publish_request_with(
        &self,
        mut request: pb::PublishRequest,
        policy: &RetryPolicy,
    ) -> Result<Vec<Published>, ClientError> {
        let keys = assign_idempotency_keys(&mut request);
        let what = format!("Publish to {:?}", request.topic);
        let response = self
            .call(policy, &what, request, |mut grpc, request| async move {
                grpc.publish(request).await
            })
            .await?;
        published(response.results, keys)
    }

    /// A [`Publisher`]: publishes pipelined on one PublishStream, appended in the order sent,
    /// each answered once durable, with this client's publish retry policy. Where awaiting each
    /// publish before the next is what an application needs, it is also faster than
    /// [`Client::publish`]: no HTTP/2 stream, headers and trailers per publish.
    pub fn publisher(&self) -> Publisher {
        Publisher::start(self.grpc.clone(), self.publish_retry.clone())
    }

    /// A subscription that reconnects and resumes by itself; see [`Subscription`].
    pub fn subscribe(&self, options: SubscribeOptions) -> Subscription {
        Subscription::new(self.grpc.clone(), options, self.reconnect.clone())
    }

    /// Creates a topic. A retry after a lost reply reports [`ClientError::AlreadyExists`].
    pub async fn create_topic(
        &self,
        name: &str,
        settings: TopicSettings,
    ) -> Result<pb::Topic, ClientError> {
        let request = pb::CreateTopicRequest {
            name: name.to_string(),
            config: Some(settings.into()),
        };
        let what = format!("CreateTopic {name:?}");
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.create_topic(request).await },
            )
            .await?;
        topic_of(response.topic)
    }

    /// Describes one topic; [`ClientError::NotFound`] if it does not exist.
    pub async fn get_topic(&self, name: &str) -> Result<pb::Topic, ClientError> {
        let request = pb::GetTopicRequest {
            name: name.to_string(),
        };
        let what = format!("GetTopic {name:?}");
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.get_topic(request).await },
            )
            .await?;
        topic_of(response.topic)
    }

    /// The position of cursor `name` of `topic`; `None` if it was never set. Everything
    /// published with the cursor is durable and readable by the time this returns.
    pub async fn get_cursor(&self, topic: &str, name: &str) -> Result<Option<u64>, ClientError> {
        let request = pb::GetCursorRequest {
            topic: topic.to_string(),
            name: name.to_string(),
        };
        let what = format!("GetCursor {topic:?} {name:?}");
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.get_cursor(request).await },
            )
            .await;
        match response {
            Ok(response) => Ok(response.cursor.map(|cursor| cursor.position)),
            // No such topic yet: its cursors were never set either.
            Err(ClientError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every topic, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<pb::Topic>, ClientError> {
        let request = pb::ListTopicsRequest {};
        let response = self
            .call(
                &self.publish_retry,
                "ListTopics",
                request,
                |mut grpc, request| async move { grpc.list_topics(request).await },
            )
            .await?;
        Ok(response.topics)
    }

    /// Deletes a topic with its events. A retry after a lost reply reports
    /// [`ClientError::NotFound`].
    pub async fn delete_topic(&self, name: &str) -> Result<(), ClientError> {
        let request = pb::DeleteTopicRequest {
            name: name.to_string(),
        };
        let what = format!("DeleteTopic {name:?}");
        self.call(
            &self.publish_retry,
            &what,
            request,
            |mut grpc, request| async move { grpc.delete_topic(request).await },
        )
        .await?;
        Ok(())
    }

    /// Creates a consumer group. A retry after a lost reply reports
    /// [`ClientError::AlreadyExists`].
    pub async fn create_group(
        &self,
        request: pb::CreateConsumerGroupRequest,
    ) -> Result<pb::ConsumerGroup, ClientError> {
        let what = format!("CreateConsumerGroup {:?} {:?}", request.topic, request.name);
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.create_consumer_group(request).await },
            )
            .await?;
        group_of(response.group)
    }

    /// Describes one consumer group; [`ClientError::NotFound`] if it does not exist.
    pub async fn get_group(
        &self,
        topic: &str,
        name: &str,
    ) -> Result<pb::ConsumerGroup, ClientError> {
        let request = pb::GetConsumerGroupRequest {
            topic: topic.to_string(),
            name: name.to_string(),
        };
        let what = format!("GetConsumerGroup {topic:?} {name:?}");
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.get_consumer_group(request).await },
            )
            .await?;
        group_of(response.group)
    }

    /// Every consumer group of `topic`, sorted by name.
    pub async fn list_groups(&self, topic: &str) -> Result<Vec<pb::ConsumerGroup>, ClientError> {
        let request = pb::ListConsumerGroupsRequest {
            topic: topic.to_string(),
        };
        let what = format!("ListConsumerGroups {topic:?}");
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.list_consumer_groups(request).await },
            )
            .await?;
        Ok(response.groups)
    }

    /// Moves a consumer group without connected members to a new position.
    pub async fn reset_group(
        &self,
        request: pb::ResetConsumerGroupRequest,
    ) -> Result<pb::ConsumerGroup, ClientError> {
        let what = format!("ResetConsumerGroup {:?} {:?}", request.topic, request.name);
        let response = self
            .call(
                &self.publish_retry,
                &what,
                request,
                |mut grpc, request| async move { grpc.reset_consumer_group(request).await },
            )
            .await?;
        group_of(response.group)
    }

    /// Deletes a consumer group. A retry after a lost reply reports [`ClientError::NotFound`].
    pub async fn delete_group(&self, topic: &str, name: &str) -> Result<(), ClientError> {
        let request = pb::DeleteConsumerGroupRequest {
            topic: topic.to_string(),
            name: name.to_string(),
        };
        let what = format!("DeleteConsumerGroup {topic:?} {name:?}");
        self.call(
            &self.publish_retry,
            &what,
            request,
            |mut grpc, request| async move { grpc.delete_consumer_group(request).await },
        )
        .await?;
        Ok(())
    }

    /// Makes the unary call `rpc` with `message`, retried under `policy`.
    async fn call<M, R, F, Fut>(
        &self,
        policy: &RetryPolicy,
        what: &str,
        message: M,
        rpc: F,
    ) -> Result<R, ClientError>
    where
        M: Clone,
        F: Fn(EventStreamServiceClient<Transport>, Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        retry::with_retry(policy, what, |deadline| {
            rpc(self.grpc.clone(), with_deadline(message.clone(), deadline))
        })
        .await
        .map(tonic::Response::into_inner)
    }
}

/// Gives each event of `request` without an idempotency key a UUID v4, and returns every event's
/// key: fixed before the first attempt, since every retry must carry the same ones.
fn assign_idempotency_keys(request: &mut pb::PublishRequest) -> Vec<String> {
    for event in &mut request.events {
        if event.idempotency_key.is_empty() {
            event.idempotency_key = uuid::Uuid::new_v4().to_string();
        }
    }
    request
        .events
        .iter()
        .map(|event| event.idempotency_key.clone())
        .collect()
}

/// What a publish of events with idempotency keys `keys` returned as `results`.
fn published(
    results: Vec<pb::PublishResult>,
    keys: Vec<String>,
) -> Result<Vec<Published>, ClientError> {
    if results.len() != keys.len() {
        return Err(ClientError::Protocol(format!(
            "{} results for {} events",
            results.len(),
            keys.len()
        )));
    }
    Ok(results
        .into_iter()
        .zip(keys)
        .map(|(result, idempotency_key)| Published {
            offset: result.offset,
            id: result.id,
            time: system_time(result.time.as_ref()),
            duplicate: result.duplicate,
            idempotency_key,
            key_version: result.key_version,
        })
        .collect())
}

/// A request carrying `deadline` as its `grpc-timeout`, so the server drops work the client
/// has stopped waiting for.
fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

fn group_of(group: Option<pb::ConsumerGroup>) -> Result<pb::ConsumerGroup, ClientError> {
    group.ok_or_else(|| ClientError::Protocol("a group response without its group".to_string()))
}

fn topic_of(topic: Option<pb::Topic>) -> Result<pb::Topic, ClientError> {
    topic.ok_or_else(|| ClientError::Protocol("a topic response without its topic".to_string()))
}
