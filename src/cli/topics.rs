//! `eventstream topics list|get|create|delete`.

use std::io::Write;
use std::time::Duration;

use eventstream::client::{TopicSettings, system_time};
use eventstream::pb;
use indicatif::HumanBytes;

use super::output::{Format, json_line, rfc3339, table};
use super::{CliError, ServerArgs};

/// `eventstream topics` options.
#[derive(clap::Args)]
pub struct TopicsArgs {
    #[command(flatten)]
    server: ServerArgs,

    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(clap::Subcommand)]
enum TopicsCommand {
    /// List all topics.
    List {
        /// Output: a table, or one JSON object per topic.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Describe one topic.
    Get {
        /// The topic's name.
        name: String,
        /// Output: a table, or a JSON object.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Create a topic.
    Create {
        /// The topic's name: 1 to 249 characters of `A-Za-z0-9._-`.
        name: String,
        /// Remove events older than this, for example `7d`.
        #[arg(long, value_parser = humantime::parse_duration)]
        retention_age: Option<Duration>,
        /// Keep at most this many events.
        #[arg(long)]
        retention_events: Option<u64>,
        /// Keep at most this many stored bytes.
        #[arg(long)]
        retention_bytes: Option<u64>,
        /// Remember idempotency keys this long, for example `1h` (the server's default: 24h).
        #[arg(long, value_parser = humantime::parse_duration)]
        dedup_window: Option<Duration>,
        /// Output: a table, or a JSON object.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Delete a topic with all its events.
    Delete {
        /// The topic's name.
        name: String,
    },
}

/// Runs `eventstream topics ...`.
pub async fn run(args: TopicsArgs) -> Result<(), CliError> {
    let client = args.server.client()?;
    let mut out = std::io::stdout().lock();
    match args.command {
        TopicsCommand::List { format } => print(&mut out, format, &client.list_topics().await?),
        TopicsCommand::Get { name, format } => {
            print(&mut out, format, &[client.get_topic(&name).await?])
        }
        TopicsCommand::Create {
            name,
            retention_age,
            retention_events,
            retention_bytes,
            dedup_window,
            format,
        } => {
            let settings = TopicSettings {
                retention_age,
                retention_events,
                retention_bytes,
                dedup_window,
            };
            let topic = client.create_topic(&name, settings).await?;
            print(&mut out, format, &[topic])
        }
        TopicsCommand::Delete { name } => {
            client.delete_topic(&name).await?;
            writeln!(out, "deleted topic {name}")?;
            Ok(())
        }
    }
}

/// A topic as one JSON line. Unset limits are `null`; durations are in seconds.
#[derive(serde::Serialize)]
struct TopicLine<'a> {
    name: &'a str,
    first_offset: u64,
    next_offset: u64,
    size_bytes: u64,
    create_time: String,
    retention_age_secs: Option<u64>,
    retention_events: Option<u64>,
    retention_bytes: Option<u64>,
    dedup_window_secs: Option<u64>,
}

/// A topic's settings; a missing configuration reads as no limits.
fn settings(topic: &pb::Topic) -> TopicSettings {
    topic
        .config
        .as_ref()
        .map(TopicSettings::from)
        .unwrap_or_default()
}

/// The retention limits in words, `forever` when there are none.
fn retention(settings: &TopicSettings) -> String {
    let mut parts = Vec::new();
    if let Some(age) = settings.retention_age {
        parts.push(humantime::format_duration(age).to_string());
    }
    if let Some(events) = settings.retention_events {
        parts.push(format!("{events} events"));
    }
    if let Some(bytes) = settings.retention_bytes {
        parts.push(HumanBytes(bytes).to_string());
    }
    if parts.is_empty() {
        "forever".to_string()
    } else {
        parts.join(", ")
    }
}

fn print(out: &mut impl Write, format: Format, topics: &[pb::Topic]) -> Result<(), CliError> {
    match format {
        Format::Json => {
            for topic in topics {
                let settings = settings(topic);
                json_line(
                    out,
                    &TopicLine {
                        name: &topic.name,
                        first_offset: topic.first_offset,
                        next_offset: topic.next_offset,
                        size_bytes: topic.size_bytes,
                        create_time: rfc3339(system_time(topic.create_time.as_ref())),
                        retention_age_secs: settings.retention_age.map(|age| age.as_secs()),
                        retention_events: settings.retention_events,
                        retention_bytes: settings.retention_bytes,
                        dedup_window_secs: settings.dedup_window.map(|window| window.as_secs()),
                    },
                )?;
            }
            Ok(())
        }
        Format::Text => print_table(out, topics),
    }
}

const HEADINGS: [&str; 7] = [
    "NAME",
    "EVENTS",
    "OFFSETS",
    "SIZE",
    "RETENTION",
    "DEDUP",
    "CREATED",
];

/// The topics as a table with aligned columns.
fn print_table(out: &mut impl Write, topics: &[pb::Topic]) -> Result<(), CliError> {
    if topics.is_empty() {
        writeln!(out, "no topics")?;
        return Ok(());
    }
    let rows: Vec<[String; 7]> = topics
        .iter()
        .map(|topic| {
            let settings = settings(topic);
            let dedup = settings.dedup_window.map_or_else(
                || "-".to_string(),
                |window| humantime::format_duration(window).to_string(),
            );
            [
                topic.name.clone(),
                (topic.next_offset - topic.first_offset.min(topic.next_offset)).to_string(),
                format!("{}..{}", topic.first_offset, topic.next_offset),
                HumanBytes(topic.size_bytes).to_string(),
                retention(&settings),
                dedup,
                rfc3339(system_time(topic.create_time.as_ref())),
            ]
        })
        .collect();
    table(out, HEADINGS, &rows)
}
