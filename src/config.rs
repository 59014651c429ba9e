//! Server configuration: every setting has a flag, an `EVENTSTREAM_*` variable, a key of the
//! `--config` file (see [`file`]) and a default.

pub mod file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncPolicy {
    /// Acknowledge only after the data reached the disk (flush + fsync): survives power loss.
    Always,
    /// Acknowledge once the data is in the store's memory; sled writes it out within ~500 ms.
    /// A crash or power cut can lose the most recent acknowledged events.
    Never,
}

/// How the server writes its log (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Settings of `eventstream serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on for gRPC.
    #[arg(long, env = "EVENTSTREAM_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Directory holding the data; created if missing.
    #[arg(long, env = "EVENTSTREAM_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Create topics on their first Publish or Subscribe.
    #[arg(long, env = "EVENTSTREAM_AUTO_CREATE_TOPICS", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_create_topics: bool,

    /// `always`: acknowledge after fsync; `never`: trade durability for speed.
    #[arg(long, env = "EVENTSTREAM_FSYNC", value_enum, default_value = "always")]
    pub fsync: FsyncPolicy,

    /// Largest accepted event payload, in bytes.
    #[arg(long, env = "EVENTSTREAM_MAX_EVENT_BYTES", default_value_t = 1024 * 1024)]
    pub max_event_bytes: usize,

    /// Largest accepted gRPC request message, in bytes; a larger one fails with
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTSTREAM_MAX_REQUEST_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_request_bytes: usize,

    /// Most topics the server holds; creating one more, explicitly or by auto-create, fails
    /// with RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTSTREAM_MAX_TOPICS", default_value_t = 10_000)]
    pub max_topics: usize,

    /// Most consumer groups the server holds, over all topics; creating one more, explicitly or
    /// by a first Consume, fails with RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "EVENTSTREAM_MAX_CONSUMER_GROUPS",
        default_value_t = 10_000
    )]
    pub max_consumer_groups: usize,

    /// Most open Subscribe streams on the whole server; one more fails with RESOURCE_EXHAUSTED.
    #[arg(long, env = "EVENTSTREAM_MAX_SUBSCRIPTIONS", default_value_t = 10_000)]
    pub max_subscriptions: usize,

    /// Most open Subscribe streams over one client connection; one more fails with
    /// RESOURCE_EXHAUSTED.
    #[arg(
        long,
        env = "EVENTSTREAM_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 1_000
    )]
    pub max_subscriptions_per_connection: usize,

    /// How long a connection may stay silent before the server pings it (HTTP/2 PING); 0s: never.
    #[arg(long, env = "EVENTSTREAM_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub keepalive_interval: Duration,

    /// How long the server waits for a ping's answer before closing the connection and ending
    /// its calls: a dead peer is noticed within the interval plus this.
    #[arg(long, env = "EVENTSTREAM_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub keepalive_timeout: Duration,

    /// How long idempotency keys are remembered, for topics that do not set their own window.
    #[arg(long, env = "EVENTSTREAM_DEFAULT_DEDUP_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub default_dedup_window: Duration,

    /// Memory sled may use to cache the log, in bytes.
    #[arg(long, env = "EVENTSTREAM_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub cache_bytes: u64,

    /// Size, in bytes, at which a topic's appends move on to a new segment file; retention
    /// frees disk space a whole file at a time.
    #[arg(long, env = "EVENTSTREAM_SEGMENT_BYTES", default_value_t = 64 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(64 * 1024..=1 << 32))]
    pub segment_bytes: u64,

    /// Idempotency keys a topic holds in memory (about 100 bytes each) before it writes them to
    /// a file of their own, where each costs about 3 bytes of memory.
    #[arg(long, env = "EVENTSTREAM_DEDUP_GENERATION_KEYS", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    pub dedup_generation_keys: u64,

    /// Free space, in bytes, that publishes leave on the data directory's disk: below it they
    /// fail with RESOURCE_EXHAUSTED until space is freed (0: no reserve).
    #[arg(long, env = "EVENTSTREAM_MIN_FREE_DISK_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub min_free_disk_bytes: u64,

    /// How often retention and idempotency-key expiry run.
    #[arg(long, env = "EVENTSTREAM_RETENTION_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub retention_interval: Duration,

    /// Address to serve Prometheus metrics on, at `GET /metrics`; none if not given.
    #[arg(long, env = "EVENTSTREAM_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// `text` for people, `json` for log collectors; `RUST_LOG` sets what is logged.
    #[arg(
        long,
        env = "EVENTSTREAM_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// PEM certificate chain the server presents; with `--tls-key`, gRPC is served over TLS only.
    #[arg(long, env = "EVENTSTREAM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "EVENTSTREAM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): clients must present a certificate signed by one (mutual TLS).
    #[arg(long, env = "EVENTSTREAM_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// TOML file of tokens (their SHA-256) and what each may do; without it anyone may do
    /// anything.
    #[arg(long, env = "EVENTSTREAM_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,
}

/// The arguments of `eventstream serve`: the settings, and where else they may come from.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The settings.
    #[command(flatten)]
    pub config: Config,

    /// A TOML file of settings, keyed by the flags without their dashes
    /// (`max-topics = 500`); flags and environment variables override it.
    #[arg(long = "config", env = "EVENTSTREAM_CONFIG", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Print the effective configuration in the file's format (secrets left out) and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl Config {
    /// The defaults, with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: data_dir.into(),
            auto_create_topics: true,
            fsync: FsyncPolicy::Always,
            max_event_bytes: 1024 * 1024,
            max_request_bytes: 16 * 1024 * 1024,
            max_topics: 10_000,
            max_consumer_groups: 10_000,
            max_subscriptions: 10_000,
            max_subscriptions_per_connection: 1_000,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
            default_dedup_window: Duration::from_secs(24 * 3600),
            cache_bytes: 64 * 1024 * 1024,
            segment_bytes: 64 * 1024 * 1024,
            dedup_generation_keys: 65_536,
            min_free_disk_bytes: 64 * 1024 * 1024,
            retention_interval: Duration::from_secs(1),
            metrics_listen: None,
            log_format: LogFormat::Text,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            auth_file: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn flag_defaults_match_config_new() {
        let parsed = Cli::parse_from(["eventstream"]).config;
        let built = Config::new("./data");
        assert_eq!(format!("{parsed:?}"), format!("{built:?}"));
    }
}
