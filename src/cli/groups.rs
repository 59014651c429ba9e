//! `eventstream groups list|get|create|reset|delete`: consumer groups of a topic.

use std::io::Write;
use std::time::{Duration, SystemTime};

use eventstream::client::system_time;
use eventstream::pb;

use super::output::{Format, json_line, parse_rfc3339, rfc3339, table};
use super::{CliError, ServerArgs};

/// `eventstream groups` options.
#[derive(clap::Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    server: ServerArgs,

    /// The topic the groups consume.
    #[arg(long, global = true)]
    topic: Option<String>,

    #[command(subcommand)]
    command: GroupsCommand,
}

/// A position in the topic: where a group starts, or where a reset moves it.
#[derive(clap::Args)]
#[group(multiple = false)]
struct Position {
    /// This offset (inclusive).
    #[arg(long)]
    offset: Option<u64>,
    /// The first event appended at or after this RFC 3339 time.
    #[arg(long, value_parser = parse_rfc3339)]
    time: Option<SystemTime>,
    /// The oldest retained event.
    #[arg(long)]
    earliest: bool,
    /// The end of the log: only events appended from now on.
    #[arg(long)]
    latest: bool,
}

/// What a group does when retention removes events it has not acknowledged.
#[derive(Clone, Copy, clap::ValueEnum)]
enum OutOfRange {
    /// Stop and report until reset.
    Fail,
    /// Go on from the oldest retained event.
    Earliest,
    /// Go on from the end of the log.
    Latest,
}

#[derive(clap::Subcommand)]
enum GroupsCommand {
    /// List the topic's consumer groups.
    List {
        /// Output: a table, or one JSON object per group.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Describe one group: position, lag, members, in-flight, redeliveries, problem.
    Get {
        /// The group's name.
        name: String,
        /// Output: a table, or a JSON object.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Create a group (Consume also creates one, with defaults, on first use).
    Create {
        /// The group's name: 1 to 249 characters of `A-Za-z0-9._-`.
        name: String,
        /// Where it starts (default: the oldest retained event).
        #[command(flatten)]
        start: Position,
        /// How long a member has to acknowledge a delivery, for example `2m` (default 30s).
        #[arg(long, value_parser = humantime::parse_duration)]
        ack_deadline: Option<Duration>,
        /// Deliveries of one event before it goes to the dead-letter topic (default: unlimited).
        #[arg(long)]
        max_deliveries: Option<u32>,
        /// The dead-letter topic (default `<topic>.<group>.dead-letters`).
        #[arg(long, requires = "max_deliveries")]
        dead_letter_topic: Option<String>,
        /// When retention removes events the group has not acknowledged.
        #[arg(long, value_enum, default_value = "fail")]
        out_of_range: OutOfRange,
        /// Output: a table, or a JSON object.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Move a group without connected members: events from the position on are delivered
    /// again, those before it count as acknowledged.
    Reset {
        /// The group's name.
        name: String,
        /// The new position (one is required).
        #[command(flatten)]
        to: Position,
        /// Output: a table, or a JSON object.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Delete a group and its position.
    Delete {
        /// The group's name.
        name: String,
    },
}

/// Runs `eventstream groups ...`.
pub async fn run(args: GroupsArgs) -> Result<(), CliError> {
    let client = args.server.client()?;
    let topic = args
        .topic
        .ok_or_else(|| CliError::Input("--topic is required".to_string()))?;
    let mut out = std::io::stdout().lock();
    match args.command {
        GroupsCommand::List { format } => {
            print(&mut out, format, &client.list_groups(&topic).await?)
        }
        GroupsCommand::Get { name, format } => {
            print(&mut out, format, &[client.get_group(&topic, &name).await?])
        }
        GroupsCommand::Create {
            name,
            start,
            ack_deadline,
            max_deliveries,
            dead_letter_topic,
            out_of_range,
            format,
        } => {
            use pb::create_consumer_group_request::Start;
            let start = start.chosen().map(|position| match position {
                Chosen::Offset(offset) => Start::FromOffset(offset),
                Chosen::Time(time) => Start::FromTime(time.into()),
                Chosen::Position(position) => Start::Position(position as i32),
            });
            let config = pb::ConsumerGroupConfig {
                ack_deadline: ack_deadline.map(proto_duration).transpose()?,
                max_deliveries: max_deliveries.unwrap_or(0),
                dead_letter_topic: dead_letter_topic.unwrap_or_default(),
                out_of_range: match out_of_range {
                    OutOfRange::Fail => pb::OutOfRangePolicy::Fail,
                    OutOfRange::Earliest => pb::OutOfRangePolicy::Earliest,
                    OutOfRange::Latest => pb::OutOfRangePolicy::Latest,
                } as i32,
            };
            let group = client
                .create_group(pb::CreateConsumerGroupRequest {
                    topic,
                    name,
                    config: Some(config),
                    start,
                })
                .await?;
            print(&mut out, format, &[group])
        }
        GroupsCommand::Reset { name, to, format } => {
            use pb::reset_consumer_group_request::Target;
            let target = match to.chosen() {
                Some(Chosen::Offset(offset)) => Target::ToOffset(offset),
                Some(Chosen::Time(time)) => Target::ToTime(time.into()),
                Some(Chosen::Position(position)) => Target::Position(position as i32),
                None => {
                    return Err(CliError::Input(
                        "reset needs --offset, --time, --earliest or --latest".to_string(),
                    ));
                }
            };
            let group = client
                .reset_group(pb::ResetConsumerGroupRequest {
                    topic,
                    name,
                    target: Some(target),
                })
                .await?;
            print(&mut out, format, &[group])
        }
        GroupsCommand::Delete { name } => {
            client.delete_group(&topic, &name).await?;
            writeln!(out, "deleted consumer group {name} of topic {topic}")?;
            Ok(())
        }
    }
}

/// The one position given.
enum Chosen {
    Offset(u64),
    Time(SystemTime),
    Position(pb::StartPosition),
}

impl Position {
    fn chosen(&self) -> Option<Chosen> {
        if let Some(offset) = self.offset {
            Some(Chosen::Offset(offset))
        } else if let Some(time) = self.time {
            Some(Chosen::Time(time))
        } else if self.earliest {
            Some(Chosen::Position(pb::StartPosition::Earliest))
        } else if self.latest {
            Some(Chosen::Position(pb::StartPosition::Latest))
        } else {
            None
        }
    }
}

fn proto_duration(duration: Duration) -> Result<prost_types::Duration, CliError> {
    prost_types::Duration::try_from(duration)
        .map_err(|_| CliError::Input(format!("{duration:?} is too long")))
}

/// A group as one JSON line; durations in milliseconds.
#[derive(serde::Serialize)]
struct GroupLine<'a> {
    topic: &'a str,
    name: &'a str,
    ack_floor: u64,
    next_offset: u64,
    lag: u64,
    members: u32,
    in_flight: u64,
    redeliveries: u64,
    dead_lettered: u64,
    skipped: u64,
    ack_deadline_ms: Option<u128>,
    max_deliveries: u32,
    dead_letter_topic: &'a str,
    out_of_range: &'a str,
    create_time: String,
    problem: &'a str,
}

fn print(
    out: &mut impl Write,
    format: Format,
    groups: &[pb::ConsumerGroup],
) -> Result<(), CliError> {
    match format {
        Format::Json => {
            for group in groups {
                let config = group.config.clone().unwrap_or_default();
                json_line(
                    out,
                    &GroupLine {
                        topic: &group.topic,
                        name: &group.name,
                        ack_floor: group.ack_floor,
                        next_offset: group.next_offset,
                        lag: group.lag,
                        members: group.members,
                        in_flight: group.in_flight,
                        redeliveries: group.redeliveries,
                        dead_lettered: group.dead_lettered,
                        skipped: group.skipped,
                        ack_deadline_ms: config
                            .ack_deadline
                            .and_then(|deadline| Duration::try_from(deadline).ok())
                            .map(|deadline| deadline.as_millis()),
                        max_deliveries: config.max_deliveries,
                        dead_letter_topic: &config.dead_letter_topic,
                        out_of_range: config.out_of_range().as_str_name(),
                        create_time: rfc3339(system_time(group.create_time.as_ref())),
                        problem: &group.problem,
                    },
                )?;
            }
            Ok(())
        }
        Format::Text => print_table(out, groups),
    }
}

const HEADINGS: [&str; 8] = [
    "NAME",
    "ACK FLOOR",
    "LAG",
    "MEMBERS",
    "IN FLIGHT",
    "REDELIVERED",
    "DEAD LETTERS",
    "PROBLEM",
];

fn print_table(out: &mut impl Write, groups: &[pb::ConsumerGroup]) -> Result<(), CliError> {
    if groups.is_empty() {
        writeln!(out, "no consumer groups")?;
        return Ok(());
    }
    let rows: Vec<[String; 8]> = groups
        .iter()
        .map(|group| {
            [
                group.name.clone(),
                group.ack_floor.to_string(),
                group.lag.to_string(),
                group.members.to_string(),
                group.in_flight.to_string(),
                group.redeliveries.to_string(),
                group.dead_lettered.to_string(),
                if group.problem.is_empty() {
                    "-".to_string()
                } else {
                    group.problem.clone()
                },
            ]
        })
        .collect();
    table(out, HEADINGS, &rows)
}
