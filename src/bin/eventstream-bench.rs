//! Benchmark: runs the standard workloads against a fresh `eventstream` server per run and
//! prints one table (median and min–max of the runs, peak server RSS, disk bytes per event).
//!
//! `cargo run --release --bin eventstream-bench` for the full table; `--smoke` for tiny sizes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use eventstream::pb;
use eventstream::pb::event_stream_service_client::EventStreamServiceClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::transport::Channel;

type Client = EventStreamServiceClient<Channel>;
type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const PAYLOAD_BYTES: usize = 256;

const HEADER: &str = "| workload (256-byte payloads) | events/s (median) | min–max | peak server RSS MiB | notes |\n|---|---|---|---|---|";

#[derive(Parser, Clone)]
#[command(about = "Measures eventstream's throughput, latency, memory and disk use")]
struct Args {
    /// Tiny sizes, for checking that the benchmark still runs.
    #[arg(long)]
    smoke: bool,
    /// Runs per workload; the table shows the median and the range.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The server binary (default: `eventstream` beside this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Run only the workloads whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Extra arguments for `eventstream serve`.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

/// Event counts per workload.
struct Sizes {
    ack_each: u64,
    pipelined: u64,
    batched: u64,
    replay: u64,
    latency_secs: u64,
    fanout: u64,
    /// Events in the topic whose keys are read one at a time (100 per key).
    key_reads: u64,
    /// Events published per expected-version run.
    versioned: u64,
    /// Events a consumer group's members share.
    group: u64,
}

impl Sizes {
    fn new(smoke: bool) -> Self {
        if smoke {
            Self {
                ack_each: 50,
                pipelined: 2_000,
                batched: 20_000,
                replay: 20_000,
                latency_secs: 1,
                fanout: 10_000,
                key_reads: 20_000,
                versioned: 20_000,
                group: 10_000,
            }
        } else {
            Self {
                ack_each: 10_000,
                pipelined: 300_000,
                batched: 2_000_000,
                replay: 1_000_000,
                latency_secs: 5,
                fanout: 1_000_000,
                key_reads: 1_000_000,
                versioned: 1_000_000,
                group: 1_000_000,
            }
        }
    }
}

/// One run's outcome.
struct Sample {
    events_per_sec: f64,
    latency: Option<(Duration, Duration)>,
    peak_rss: u64,
    disk_per_event: Option<f64>,
}

/// A server child process on a fresh data directory.
struct Server {
    child: tokio::process::Child,
    addr: String,
    data_dir: tempfile::TempDir,
}

impl Server {
    async fn start(args: &Args) -> BenchResult<Self> {
        let data_dir = tempfile::tempdir()?;
        let bin = match &args.server_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe()?.with_file_name("eventstream"),
        };
        let mut child = tokio::process::Command::new(bin)
            .arg("serve")
            .arg("--listen=127.0.0.1:0")
            .arg(format!("--data-dir={}", data_dir.path().display()))
            .args(&args.server_arg)
            .env("RUST_LOG", "warn,eventstream=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await?
                .ok_or("server exited before listening")?;
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split(',').next().unwrap_or_default().to_string();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            addr,
            data_dir,
        })
    }

    async fn client(&self) -> BenchResult<Client> {
        Ok(
            EventStreamServiceClient::connect(format!("http://{}", self.addr))
                .await?
                .max_decoding_message_size(64 * 1024 * 1024),
        )
    }

    fn disk_bytes(&self) -> u64 {
        dir_size(self.data_dir.path())
    }
}

/// A process's peak resident memory so far (VmHWM), in bytes.
fn peak_rss(process: &tokio::process::Child) -> u64 {
    let Some(pid) = process.id() else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.metadata() {
                    Ok(meta) if meta.is_dir() => dir_size(&entry.path()),
                    Ok(meta) => meta.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A payload that starts with `sequence` (a number or a send time).
fn payload(sequence: u64) -> bytes::Bytes {
    let mut payload = vec![b'x'; PAYLOAD_BYTES];
    payload[..8].copy_from_slice(&sequence.to_le_bytes());
    payload.into()
}

/// The number a payload starts with.
fn payload_sequence(payload: &[u8]) -> BenchResult<u64> {
    Ok(u64::from_le_bytes(
        payload.get(..8).ok_or("payload too short")?.try_into()?,
    ))
}

fn event(sequence: u64, keyed: bool) -> pb::EventData {
    pb::EventData {
        r#type: "BenchEvent".into(),
        payload: payload(sequence),
        idempotency_key: if keyed {
            uuid::Uuid::new_v4().to_string()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

async fn publish(client: &mut Client, topic: &str, events: Vec<pb::EventData>) -> BenchResult<()> {
    client
        .publish(pb::PublishRequest {
            topic: topic.into(),
            events,
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// `tasks` publishers share `total` events in requests of `per_request`.
async fn publish_concurrently(
    server: &Server,
    topic: &str,
    total: u64,
    tasks: u64,
    per_request: u64,
    keyed: bool,
) -> BenchResult<Duration> {
    let client = server.client().await?;
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let mut client = client.clone();
        let counter = Arc::clone(&counter);
        let topic = topic.to_string();
        handles.push(tokio::spawn(async move {
            loop {
                let first = counter.fetch_add(per_request, Ordering::Relaxed);
                if first >= total {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(());
                }
                let events = (first..(first + per_request).min(total))
                    .map(|n| event(n, keyed))
                    .collect();
                publish(&mut client, &topic, events).await?;
            }
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(started.elapsed())
}

/// Reads `topic` from offset 0 until `count` events arrived.
async fn consume(
    mut client: Client,
    topic: String,
    count: u64,
    from_latest: bool,
) -> BenchResult<Duration> {
    let start = if from_latest {
        pb::subscribe_request::Start::Position(pb::StartPosition::Latest as i32)
    } else {
        pb::subscribe_request::Start::FromOffset(0)
    };
    let started = Instant::now();
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            topic,
            start: Some(start),
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut seen = 0;
    while seen < count {
        let response = stream.message().await?.ok_or("stream ended early")?;
        seen += response.events.len() as u64;
    }
    Ok(started.elapsed())
}

/// Events per key in the key-read workload.
const EVENTS_PER_KEY: u64 = 100;
/// Keys each publisher of the expected-version workloads writes to.
const KEYS_PER_PUBLISHER: u64 = 1_000;

/// 8 publishers share `total` keyed events in 100-event requests; each owns its keys and, with
/// `expect`, sends every event with the key version it expects (absent first, then the last
/// one), as an event-sourced application does.
async fn publish_versioned(server: &Server, total: u64, expect: bool) -> BenchResult<Duration> {
    const TASKS: u64 = 8;
    const PER_REQUEST: u64 = 100;
    use pb::precondition::Expected;
    let client = server.client().await?;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let mut client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut versions: std::collections::HashMap<u64, u64> = Default::default();
            let mut sent = 0;
            while sent < total / TASKS {
                let mut events = Vec::with_capacity(PER_REQUEST as usize);
                for _ in 0..PER_REQUEST {
                    let key = sent % KEYS_PER_PUBLISHER;
                    let expected = match versions.get(&key) {
                        Some(version) => Expected::Equals(*version),
                        None => Expected::Absent(true),
                    };
                    versions.insert(key, versions.get(&key).map_or(0, |v| v + 1));
                    events.push(pb::EventData {
                        key: format!("p{task}-{key}"),
                        expected_key_version: expect.then_some(pb::Precondition {
                            expected: Some(expected),
                        }),
                        ..event(sent, false)
                    });
                    sent += 1;
                }
                publish(&mut client, "bench", events).await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    Ok(started.elapsed())
}

async fn keyed_unchecked(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let elapsed = publish_versioned(server, sizes.versioned, false).await?;
    Ok(sample(server, rate(sizes.versioned, elapsed)))
}

async fn keyed_expected(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let elapsed = publish_versioned(server, sizes.versioned, true).await?;
    Ok(sample(server, rate(sizes.versioned, elapsed)))
}

/// Fills a topic with `key_reads` events spread over keys of 100 events each, then reads 200
/// random keys' histories one after another through the key index.
async fn key_read(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    const READS: usize = 200;
    let keys = sizes.key_reads / EVENTS_PER_KEY;
    let client = server.client().await?;
    let counter = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..8 {
        let mut client = client.clone();
        let counter = Arc::clone(&counter);
        let total = sizes.key_reads;
        handles.push(tokio::spawn(async move {
            loop {
                let first = counter.fetch_add(100, Ordering::Relaxed);
                if first >= total {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(());
                }
                let events = (first..(first + 100).min(total))
                    .map(|n| pb::EventData {
                        key: format!("account-{}", n % keys),
                        ..event(n, false)
                    })
                    .collect();
                publish(&mut client, "bench", events).await?;
            }
        }));
    }
    for handle in handles {
        handle.await??;
    }
    let mut client = server.client().await?;
    let mut latencies = Vec::with_capacity(READS);
    let started = Instant::now();
    for _ in 0..READS {
        let key = format!("account-{}", fastrand::u64(..keys));
        let read_started = Instant::now();
        let mut stream = client
            .subscribe(pb::SubscribeRequest {
                topic: "bench".into(),
                start: Some(pb::subscribe_request::Start::Position(
                    pb::StartPosition::Earliest as i32,
                )),
                key,
                stop_at_end: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        let mut events = 0;
        while let Some(response) = stream.message().await? {
            events += response.events.len() as u64;
        }
        latencies.push(read_started.elapsed());
        if events != EVENTS_PER_KEY {
            return Err(
                format!("a key read returned {events} events, not {EVENTS_PER_KEY}").into(),
            );
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let mut result = sample(server, rate(READS as u64 * EVENTS_PER_KEY, elapsed));
    result.latency = Some((latencies[READS / 2], latencies[READS * 99 / 100]));
    Ok(result)
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

async fn ack_each(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let mut client = server.client().await?;
    let started = Instant::now();
    for n in 0..sizes.ack_each {
        publish(&mut client, "bench", vec![event(n, false)]).await?;
    }
    Ok(sample(server, rate(sizes.ack_each, started.elapsed())))
}

async fn pipelined(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    const WINDOW: usize = 256;
    let mut client = server.client().await?;
    let window = Arc::new(tokio::sync::Semaphore::new(WINDOW));
    let (requests, outgoing) = tokio::sync::mpsc::channel(WINDOW);
    let started = Instant::now();
    let mut responses = client
        .publish_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await?
        .into_inner();
    let total = sizes.pipelined;
    let sender = {
        let window = Arc::clone(&window);
        tokio::spawn(async move {
            for n in 0..total {
                window.acquire().await?.forget();
                let request = pb::PublishRequest {
                    topic: "bench".into(),
                    events: vec![event(n, false)],
                    ..Default::default()
                };
                requests
                    .send(pb::PublishStreamRequest {
                        request: Some(request),
                    })
                    .await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
    };
    for _ in 0..total {
        let response = responses.message().await?.ok_or("stream ended early")?;
        if let Some(pb::publish_stream_response::Outcome::Error(error)) = response.outcome {
            return Err(format!("publish failed: {}", error.message).into());
        }
        window.add_permits(1);
    }
    sender.await??;
    Ok(sample(server, rate(total, started.elapsed())))
}

async fn batched(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let elapsed = publish_concurrently(server, "bench", sizes.batched, 8, 100, false).await?;
    Ok(sample(server, rate(sizes.batched, elapsed)))
}

async fn batched_keyed(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let elapsed = publish_concurrently(server, "bench", sizes.batched, 8, 100, true).await?;
    Ok(sample(server, rate(sizes.batched, elapsed)))
}

async fn replay(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    publish_concurrently(server, "bench", sizes.replay, 8, 100, false).await?;
    let elapsed = consume(server.client().await?, "bench".into(), sizes.replay, false).await?;
    let mut result = sample(server, rate(sizes.replay, elapsed));
    result.disk_per_event = Some(server.disk_bytes() as f64 / sizes.replay as f64);
    Ok(result)
}

/// Events per second in the latency workload.
const LATENCY_RATE: u64 = 5_000;

/// The median and the 99th percentile.
fn p50_p99(mut latencies: Vec<Duration>) -> (Duration, Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (at(0.5), at(0.99))
}

async fn latency(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let total = LATENCY_RATE * sizes.latency_secs;
    let epoch = Instant::now();
    let mut client = server.client().await?;
    let mut stream = client
        .subscribe(pb::SubscribeRequest {
            topic: "bench".into(),
            start: Some(pb::subscribe_request::Start::Position(
                pb::StartPosition::Latest as i32,
            )),
            ..Default::default()
        })
        .await?
        .into_inner();
    stream.message().await?.ok_or("no caught-up response")?;
    let publisher = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / LATENCY_RATE));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut in_flight = tokio::task::JoinSet::new();
            for _ in 0..total {
                ticker.tick().await;
                let sent = epoch.elapsed().as_nanos() as u64;
                let mut client = client.clone();
                in_flight.spawn(async move {
                    publish(&mut client, "bench", vec![event(sent, false)]).await
                });
            }
            while let Some(done) = in_flight.join_next().await {
                done??;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
    };
    let mut latencies = Vec::with_capacity(total as usize);
    while (latencies.len() as u64) < total {
        let response = stream.message().await?.ok_or("stream ended early")?;
        let now = epoch.elapsed().as_nanos() as u64;
        for event in response.events {
            let sent = payload_sequence(&event.payload)?;
            latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
        }
    }
    publisher.await??;
    let mut result = sample(server, LATENCY_RATE as f64);
    result.latency = Some(p50_p99(latencies));
    Ok(result)
}

async fn fanout(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    const SUBSCRIBERS: u64 = 4;
    let mut consumers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let client = server.client().await?;
        consumers.push(tokio::spawn(consume(
            client,
            "bench".into(),
            sizes.fanout,
            false,
        )));
    }
    let started = Instant::now();
    publish_concurrently(server, "bench", sizes.fanout, 8, 100, false).await?;
    for consumer in consumers {
        consumer.await??;
    }
    Ok(sample(
        server,
        rate(sizes.fanout * SUBSCRIBERS, started.elapsed()),
    ))
}

/// 4 members of one consumer group share stored events, acknowledging every event (in one
/// message per delivery batch); the rate counts events whose acknowledgement the server
/// confirmed durable.
async fn consumer_group(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    const MEMBERS: usize = 4;
    const MAX_IN_FLIGHT: u32 = 1_000;
    publish_concurrently(server, "bench", sizes.group, 8, 100, false).await?;
    let confirmed = Arc::new(AtomicU64::new(0));
    let done = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let mut members = Vec::new();
    for _ in 0..MEMBERS {
        let mut client = server.client().await?;
        let (requests, outgoing) = tokio::sync::mpsc::channel(64);
        requests
            .send(pb::ConsumeRequest {
                join: Some(pb::ConsumeJoin {
                    topic: "bench".into(),
                    group: "bench".into(),
                    max_in_flight: MAX_IN_FLIGHT,
                }),
                ..Default::default()
            })
            .await?;
        let mut responses = client
            .consume(tokio_stream::wrappers::ReceiverStream::new(outgoing))
            .await?
            .into_inner();
        let confirmed = Arc::clone(&confirmed);
        let done = done.clone();
        let total = sizes.group;
        members.push(tokio::spawn(async move {
            loop {
                let response = tokio::select! {
                    response = responses.message() => response?.ok_or("stream ended early")?,
                    () = done.cancelled() => return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(()),
                };
                let settled = confirmed.fetch_add(response.acks_durable.len() as u64, Ordering::Relaxed)
                    + response.acks_durable.len() as u64;
                if settled >= total {
                    done.cancel();
                }
                if !response.deliveries.is_empty() {
                    let acks = response
                        .deliveries
                        .iter()
                        .filter_map(|delivery| delivery.event.as_ref().map(|event| event.offset))
                        .collect();
                    requests
                        .send(pb::ConsumeRequest {
                            acks,
                            ..Default::default()
                        })
                        .await?;
                }
            }
        }));
    }
    for member in members {
        member.await??;
    }
    Ok(sample(server, rate(sizes.group, started.elapsed())))
}

fn sample(server: &Server, events_per_sec: f64) -> Sample {
    Sample {
        events_per_sec,
        latency: None,
        peak_rss: peak_rss(&server.child),
        disk_per_event: None,
    }
}

fn median_range(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// What the table shows of one server's runs of a workload.
struct Summary {
    /// Median, lowest and highest events/s.
    rate: (f64, f64, f64),
    peak_rss_mib: f64,
    /// Median p50 and p99 latency in µs, where the workload measures latency.
    latency_micros: Option<(f64, f64)>,
    disk_per_event: Option<f64>,
}

impl Summary {
    fn new(samples: &[Sample]) -> Self {
        let latency_micros = samples.iter().all(|s| s.latency.is_some()).then(|| {
            let micros = |f: fn(&(Duration, Duration)) -> Duration| {
                median_range(
                    samples
                        .iter()
                        .filter_map(|s| s.latency.as_ref())
                        .map(|l| f(l).as_secs_f64() * 1e6)
                        .collect(),
                )
                .0
            };
            (micros(|l| l.0), micros(|l| l.1))
        });
        Self {
            rate: median_range(samples.iter().map(|s| s.events_per_sec).collect()),
            peak_rss_mib: samples.iter().map(|s| s.peak_rss).max().unwrap_or(0) as f64
                / (1024.0 * 1024.0),
            latency_micros,
            disk_per_event: samples.iter().find_map(|s| s.disk_per_event),
        }
    }

    /// The workload's own measure besides the rate, if any.
    fn notes(&self) -> String {
        if let Some(disk) = self.disk_per_event {
            format!("{disk:.0} B on disk per event")
        } else if let Some((p50, p99)) = self.latency_micros {
            format!("p50 {p50:.0} µs, p99 {p99:.0} µs")
        } else {
            String::new()
        }
    }
}

fn report(name: &str, summary: &Summary) {
    let (rate, low, high) = summary.rate;
    println!(
        "| {name} | {rate:.0} | {low:.0}–{high:.0} | {:.0} | {} |",
        summary.peak_rss_mib,
        summary.notes()
    );
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let sizes = Sizes::new(args.smoke);
    let runs = if args.smoke { 1 } else { args.runs.max(1) };
    println!("{HEADER}");
    macro_rules! workload {
        ($name:expr, $run:expr) => {{
            if args
                .only
                .as_ref()
                .is_none_or(|only| $name.contains(only.as_str()))
            {
                let mut samples = Vec::new();
                for _ in 0..runs {
                    let server = Server::start(&args).await?;
                    samples.push($run(&server, &sizes).await?);
                }
                report($name, &Summary::new(&samples));
            }
        }};
    }
    workload!("publish, awaiting each ack", ack_each);
    workload!(
        "PublishStream, 1 event/request, ≤ 256 outstanding",
        pipelined
    );
    workload!("publish, 100-event requests, 8 publishers", batched);
    workload!("same, idempotency key on every event", batched_keyed);
    workload!("replay stored events from offset 0", replay);
    workload!("publish→subscriber latency at 5,000 events/s", latency);
    workload!("fan-out: 4 live subscribers (events delivered)", fanout);
    workload!(
        "read one key's 100 events out of the topic (key index; notes: per read)",
        key_read
    );
    workload!(
        "keyed publish, 100-event requests, 8 publishers, no expectations",
        keyed_unchecked
    );
    workload!("same, expected key version on every event", keyed_expected);
    workload!(
        "consumer group: 4 members, every event acknowledged (durably)",
        consumer_group
    );
    Ok(())
}
