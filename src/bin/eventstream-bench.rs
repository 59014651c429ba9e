//! Benchmark: runs the standard workloads against a fresh `eventstream` server per run and
//! prints one table (median and min–max of the runs, peak server RSS, disk bytes per event).
//!
//! `cargo run --release --bin eventstream-bench` for the full table; `--smoke` for tiny sizes.
//!
//! With the `jetstream` feature, `--jetstream` also runs each workload that NATS JetStream can do
//! against a fresh `nats-server` (JetStream, file storage, on a loopback port) per run, right after
//! the eventstream run, and adds its median rate and the ratio eventstream / JetStream to each row:
//! both see the same machine at about the same time, so the ratio holds on a noisy machine.
//! nats-server comes from the distribution (`apt-get install nats-server` on Debian and Ubuntu) or
//! from NATS's releases; `--nats-server PATH` names a binary that is not on PATH.
//!
//! `cargo run --release --features jetstream --bin eventstream-bench -- --jetstream`

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
    /// Also run the workloads against NATS JetStream and print the ratio (needs the `jetstream`
    /// feature and nats-server).
    #[arg(long)]
    jetstream: bool,
    /// The nats-server binary for --jetstream.
    #[cfg(feature = "jetstream")]
    #[arg(long, default_value = "nats-server")]
    nats_server: PathBuf,
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
    /// Server and client CPU time per event, in µs: steadier than the rate on a machine whose
    /// speed drifts, and they tell what a faster rate would take of its cores.
    cpu_micros_per_event: Option<(f64, f64)>,
    /// The share of the machine's CPU time its host took for other guests (`/proc/stat`'s
    /// steal), in percent: rates fall with it, so a table says what it ran through.
    steal_percent: Option<f64>,
}

/// A server child process on a fresh data directory.
struct Server {
    child: tokio::process::Child,
    addr: String,
    data_dir: tempfile::TempDir,
    cpu: CpuMeter,
}

/// The CPU time a server and this benchmark (its clients) use over a workload's measured phase.
struct CpuMeter {
    server: Option<u32>,
    /// When the measured phase began, and the CPU time each process had used by then.
    mark: std::sync::Mutex<(Instant, CpuUse)>,
}

/// CPU time used by the server and by this benchmark, and the machine's ticks.
#[derive(Clone, Copy, Default)]
struct CpuUse {
    server: Duration,
    client: Duration,
    machine: MachineTicks,
}

/// The machine's CPU time so far, in clock ticks over all CPUs: in all, and stolen by the host.
#[derive(Clone, Copy, Default)]
struct MachineTicks {
    all: u64,
    stolen: u64,
}

impl MachineTicks {
    /// From the first line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal.
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(8)
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        Some(Self {
            all: ticks.iter().sum(),
            stolen: *ticks.get(7)?,
        })
    }
}

impl CpuMeter {
    /// Measures `server` and this process from now on.
    fn new(server: &tokio::process::Child) -> Self {
        let meter = Self {
            server: server.id(),
            mark: std::sync::Mutex::new((Instant::now(), CpuUse::default())),
        };
        meter.mark();
        meter
    }

    /// The CPU time both processes used so far; `None` if /proc cannot tell.
    fn used(&self) -> Option<CpuUse> {
        Some(CpuUse {
            server: cpu_time(self.server?)?,
            client: cpu_time(std::process::id())?,
            machine: MachineTicks::now()?,
        })
    }

    /// Starts the measured phase now: what a workload did to set up before it does not count.
    fn mark(&self) {
        let now = (Instant::now(), self.used().unwrap_or_default());
        *self
            .mark
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
    }

    /// The CPU time per event since the mark, in µs, of the server and of the clients, for a
    /// phase that ran at `events_per_sec`.
    fn micros_per_event(&self, events_per_sec: f64) -> Option<(f64, f64)> {
        let (since, before) = *self
            .mark
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = self.used()?;
        let events = events_per_sec * since.elapsed().as_secs_f64();
        let per_event = |now: Duration, before: Duration| {
            Some(now.checked_sub(before)?.as_secs_f64() * 1e6 / events)
        };
        if events <= 0.0 {
            return None;
        }
        Some((
            per_event(now.server, before.server)?,
            per_event(now.client, before.client)?,
        ))
    }

    /// The percentage of the machine's CPU time stolen by its host since the mark.
    fn steal_percent(&self) -> Option<f64> {
        let (_, before) = *self
            .mark
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = MachineTicks::now()?;
        let all = now.all.checked_sub(before.machine.all)?;
        let stolen = now.stolen.checked_sub(before.machine.stolen)?;
        (all > 0).then(|| stolen as f64 * 100.0 / all as f64)
    }
}

/// The CPU time (user and system) process `pid` has used, from /proc.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name, which may hold spaces: the state (field 3) on; utime is field 14,
    // stime 15, both in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks_per_sec > 0).then(|| Duration::from_secs_f64(ticks as f64 / ticks_per_sec as f64))
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
            cpu: CpuMeter::new(&child),
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

/// `tasks` publishers, each on its own connection (as JetStream's), share `total` events in
/// requests of `per_request`.
async fn publish_concurrently(
    server: &Server,
    topic: &str,
    total: u64,
    tasks: u64,
    per_request: u64,
    keyed: bool,
) -> BenchResult<Duration> {
    let mut clients = Vec::new();
    for _ in 0..tasks {
        clients.push(server.client().await?);
    }
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for mut client in clients {
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
    server.cpu.mark();
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
    let mut sequence = 0;
    awaiting_each(server, sizes.ack_each, async || {
        sequence += 1;
        publish(&mut client, "bench", vec![event(sequence, false)]).await
    })
    .await
}

/// A PublishStream request publishing event `sequence` to the benchmark's topic.
fn stream_request(sequence: u64) -> pb::PublishStreamRequest {
    pb::PublishStreamRequest {
        request: Some(pb::PublishRequest {
            topic: "bench".into(),
            events: vec![event(sequence, false)],
            ..Default::default()
        }),
    }
}

/// The same publishes on one PublishStream, each sent once the previous one's response came:
/// no HTTP/2 stream, headers and trailers per publish.
async fn ack_each_on_stream(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let mut client = server.client().await?;
    let (requests, outgoing) = tokio::sync::mpsc::channel(1);
    let mut responses = client
        .publish_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await?
        .into_inner();
    let mut sequence = 0;
    awaiting_each(server, sizes.ack_each, async || {
        sequence += 1;
        requests.send(stream_request(sequence)).await?;
        let response = responses.message().await?.ok_or("stream ended early")?;
        match response.outcome {
            Some(pb::publish_stream_response::Outcome::Response(_)) => Ok(()),
            other => Err(format!("publish failed: {other:?}").into()),
        }
    })
    .await
}

/// The floor under the ack rows: a unary call that writes nothing, so what it measures is the
/// gRPC stack, loopback and the threads' wake-ups on both sides.
async fn round_trip(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    let mut client = server.client().await?;
    publish(&mut client, "bench", vec![event(0, false)]).await?;
    awaiting_each(server, sizes.ack_each, async || {
        client
            .get_topic(pb::GetTopicRequest {
                name: "bench".into(),
            })
            .await?;
        Ok(())
    })
    .await
}

/// Makes `calls` calls one after another; the rate, and the calls' p50 and p99 latency.
async fn awaiting_each(
    server: &Server,
    calls: u64,
    mut call: impl AsyncFnMut() -> BenchResult<()>,
) -> BenchResult<Sample> {
    let mut latencies = Vec::with_capacity(calls as usize);
    let started = Instant::now();
    for _ in 0..calls {
        let sent = Instant::now();
        call().await?;
        latencies.push(sent.elapsed());
    }
    let mut result = sample(server, rate(calls, started.elapsed()));
    result.latency = Some(p50_p99(latencies));
    Ok(result)
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
                requests.send(stream_request(n)).await?;
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
    server.cpu.mark();
    let elapsed = consume(server.client().await?, "bench".into(), sizes.replay, false).await?;
    let mut result = sample(server, rate(sizes.replay, elapsed));
    result.disk_per_event = Some(server.disk_bytes() as f64 / sizes.replay as f64);
    Ok(result)
}

/// Events per second in the latency workload.
const LATENCY_RATE: u64 = 5_000;

/// Starts `total` publishes at [`LATENCY_RATE`], evenly spaced, each given its send time in
/// nanoseconds since `epoch`, without waiting for earlier ones; then waits for them all.
///
/// A thread of its own sleeps to each start: tokio's timer has millisecond resolution, so an
/// interval of 200 µs would start the publishes in bursts of five each millisecond, which is
/// not a steady rate.
async fn publish_paced<F, Fut>(total: u64, epoch: Instant, mut publish_one: F) -> BenchResult<()>
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = BenchResult<()>> + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    let period = Duration::from_nanos(1_000_000_000 / LATENCY_RATE);
    let pacer = std::thread::spawn(move || {
        let started = Instant::now();
        let mut in_flight = Vec::with_capacity(total as usize);
        for n in 0..total as u32 {
            let due = started + period * n;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            in_flight.push(runtime.spawn(publish_one(epoch.elapsed().as_nanos() as u64)));
        }
        in_flight
    });
    let in_flight = tokio::task::spawn_blocking(move || pacer.join())
        .await?
        .map_err(|_| "the pacing thread panicked")?;
    for publish in in_flight {
        publish.await??;
    }
    Ok(())
}

/// The median and the 99th percentile.
fn p50_p99(mut latencies: Vec<Duration>) -> (Duration, Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (at(0.5), at(0.99))
}

/// Publish→subscriber latency, the publishes sent on one PublishStream: how a steady publisher
/// keeps its requests off the per-call work of unary gRPC (HTTP/2 stream, headers, trailers).
async fn latency(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    latency_of(server, sizes, |client, total, epoch| {
        tokio::spawn(publish_paced_on_stream(client, total, epoch))
    })
    .await
}

/// The same, each publish a unary call.
async fn latency_unary(server: &Server, sizes: &Sizes) -> BenchResult<Sample> {
    latency_of(server, sizes, |client, total, epoch| {
        tokio::spawn(publish_paced(total, epoch, move |sent| {
            let mut client = client.clone();
            async move { publish(&mut client, "bench", vec![event(sent, false)]).await }
        }))
    })
    .await
}

/// Subscribes to the end of the topic, starts `publisher` (given a client, the events to publish
/// and the epoch of their send times), and times each event's delivery from its send time.
async fn latency_of(
    server: &Server,
    sizes: &Sizes,
    publisher: impl FnOnce(Client, u64, Instant) -> tokio::task::JoinHandle<BenchResult<()>>,
) -> BenchResult<Sample> {
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
    let publisher = publisher(client, total, epoch);
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

/// [`publish_paced`] on one PublishStream; returns once every publish is acknowledged.
async fn publish_paced_on_stream(
    mut client: Client,
    total: u64,
    epoch: Instant,
) -> BenchResult<()> {
    let (requests, outgoing) = tokio::sync::mpsc::channel(1024);
    let mut responses = client
        .publish_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await?
        .into_inner();
    let acknowledged = tokio::spawn(async move {
        for _ in 0..total {
            let response = responses.message().await?.ok_or("stream ended early")?;
            if let Some(pb::publish_stream_response::Outcome::Error(error)) = response.outcome {
                return Err(format!("publish failed: {}", error.message).into());
            }
        }
        BenchResult::Ok(())
    });
    publish_paced(total, epoch, move |sent| {
        let requests = requests.clone();
        async move {
            requests.send(stream_request(sent)).await?;
            Ok(())
        }
    })
    .await?;
    acknowledged.await?
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
    server.cpu.mark();
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
        cpu_micros_per_event: server.cpu.micros_per_event(events_per_sec),
        steal_percent: server.cpu.steal_percent(),
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
    /// Median server and client CPU time per event, in µs.
    cpu_micros_per_event: Option<(f64, f64)>,
    /// The most CPU time the host stole in one run, in percent.
    steal_percent: Option<f64>,
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
            cpu_micros_per_event: samples
                .iter()
                .map(|s| s.cpu_micros_per_event)
                .collect::<Option<Vec<_>>>()
                .map(|cpu| {
                    (
                        median_range(cpu.iter().map(|c| c.0).collect()).0,
                        median_range(cpu.iter().map(|c| c.1).collect()).0,
                    )
                }),
            steal_percent: samples
                .iter()
                .filter_map(|s| s.steal_percent)
                .max_by(f64::total_cmp),
        }
    }

    /// The workload's own measure besides the rate, if any, and the server's CPU per event.
    fn notes(&self) -> String {
        let measure = if let Some(disk) = self.disk_per_event {
            Some(format!("{disk:.0} B on disk per event"))
        } else {
            self.latency_micros
                .map(|(p50, p99)| format!("p50 {p50:.0} µs, p99 {p99:.0} µs"))
        };
        let cpu = self.cpu_micros_per_event.map(|(server, client)| {
            format!("CPU µs/event: server {server:.1}, client {client:.1}")
        });
        let steal = self
            .steal_percent
            .map(|steal| format!("host steal up to {steal:.0} %"));
        [measure, cpu, steal]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
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

/// The same workloads against NATS JetStream.
#[cfg(feature = "jetstream")]
mod jetstream {
    use std::collections::VecDeque;
    use std::path::Path;
    use std::process::Stdio;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    use async_nats::jetstream::message::PublishMessage;
    use async_nats::jetstream::{self, Context};
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::task::JoinSet;
    use tokio_stream::StreamExt;

    use super::{
        BenchResult, CpuMeter, LATENCY_RATE, Sample, Sizes, Summary, dir_size, p50_p99, payload,
        payload_sequence, peak_rss, publish_paced, rate,
    };

    /// The stream and the subject its messages are published to.
    const STREAM: &str = "bench";

    pub const HEADER: &str = "| workload (256-byte payloads) | events/s (median) | min–max | peak server RSS MiB | JetStream events/s (median) | ratio eventstream / JetStream | notes |\n|---|---|---|---|---|---|---|";

    /// `nats-server --version`, or what to tell the user when it cannot be run.
    pub async fn server_version(bin: &Path) -> Result<String, String> {
        match tokio::process::Command::new(bin)
            .arg("--version")
            .output()
            .await
        {
            Ok(output) if output.status.success() => {
                Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
            }
            Ok(output) => Err(format!(
                "`{} --version` failed ({}): {}",
                bin.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "--jetstream needs nats-server, and `{}` was not found. Install it \
                 (Debian, Ubuntu: `apt-get install nats-server`) or pass --nats-server PATH.",
                bin.display()
            )),
            Err(error) => Err(format!("cannot run `{}`: {error}", bin.display())),
        }
    }

    /// A nats-server child process with JetStream on a fresh store directory, and the stream.
    pub struct NatsServer {
        child: tokio::process::Child,
        url: String,
        store_dir: tempfile::TempDir,
        cpu: CpuMeter,
    }

    impl NatsServer {
        pub async fn start(bin: &Path) -> BenchResult<Self> {
            let store_dir = tempfile::tempdir()?;
            let mut child = tokio::process::Command::new(bin)
                .arg("-js")
                .arg("-sd")
                .arg(store_dir.path())
                // Port -1: a free one, which it logs.
                .args(["-a", "127.0.0.1", "-p", "-1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
            let mut log = Vec::new();
            let mut address = None;
            // It logs this once its client port accepts connections, with JetStream enabled.
            while !log
                .last()
                .is_some_and(|line: &String| line.contains("Server is ready"))
            {
                let line = lines
                    .next_line()
                    .await?
                    .ok_or_else(|| format!("nats-server exited at start:\n{}", log.join("\n")))?;
                if let Some(listening) = line.split("Listening for client connections on ").nth(1) {
                    address = Some(listening.trim().to_string());
                }
                log.push(line);
            }
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            let address = address.ok_or("nats-server did not log its client address")?;
            let server = Self {
                cpu: CpuMeter::new(&child),
                child,
                url: format!("nats://{address}"),
                store_dir,
            };
            // File storage and the default duplicate window (2 minutes) for Nats-Msg-Id.
            server
                .connect()
                .await?
                .create_stream(jetstream::stream::Config {
                    name: STREAM.into(),
                    subjects: vec![STREAM.into()],
                    ..Default::default()
                })
                .await?;
            server.cpu.mark();
            Ok(server)
        }

        /// A JetStream context on a connection of its own.
        async fn connect(&self) -> BenchResult<Context> {
            Ok(jetstream::new(async_nats::connect(&self.url).await?))
        }
    }

    fn sample(server: &NatsServer, events_per_sec: f64) -> Sample {
        Sample {
            events_per_sec,
            latency: None,
            peak_rss: peak_rss(&server.child),
            disk_per_event: None,
            cpu_micros_per_event: server.cpu.micros_per_event(events_per_sec),
            steal_percent: server.cpu.steal_percent(),
        }
    }

    /// A row with JetStream's columns: "—" where JetStream has no such workload.
    pub fn report(name: &str, eventstream: &Summary, jetstream: Option<&Summary>) {
        let (rate, low, high) = eventstream.rate;
        let notes = eventstream.notes();
        let (jetstream_rate, ratio, notes) = match jetstream {
            None => ("—".to_string(), "—".to_string(), notes),
            Some(jetstream) => {
                // The latency workload runs at a fixed rate: what compares is the latency.
                let ratio = match (eventstream.latency_micros, jetstream.latency_micros) {
                    (Some((p50, p99)), Some((js_p50, js_p99))) => {
                        format!("latency: p50 {:.2}, p99 {:.2}", p50 / js_p50, p99 / js_p99)
                    }
                    _ => format!("{:.2}", rate / jetstream.rate.0),
                };
                let jetstream_notes = [
                    jetstream.notes(),
                    format!("peak RSS {:.0} MiB", jetstream.peak_rss_mib),
                ]
                .into_iter()
                .filter(|note| !note.is_empty())
                .collect::<Vec<_>>()
                .join(", ");
                let notes = if notes.is_empty() {
                    format!("JetStream: {jetstream_notes}")
                } else {
                    format!("{notes}; JetStream: {jetstream_notes}")
                };
                (format!("{:.0}", jetstream.rate.0), ratio, notes)
            }
        };
        println!(
            "| {name} | {rate:.0} | {low:.0}–{high:.0} | {:.0} | {jetstream_rate} | {ratio} | {notes} |",
            eventstream.peak_rss_mib
        );
    }

    /// `PUBLISHERS` publishers, each on its own connection, share `total` messages; each keeps up
    /// to `WINDOW` publishes unacknowledged. JetStream has no multi-message publish: this is its
    /// way to the same 800 events in flight that eventstream's 8 publishers of 100-event requests
    /// have.
    async fn publish_concurrently(
        server: &NatsServer,
        total: u64,
        message_ids: bool,
    ) -> BenchResult<Duration> {
        const PUBLISHERS: usize = 8;
        const WINDOW: usize = 100;
        let mut contexts = Vec::with_capacity(PUBLISHERS);
        for _ in 0..PUBLISHERS {
            contexts.push(server.connect().await?);
        }
        let counter = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut publishers = JoinSet::new();
        for js in contexts {
            let counter = Arc::clone(&counter);
            publishers.spawn(async move {
                let mut unacknowledged = VecDeque::with_capacity(WINDOW);
                loop {
                    let sequence = counter.fetch_add(1, Ordering::Relaxed);
                    if sequence >= total {
                        break;
                    }
                    if unacknowledged.len() == WINDOW
                        && let Some(oldest) = unacknowledged.pop_front()
                    {
                        oldest.await?;
                    }
                    let mut message = PublishMessage::build().payload(payload(sequence));
                    if message_ids {
                        message = message.message_id(uuid::Uuid::new_v4().to_string());
                    }
                    unacknowledged.push_back(js.send_publish(STREAM, message).await?);
                }
                for ack in unacknowledged {
                    ack.await?;
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
        }
        while let Some(publisher) = publishers.join_next().await {
            publisher??;
        }
        Ok(started.elapsed())
    }

    /// The messages of a new ephemeral pull consumer without acks, from `deliver` on. Not an
    /// ordered consumer: async-nats's replayed about 14,000 messages/s from nats-server 2.9.10 on
    /// the 2-core development machine, this about 200,000.
    async fn unacked_messages(js: &Context, deliver: DeliverPolicy) -> BenchResult<pull::Stream> {
        // Large pulls, so that the client rarely waits for the next batch.
        const PER_PULL: usize = 5_000;
        Ok(js
            .get_stream(STREAM)
            .await?
            .create_consumer(pull::Config {
                deliver_policy: deliver,
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await?
            .stream()
            .max_messages_per_batch(PER_PULL)
            .messages()
            .await?)
    }

    async fn receive(mut messages: pull::Stream, count: u64) -> BenchResult<()> {
        for _ in 0..count {
            messages.next().await.ok_or("consumer ended early")??;
        }
        Ok(())
    }

    pub async fn ack_each(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        let js = server.connect().await?;
        let started = Instant::now();
        for sequence in 0..sizes.ack_each {
            js.publish(STREAM, payload(sequence)).await?.await?;
        }
        Ok(sample(server, rate(sizes.ack_each, started.elapsed())))
    }

    /// One connection, at most 256 publishes unacknowledged, acknowledgements read in order.
    pub async fn pipelined(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        const WINDOW: usize = 256;
        let js = server.connect().await?;
        let window = Arc::new(tokio::sync::Semaphore::new(WINDOW));
        let (acks, mut pending) = tokio::sync::mpsc::channel(WINDOW);
        let total = sizes.pipelined;
        let started = Instant::now();
        let sender = {
            let window = Arc::clone(&window);
            // The connection closes with its last handle, failing the acknowledgements still
            // due: `js` stays here until they are all in.
            let js = js.clone();
            tokio::spawn(async move {
                for sequence in 0..total {
                    window.acquire().await?.forget();
                    let ack = js.publish(STREAM, payload(sequence)).await?;
                    acks.send(ack)
                        .await
                        .map_err(|_| "the acknowledgement reader stopped")?;
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        };
        for _ in 0..total {
            pending
                .recv()
                .await
                .ok_or("the publisher stopped early")?
                .await?;
            window.add_permits(1);
        }
        sender.await??;
        Ok(sample(server, rate(total, started.elapsed())))
    }

    pub async fn batched(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        let elapsed = publish_concurrently(server, sizes.batched, false).await?;
        Ok(sample(server, rate(sizes.batched, elapsed)))
    }

    pub async fn batched_with_ids(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        let elapsed = publish_concurrently(server, sizes.batched, true).await?;
        Ok(sample(server, rate(sizes.batched, elapsed)))
    }

    pub async fn replay(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        publish_concurrently(server, sizes.replay, false).await?;
        let js = server.connect().await?;
        server.cpu.mark();
        let started = Instant::now();
        receive(
            unacked_messages(&js, DeliverPolicy::All).await?,
            sizes.replay,
        )
        .await?;
        let mut result = sample(server, rate(sizes.replay, started.elapsed()));
        result.disk_per_event =
            Some(dir_size(server.store_dir.path()) as f64 / sizes.replay as f64);
        Ok(result)
    }

    pub async fn latency(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        let total = LATENCY_RATE * sizes.latency_secs;
        let epoch = Instant::now();
        let js = server.connect().await?;
        let mut messages = unacked_messages(&js, DeliverPolicy::New).await?;
        let publisher = tokio::spawn(publish_paced(total, epoch, move |sent| {
            let js = js.clone();
            async move {
                js.publish(STREAM, payload(sent)).await?.await?;
                Ok(())
            }
        }));
        let mut latencies = Vec::with_capacity(total as usize);
        while (latencies.len() as u64) < total {
            let message = messages.next().await.ok_or("consumer ended early")??;
            let now = epoch.elapsed().as_nanos() as u64;
            let sent = payload_sequence(&message.payload)?;
            latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
        }
        publisher.await??;
        let mut result = sample(server, LATENCY_RATE as f64);
        result.latency = Some(p50_p99(latencies));
        Ok(result)
    }

    /// 4 consumers from the first message, each on its own connection, while 8 publishers
    /// publish.
    pub async fn fanout(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        const SUBSCRIBERS: u64 = 4;
        let mut subscribers = JoinSet::new();
        for _ in 0..SUBSCRIBERS {
            let js = server.connect().await?;
            let messages = unacked_messages(&js, DeliverPolicy::All).await?;
            subscribers.spawn(receive(messages, sizes.fanout));
        }
        let started = Instant::now();
        publish_concurrently(server, sizes.fanout, false).await?;
        while let Some(subscriber) = subscribers.join_next().await {
            subscriber??;
        }
        Ok(sample(
            server,
            rate(sizes.fanout * SUBSCRIBERS, started.elapsed()),
        ))
    }

    /// 4 workers share one durable pull consumer with explicit acks, each on its own connection.
    /// Every message is acknowledged with `double_ack` (AckSync: the server confirms it processed
    /// the ack), and the rate counts confirmed acks, as eventstream's counts acks confirmed durable.
    /// Up to 1,000 messages per worker are unacknowledged, as eventstream's members' max_in_flight.
    pub async fn consumer_group(server: &NatsServer, sizes: &Sizes) -> BenchResult<Sample> {
        const WORKERS: usize = 4;
        const MAX_IN_FLIGHT: usize = 1_000;
        publish_concurrently(server, sizes.group, false).await?;
        server
            .connect()
            .await?
            .get_stream(STREAM)
            .await?
            .create_consumer(pull::Config {
                durable_name: Some(STREAM.into()),
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: (WORKERS * MAX_IN_FLIGHT) as i64,
                ..Default::default()
            })
            .await?;
        let confirmed = Arc::new(AtomicU64::new(0));
        let done = tokio_util::sync::CancellationToken::new();
        server.cpu.mark();
        let started = Instant::now();
        let mut workers = JoinSet::new();
        for _ in 0..WORKERS {
            let consumer: jetstream::consumer::PullConsumer = server
                .connect()
                .await?
                .get_consumer_from_stream(STREAM, STREAM)
                .await?;
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(MAX_IN_FLIGHT)
                .messages()
                .await?;
            let confirmed = Arc::clone(&confirmed);
            let done = done.clone();
            let total = sizes.group;
            workers.spawn(async move {
                let mut acks = JoinSet::new();
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let message = message.ok_or("consumer ended early")??;
                            acks.spawn(async move { message.double_ack().await });
                        }
                        Some(acked) = acks.join_next() => {
                            acked??;
                            if confirmed.fetch_add(1, Ordering::Relaxed) + 1 >= total {
                                done.cancel();
                            }
                        }
                        () = done.cancelled() => {
                            return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(());
                        }
                    }
                }
            });
        }
        while let Some(worker) = workers.join_next().await {
            worker??;
        }
        Ok(sample(server, rate(sizes.group, started.elapsed())))
    }
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    let sizes = Sizes::new(args.smoke);
    let runs = if args.smoke { 1 } else { args.runs.max(1) };
    #[cfg(not(feature = "jetstream"))]
    if args.jetstream {
        eprintln!(
            "--jetstream needs a build with the `jetstream` feature: \
             cargo run --release --features jetstream --bin eventstream-bench -- --jetstream"
        );
        std::process::exit(2);
    }
    #[cfg(feature = "jetstream")]
    let nats_server = if args.jetstream {
        match jetstream::server_version(&args.nats_server).await {
            Ok(version) => eprintln!("comparing with {version}, JetStream with file storage"),
            Err(message) => {
                eprintln!("{message}");
                std::process::exit(2);
            }
        }
        Some(args.nats_server.as_path())
    } else {
        None
    };
    #[cfg(feature = "jetstream")]
    let header = if nats_server.is_some() {
        jetstream::HEADER
    } else {
        HEADER
    };
    #[cfg(not(feature = "jetstream"))]
    let header = HEADER;
    println!("{header}");
    // One JetStream run of a row, or None without --jetstream or for a row JetStream has no
    // equivalent of.
    #[cfg(feature = "jetstream")]
    macro_rules! jetstream_sample {
        () => {
            None
        };
        ($run:expr) => {
            match nats_server {
                Some(bin) => {
                    let server = jetstream::NatsServer::start(bin).await?;
                    Some($run(&server, &sizes).await?)
                }
                None => None,
            }
        };
    }
    // Each run of a row starts eventstream, then (with --jetstream) nats-server, so both see the
    // machine in about the same state.
    macro_rules! workload {
        ($name:expr, $run:expr $(, $jetstream_run:expr)?) => {{
            if args
                .only
                .as_ref()
                .is_none_or(|only| $name.contains(only.as_str()))
            {
                let mut samples = Vec::new();
                #[cfg(feature = "jetstream")]
                let mut jetstream_samples = Vec::new();
                for _ in 0..runs {
                    let server = Server::start(&args).await?;
                    samples.push($run(&server, &sizes).await?);
                    drop(server);
                    #[cfg(feature = "jetstream")]
                    jetstream_samples.push(jetstream_sample!($($jetstream_run)?));
                }
                let summary = Summary::new(&samples);
                #[cfg(feature = "jetstream")]
                if nats_server.is_some() {
                    let jetstream = jetstream_samples
                        .into_iter()
                        .collect::<Option<Vec<_>>>()
                        .map(|samples| Summary::new(&samples));
                    jetstream::report($name, &summary, jetstream.as_ref());
                } else {
                    report($name, &summary);
                }
                #[cfg(not(feature = "jetstream"))]
                report($name, &summary);
            }
        }};
    }
    workload!(
        "unary call without a write (GetTopic), awaiting each: the floor under the ack rows",
        round_trip
    );
    workload!("publish, awaiting each ack", ack_each, jetstream::ack_each);
    workload!(
        "same on one PublishStream (JetStream: the same publishes)",
        ack_each_on_stream,
        jetstream::ack_each
    );
    workload!(
        "PublishStream, 1 event/request, ≤ 256 outstanding",
        pipelined,
        jetstream::pipelined
    );
    workload!(
        "publish, 100-event requests, 8 publishers",
        batched,
        jetstream::batched
    );
    workload!(
        "same, idempotency key on every event",
        batched_keyed,
        jetstream::batched_with_ids
    );
    workload!(
        "replay stored events from offset 0",
        replay,
        jetstream::replay
    );
    workload!(
        "publish→subscriber latency at 5,000 events/s, on one PublishStream",
        latency,
        jetstream::latency
    );
    workload!("same latency, each publish a unary call", latency_unary);
    workload!(
        "fan-out: 4 live subscribers (events delivered)",
        fanout,
        jetstream::fanout
    );
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
        consumer_group,
        jetstream::consumer_group
    );
    Ok(())
}
