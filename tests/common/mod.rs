//! Test harness: the real server on an ephemeral port with a temporary data directory, driven
//! through the generated tonic client.
#![allow(dead_code)]

pub mod certs;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventstream::client::RetryPolicy;
use eventstream::config::Config;
use eventstream::pb;
use eventstream::pb::event_stream_service_client::EventStreamServiceClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The generated client.
pub type Client = EventStreamServiceClient<Channel>;

/// Default bound on any single await in a test.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than `TIMEOUT`.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("timed out")
}

/// A server running inside the test process on 127.0.0.1:0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub config: Config,
    data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), eventstream::server::ServerError>>>,
}

impl TestServer {
    /// Starts a server with default settings on a fresh data directory.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server on a fresh data directory, with settings adjusted by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(data_dir.path());
        adjust(&mut config);
        Self::launch(data_dir, config).await
    }

    async fn launch(data_dir: tempfile::TempDir, mut config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        config.listen = addr;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(eventstream::server::run(listener, config.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            config,
            data_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// Graceful shutdown; waits until the server has stopped.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            within(task)
                .await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// Graceful shutdown, then a new server on the same data directory and settings.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        let config = self.config.clone();
        let data_dir =
            std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        Self::launch(data_dir, config).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Connects a client to `addr`, retrying while the server starts (bounded by `TIMEOUT`).
pub async fn connect(addr: SocketAddr) -> Client {
    EventStreamServiceClient::new(channel(addr).await).max_decoding_message_size(64 * 1024 * 1024)
}

/// A connection to `addr` for any generated client, retrying while the server starts (bounded by
/// `TIMEOUT`).
pub async fn channel(addr: SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("http://{addr}")).expect("endpoint");
    within(async {
        loop {
            match endpoint.connect().await {
                Ok(channel) => return channel,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
}

/// Retries of the Rust client quick enough for tests, patient enough for a server restart.
pub const TEST_RETRY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(200),
    max_attempts: None,
    total_timeout: Some(Duration::from_secs(20)),
    ..RetryPolicy::PUBLISH
};

/// A Rust client (`eventstream::client`) of `server`, retrying with [`TEST_RETRY`].
pub fn client_of(server: &ChildServer) -> eventstream::client::Client {
    eventstream::client::Client::builder(&format!("http://{}", server.addr))
        .publish_retry(TEST_RETRY)
        .reconnect(TEST_RETRY)
        .connect_lazy()
        .expect("client")
}

/// The server binary, run as a child process (for kill -9 and signal tests).
pub struct ChildServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    child: tokio::process::Child,
    /// Every line the server wrote to stderr so far.
    log: Arc<Mutex<Vec<String>>>,
    /// Ends when the server's stderr does.
    log_reader: JoinHandle<()>,
}

impl ChildServer {
    /// Starts `eventstream serve` on 127.0.0.1:0 with `data_dir` and extra `args`, and waits
    /// for its "listening on" line.
    pub async fn start(data_dir: &Path, args: &[&str]) -> Self {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], 0)), data_dir, args).await
    }

    /// Starts `eventstream serve` listening on `listen` (a killed server's `addr` restarts it
    /// where its clients reconnect) with `data_dir` and extra `args`.
    pub async fn start_at(listen: SocketAddr, data_dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(listen, data_dir, args, &[]).await
    }

    /// Starts `eventstream serve` like [`ChildServer::start_at`], with extra environment
    /// variables (`RUST_LOG` is `info` unless given).
    pub async fn start_with_env(
        listen: SocketAddr,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        match Self::try_start_with_env(listen, data_dir, args, env).await {
            Ok(server) => server,
            Err(output) => panic!("server exited before listening:\n{output}"),
        }
    }

    /// Like [`ChildServer::start`], but a server that exits before listening is an `Err` with
    /// its exit status and everything it logged.
    pub async fn try_start(data_dir: &Path, args: &[&str]) -> Result<Self, String> {
        Self::try_start_with_env(SocketAddr::from(([127, 0, 0, 1], 0)), data_dir, args, &[]).await
    }

    async fn try_start_with_env(
        listen: SocketAddr,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
            .arg("serve")
            .arg(format!("--listen={listen}"))
            .arg(format!("--data-dir={}", data_dir.display()))
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn server binary");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = within(async {
            while let Some(line) = lines.next_line().await.expect("read stderr") {
                let addr = line
                    .split("listening on ")
                    .nth(1)
                    .and_then(|rest| rest.split(',').next())
                    .map(|addr| addr.parse::<SocketAddr>().expect("parse address"));
                log.lock().expect("log").push(line);
                if let Some(addr) = addr {
                    return Some(addr);
                }
            }
            None
        })
        .await;
        let Some(addr) = addr else {
            let status = within(child.wait()).await.expect("wait");
            let logged = log.lock().expect("log").join("\n");
            return Err(format!("{status}\n{logged}"));
        };
        // Keep draining stderr so the child never blocks on a full pipe.
        let log_reader = tokio::spawn({
            let log = Arc::clone(&log);
            async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    log.lock().expect("log").push(line);
                }
            }
        });
        Ok(Self {
            addr,
            data_dir: data_dir.to_path_buf(),
            child,
            log,
            log_reader,
        })
    }

    /// The lines the server wrote to stderr so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// A new client connection.
    pub async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("kill");
        within(self.child.wait()).await.expect("wait");
    }

    /// Sends SIGTERM and returns the exit status, failing if it takes longer than `limit`.
    pub async fn terminate(self, limit: Duration) -> std::process::ExitStatus {
        self.terminate_with_log(limit).await.0
    }

    /// Sends SIGTERM and returns the exit status and every line the server wrote to stderr,
    /// failing if it takes longer than `limit` to exit.
    pub async fn terminate_with_log(
        mut self,
        limit: Duration,
    ) -> (std::process::ExitStatus, Vec<String>) {
        let pid = i32::try_from(self.pid()).expect("pid");
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("server did not exit in time")
            .expect("wait");
        within(self.log_reader).await.expect("log reader");
        let log = std::mem::take(&mut *self.log.lock().expect("log"));
        (status, log)
    }

    /// Resident memory of the process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }
}

/// An event with a type and payload.
pub fn event(event_type: &str, payload: impl Into<Vec<u8>>) -> pb::EventData {
    pb::EventData {
        r#type: event_type.to_string(),
        payload: payload.into().into(),
        ..Default::default()
    }
}

/// Publishes `events` to `topic` and returns the results.
pub async fn publish(
    client: &mut Client,
    topic: &str,
    events: Vec<pb::EventData>,
) -> Vec<pb::PublishResult> {
    within(client.publish(pb::PublishRequest {
        topic: topic.to_string(),
        events,
        ..Default::default()
    }))
    .await
    .expect("publish")
    .into_inner()
    .results
}

/// Subscribes with `request` and returns the response stream.
pub async fn subscribe(
    client: &mut Client,
    request: pb::SubscribeRequest,
) -> tonic::Streaming<pb::SubscribeResponse> {
    within(client.subscribe(request))
        .await
        .expect("subscribe")
        .into_inner()
}

/// A subscribe request for `topic` from `offset`.
pub fn from_offset(topic: &str, offset: u64) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(pb::subscribe_request::Start::FromOffset(offset)),
        ..Default::default()
    }
}

/// Reads responses until `count` events have arrived; returns the events and the last response.
pub async fn collect_events(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
    count: usize,
) -> (Vec<pb::Event>, pb::SubscribeResponse) {
    within(async {
        let mut events = Vec::new();
        loop {
            let response = stream
                .message()
                .await
                .expect("stream item")
                .expect("stream open");
            events.extend(response.events.iter().cloned());
            if events.len() >= count {
                return (events, response);
            }
        }
    })
    .await
}

/// Reads a `stop_at_end` stream to its end; returns every response.
pub async fn read_to_end(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
) -> Vec<pb::SubscribeResponse> {
    within(async {
        let mut responses = Vec::new();
        while let Some(response) = stream.message().await.expect("stream item") {
            responses.push(response);
        }
        responses
    })
    .await
}

/// A `stop_at_end` subscribe request for `topic` from its oldest retained event.
pub fn earliest_to_end(topic: &str) -> pb::SubscribeRequest {
    pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(pb::subscribe_request::Start::Position(
            pb::StartPosition::Earliest as i32,
        )),
        stop_at_end: true,
        ..Default::default()
    }
}

/// Reads `topic` from its oldest retained event to the end of the log as it stands; returns the
/// events in order and the last response's `next_offset`.
pub async fn read_topic_to_end(client: &mut Client, topic: &str) -> (Vec<pb::Event>, u64) {
    let mut stream = subscribe(client, earliest_to_end(topic)).await;
    let responses = read_to_end(&mut stream).await;
    let next_offset = responses.last().map_or(0, |response| response.next_offset);
    let events = responses
        .into_iter()
        .flat_map(|response| response.events)
        .collect();
    (events, next_offset)
}

/// Resident memory of process `pid` in bytes, or `None` once it is gone.
pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kib * 1024)
}

/// Asserts that `result` is an error with `code`; returns the status.
pub fn expect_code<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got success: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// An event with a type, payload and idempotency key.
pub fn keyed_event(
    event_type: &str,
    payload: impl Into<Vec<u8>>,
    idempotency_key: &str,
) -> pb::EventData {
    pb::EventData {
        idempotency_key: idempotency_key.to_string(),
        ..event(event_type, payload)
    }
}

/// Publishes `events` to `topic` and returns the outcome, success or status.
pub async fn try_publish(
    client: &mut Client,
    topic: &str,
    events: Vec<pb::EventData>,
) -> Result<Vec<pb::PublishResult>, tonic::Status> {
    within(client.publish(pb::PublishRequest {
        topic: topic.to_string(),
        events,
        ..Default::default()
    }))
    .await
    .map(|response| response.into_inner().results)
}

/// Creates `name` with `config` and returns the created topic.
pub async fn create_topic(
    client: &mut Client,
    name: &str,
    config: Option<pb::TopicConfig>,
) -> pb::Topic {
    within(client.create_topic(pb::CreateTopicRequest {
        name: name.to_string(),
        config,
    }))
    .await
    .expect("create topic")
    .into_inner()
    .topic
    .expect("topic in response")
}

/// Describes `name`, outcome included.
pub async fn try_get_topic(client: &mut Client, name: &str) -> Result<pb::Topic, tonic::Status> {
    within(client.get_topic(pb::GetTopicRequest {
        name: name.to_string(),
    }))
    .await
    .map(|response| response.into_inner().topic.expect("topic in response"))
}

/// Describes `name`.
pub async fn get_topic(client: &mut Client, name: &str) -> pb::Topic {
    try_get_topic(client, name).await.expect("get topic")
}

/// Polls GetTopic (every 20 ms, bounded by `TIMEOUT`) until `done` holds; returns that topic.
pub async fn wait_for_topic(
    client: &mut Client,
    name: &str,
    mut done: impl FnMut(&pb::Topic) -> bool,
) -> pb::Topic {
    within(async {
        loop {
            let topic = get_topic(client, name).await;
            if done(&topic) {
                return topic;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Reads every retained event of `topic` with a `stop_at_end` subscription from EARLIEST.
pub async fn read_all(client: &mut Client, topic: &str) -> Vec<pb::Event> {
    let request = pb::SubscribeRequest {
        topic: topic.to_string(),
        start: Some(pb::subscribe_request::Start::Position(
            pb::StartPosition::Earliest as i32,
        )),
        stop_at_end: true,
        ..Default::default()
    };
    let mut stream = subscribe(client, request).await;
    read_to_end(&mut stream)
        .await
        .into_iter()
        .flat_map(|response| response.events)
        .collect()
}

/// The offsets of `events`, in order.
pub fn offsets_of(events: &[pb::Event]) -> Vec<u64> {
    events.iter().map(|event| event.offset).collect()
}

/// The next response of `stream`; fails the test if the stream ends or errors.
pub async fn next_response(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
) -> pb::SubscribeResponse {
    within(stream.message())
        .await
        .expect("stream item")
        .expect("stream open")
}

/// Subscribes with `request`, expecting the subscription to fail before it delivers any event
/// (at the call or as the stream's first item); returns the status.
pub async fn subscribe_error(client: &mut Client, request: pb::SubscribeRequest) -> tonic::Status {
    let mut stream = match within(client.subscribe(request)).await {
        Ok(response) => response.into_inner(),
        Err(status) => return status,
    };
    within(async {
        loop {
            match stream.message().await {
                Ok(Some(response)) => assert!(
                    response.events.is_empty(),
                    "expected an error, got events: {response:?}"
                ),
                Ok(None) => panic!("expected an error, the stream ended with OK"),
                Err(status) => return status,
            }
        }
    })
    .await
}

/// Reads a live stream to its end, after the `events` already received; returns all events and
/// the status it ended with.
pub async fn read_until_error(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
    mut events: Vec<pb::Event>,
) -> (Vec<pb::Event>, Option<tonic::Status>) {
    let ended = within(async {
        loop {
            match stream.message().await {
                Ok(Some(response)) => events.extend(response.events),
                Ok(None) => return None,
                Err(status) => return Some(status),
            }
        }
    })
    .await;
    (events, ended)
}

/// Asserts a stream delivered a gapless run of fewer than `limit` events from offset 0, then ended
/// with `code` (not OK).
pub fn assert_cut_short_with(
    events: &[pb::Event],
    ended: Option<tonic::Status>,
    limit: usize,
    code: tonic::Code,
) {
    assert!(events.len() < limit, "all {limit} events were delivered");
    assert_eq!(
        offsets_of(events),
        (0..events.len() as u64).collect::<Vec<_>>()
    );
    let status = ended.unwrap_or_else(|| {
        panic!(
            "live subscription ended with OK after {} events instead of {code:?}",
            events.len()
        )
    });
    assert_eq!(status.code(), code, "{status:?}");
}

/// Asserts GetTopic reports `topic`'s retained range as `first..next`.
pub async fn assert_topic_range(client: &mut Client, topic: &str, first: u64, next: u64) {
    let info = within(client.get_topic(pb::GetTopicRequest {
        name: topic.to_string(),
    }))
    .await
    .expect("get topic")
    .into_inner()
    .topic
    .expect("topic");
    assert_eq!(
        (info.first_offset, info.next_offset),
        (first, next),
        "{topic}: GetTopic range"
    );
}

/// Flips a bit in the middle of the stored record batch of `topic` that starts at `base`, in a
/// stopped server's data directory: in its segment file, found through the index in sled, so
/// only the batch's own checksum can tell.
pub fn damage_stored_batch(data_dir: &Path, topic: &str, base: u64) {
    /// The one field of the stored topic metadata needed here: the segment directory's name.
    #[derive(Clone, PartialEq, prost::Message)]
    struct StoredMeta {
        #[prost(string, tag = "6")]
        segments: String,
    }
    let (segment_dir, location) = {
        let db = sled::open(data_dir).expect("open sled");
        let tree = db.open_tree(format!("topic/{topic}")).expect("tree");
        let meta = tree.get(b"m").expect("get").expect("topic metadata");
        let meta = <StoredMeta as prost::Message>::decode(&meta[..]).expect("decode metadata");
        let mut key = vec![b'b'];
        key.extend_from_slice(&base.to_be_bytes());
        let location = tree
            .get(&key)
            .expect("get")
            .unwrap_or_else(|| panic!("no batch stored at offset {base}"));
        (meta.segments, location.to_vec())
    };
    let segment = u64::from_le_bytes(location[..8].try_into().expect("segment"));
    let position = u64::from_le_bytes(location[8..16].try_into().expect("position"));
    let len = u32::from_le_bytes(location[16..20].try_into().expect("len"));
    let path = data_dir
        .join("segments")
        .join(segment_dir)
        .join(format!("{segment:020}.seg"));
    let mut bytes = std::fs::read(&path).expect("read segment");
    bytes[(position + u64::from(len) / 2) as usize] ^= 0x04;
    std::fs::write(&path, bytes).expect("write segment");
}
