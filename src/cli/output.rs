//! Output formats shared by the subcommands.

use std::io::Write;
use std::time::SystemTime;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

use super::CliError;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, for scripts and `jq`.
    Json,
    /// Text for people (a table for topics).
    #[value(alias = "table")]
    Text,
}

/// An RFC 3339 UTC time with as many fractional digits as it needs.
pub fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time with any offset, for example `2024-05-01T10:00:00+02:00`.
pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    DateTime::parse_from_rfc3339(text)
        .map(SystemTime::from)
        .map_err(|error| {
            format!("not an RFC 3339 time ({error}), for example 2024-05-01T10:00:00Z")
        })
}

/// A payload as text: itself when it is UTF-8, base64 otherwise; and which of the two.
pub fn payload_text(payload: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(payload) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(payload),
            "base64",
        ),
    }
}

/// Writes `value` as one line of JSON.
pub fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, value)
        .map_err(|error| CliError::Output(std::io::Error::other(error)))?;
    writeln!(out)?;
    Ok(())
}

/// `rows` under `headings`, in columns padded to their widest cell.
pub fn table<const N: usize>(
    out: &mut impl Write,
    headings: [&str; N],
    rows: &[[String; N]],
) -> Result<(), CliError> {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([headings[column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let headings = headings.map(str::to_string);
    for row in std::iter::once(&headings).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_text_when_they_can_be() {
        assert_eq!(
            payload_text(b"{\"a\":1}"),
            ("{\"a\":1}".to_string(), "utf8")
        );
        assert_eq!(payload_text(&[0xff, 0x00]), ("/wA=".to_string(), "base64"));
    }

    #[test]
    fn times_round_trip_through_rfc3339() {
        let time = parse_rfc3339("2024-05-01T12:00:00.5+02:00").expect("parse");
        assert_eq!(rfc3339(time), "2024-05-01T10:00:00.500Z");
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
