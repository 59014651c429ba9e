//! `eventstream publish`: one event from an argument or a file, or one event per stdin line.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use eventstream::client::{Published, event};
use eventstream::pb;

use super::output::{Format, json_line, rfc3339};
use super::{CliError, ServerArgs};

/// A `--lines` publish sends events in requests of at most this many events...
const LINES_PER_REQUEST: usize = 1000;
/// ...and at most about this many payload bytes, well under the server's request limit.
const BYTES_PER_REQUEST: usize = 4 * 1024 * 1024;

/// `eventstream publish` options.
#[derive(clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    server: ServerArgs,

    /// The topic to publish to.
    #[arg(long)]
    topic: String,

    /// The event type, for example `OrderPlaced`.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: String,

    /// The entity the event is about (an account id, an order id); subscribers can filter on it.
    #[arg(long)]
    key: Option<String>,

    /// Makes publishing again with the same key a no-op; a random UUID per event by default.
    #[arg(long, conflicts_with = "lines")]
    idempotency_key: Option<String>,

    /// A header `name=value`; repeat for more.
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,

    /// The payload's media type, for example `application/json`.
    #[arg(long)]
    content_type: Option<String>,

    /// The payload (empty when neither DATA nor --file is given).
    #[arg(conflicts_with_all = ["file", "lines"])]
    data: Option<String>,

    /// Read the payload from this file (`-` for stdin).
    #[arg(long, conflicts_with = "lines")]
    file: Option<PathBuf>,

    /// Publish each line of stdin as one event.
    #[arg(long)]
    lines: bool,

    /// Output: a JSON object per published event, or text.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))
}

impl PublishArgs {
    /// An event with the options' fields around `payload`.
    fn event(&self, payload: Vec<u8>) -> pb::EventData {
        pb::EventData {
            key: self.key.clone().unwrap_or_default(),
            idempotency_key: self.idempotency_key.clone().unwrap_or_default(),
            headers: self.headers.iter().cloned().collect::<HashMap<_, _>>(),
            content_type: self.content_type.clone().unwrap_or_default(),
            ..event(self.event_type.clone(), payload)
        }
    }

    /// The single event's payload: DATA, the file, or nothing.
    fn payload(&self) -> Result<Vec<u8>, CliError> {
        match (&self.data, &self.file) {
            (Some(data), _) => Ok(data.clone().into_bytes()),
            (None, Some(path)) if path.as_os_str() == "-" => {
                let mut payload = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut payload)
                    .map_err(|error| CliError::Input(format!("cannot read stdin: {error}")))?;
                Ok(payload)
            }
            (None, Some(path)) => std::fs::read(path).map_err(|error| {
                CliError::Input(format!("cannot read {}: {error}", path.display()))
            }),
            (None, None) => Ok(Vec::new()),
        }
    }
}

/// Runs `eventstream publish`.
pub async fn run(args: PublishArgs) -> Result<(), CliError> {
    let client = args.server.client()?;
    let mut out = std::io::stdout().lock();
    if !args.lines {
        let published = client
            .publish(&args.topic, vec![args.event(args.payload()?)])
            .await?;
        return print(&mut out, args.format, &published);
    }
    let mut stdin = std::io::stdin().lock();
    loop {
        let events = read_lines(&mut stdin, &args)?;
        if events.is_empty() {
            return Ok(());
        }
        let published = client.publish(&args.topic, events).await?;
        print(&mut out, args.format, &published)?;
        out.flush()?;
    }
}

/// Reads the next request's worth of stdin lines as events (none at the end of input).
fn read_lines(
    stdin: &mut impl BufRead,
    args: &PublishArgs,
) -> Result<Vec<pb::EventData>, CliError> {
    let mut events = Vec::new();
    let mut bytes = 0;
    while events.len() < LINES_PER_REQUEST && bytes < BYTES_PER_REQUEST {
        let mut line = Vec::new();
        let read = stdin
            .read_until(b'\n', &mut line)
            .map_err(|error| CliError::Input(format!("cannot read stdin: {error}")))?;
        if read == 0 {
            break;
        }
        if line.ends_with(b"\n") {
            line.pop();
        }
        if line.ends_with(b"\r") {
            line.pop();
        }
        bytes += line.len();
        events.push(args.event(line));
    }
    Ok(events)
}

/// Where one event went, as one JSON line.
#[derive(serde::Serialize)]
struct PublishedLine<'a> {
    offset: u64,
    id: &'a str,
    time: String,
    /// True when the idempotency key was already published: nothing was appended.
    duplicate: bool,
    idempotency_key: &'a str,
}

/// Prints where each event went.
fn print(out: &mut impl Write, format: Format, published: &[Published]) -> Result<(), CliError> {
    for result in published {
        let time = rfc3339(result.time);
        match format {
            Format::Json => json_line(
                out,
                &PublishedLine {
                    offset: result.offset,
                    id: &result.id,
                    time,
                    duplicate: result.duplicate,
                    idempotency_key: &result.idempotency_key,
                },
            )?,
            Format::Text => {
                let note = if result.duplicate {
                    " (duplicate: already published)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "offset {} at {time}, id {}{note}",
                    result.offset, result.id
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_need_an_equals_sign() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_header("ab").is_err());
    }
}
