//! `eventstream subscribe`: a topic's events as JSON lines (or text), following live events or
//! stopping at the end of the log.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use eventstream::client::{Client, StartAt, SubscribeOptions, system_time};
use eventstream::pb;
use indicatif::{ProgressBar, ProgressStyle};

use super::output::{Format, json_line, parse_rfc3339, payload_text, rfc3339};
use super::{CliError, ServerArgs};

/// `eventstream subscribe` options.
#[derive(clap::Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    server: ServerArgs,

    /// The topic to read.
    #[arg(long)]
    topic: String,

    /// Start at this offset (inclusive); the default is the oldest retained event.
    #[arg(long, group = "start")]
    from_offset: Option<u64>,

    /// Start at the first event appended at or after this RFC 3339 time.
    #[arg(long, group = "start", value_parser = parse_rfc3339)]
    from_time: Option<SystemTime>,

    /// Only events published from now on.
    #[arg(long, group = "start")]
    latest: bool,

    /// Only events of this type; repeat for more.
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,

    /// Only events with this key.
    #[arg(long)]
    key: Option<String>,

    /// Stop at the end of the log as it is now, instead of following live events.
    #[arg(long)]
    stop_at_end: bool,

    /// Output: one JSON object per event, or a line of text per event.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

impl SubscribeArgs {
    fn options(&self) -> SubscribeOptions {
        let start = match (self.from_offset, self.from_time, self.latest) {
            (Some(offset), _, _) => StartAt::Offset(offset),
            (None, Some(time), _) => StartAt::Time(time),
            (None, None, true) => StartAt::Latest,
            (None, None, false) => StartAt::Earliest,
        };
        SubscribeOptions::new(&self.topic)
            .start(start)
            .types(self.types.clone())
            .key(self.key.clone().unwrap_or_default())
            .stop_at_end(self.stop_at_end)
    }
}

/// An event as one JSON line.
#[derive(serde::Serialize)]
struct EventLine<'a> {
    topic: &'a str,
    offset: u64,
    id: &'a str,
    time: String,
    #[serde(rename = "type")]
    event_type: &'a str,
    key: &'a str,
    idempotency_key: &'a str,
    content_type: &'a str,
    schema_version: u32,
    headers: BTreeMap<&'a str, &'a str>,
    payload: String,
    /// `utf8` when `payload` is the payload itself, `base64` when it is encoded.
    payload_encoding: &'static str,
}

/// Runs `eventstream subscribe`.
pub async fn run(args: SubscribeArgs) -> Result<(), CliError> {
    let client = args.server.client()?;
    let progress = if args.stop_at_end && std::io::stderr().is_terminal() {
        Some(replay_progress(&client, &args).await?)
    } else {
        None
    };
    let mut subscription = client.subscribe(args.options());
    let mut out = std::io::stdout().lock();
    while let Some(batch) = subscription.next_batch().await? {
        for event in &batch.events {
            print(&mut out, args.format, event)?;
        }
        // Flushed per batch: live events reach a pipe at once, replays stay fast.
        out.flush()?;
        if let Some((bar, first)) = &progress {
            bar.set_position(batch.next_offset.saturating_sub(*first));
        }
    }
    if let Some((bar, _)) = progress {
        bar.finish_and_clear();
    }
    Ok(())
}

/// A progress bar on stderr over the offsets a `--stop-at-end` replay will cover, and the
/// offset it counts from.
async fn replay_progress(
    client: &Client,
    args: &SubscribeArgs,
) -> Result<(ProgressBar, u64), CliError> {
    let topic = client.get_topic(&args.topic).await?;
    let first = args.from_offset.unwrap_or(topic.first_offset);
    let bar = ProgressBar::new(topic.next_offset.saturating_sub(first));
    // The template is fixed and valid; the default style is only a fallback for a typo in it.
    let style = ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} offsets, eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    Ok((bar, first))
}

fn print(out: &mut impl Write, format: Format, event: &pb::Event) -> Result<(), CliError> {
    let time = rfc3339(system_time(event.time.as_ref()));
    let (payload, payload_encoding) = payload_text(&event.payload);
    match format {
        Format::Json => json_line(
            out,
            &EventLine {
                topic: &event.topic,
                offset: event.offset,
                id: &event.id,
                time,
                event_type: &event.r#type,
                key: &event.key,
                idempotency_key: &event.idempotency_key,
                content_type: &event.content_type,
                schema_version: event.schema_version,
                headers: event
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect(),
                payload,
                payload_encoding,
            },
        ),
        Format::Text => {
            let key = if event.key.is_empty() {
                String::new()
            } else {
                format!(" key={}", event.key)
            };
            let marker = if payload_encoding == "base64" {
                "base64:"
            } else {
                ""
            };
            writeln!(
                out,
                "{} {time} {}{key} {marker}{payload}",
                event.offset, event.r#type
            )?;
            Ok(())
        }
    }
}
