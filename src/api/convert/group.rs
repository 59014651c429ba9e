//! Conversions of the consumer-group messages.

use std::time::Duration;

use super::{InvalidRequest, duration, proto_duration, start_position, timestamp, topic_name};
use crate::api::pb;
use crate::engine::{MAX_IN_FLIGHT, NackRequest, NewGroup, Settlement, StartAt};
use crate::model::{
    DeadLetters, GroupConfig, GroupInfo, GroupName, MAX_TOPIC_NAME_LEN, OutOfRangePolicy,
    TopicName, to_proto_time,
};

/// A group's ack deadline when the request sets none.
const DEFAULT_ACK_DEADLINE: Duration = Duration::from_secs(30);
/// The shortest ack deadline accepted.
const MIN_ACK_DEADLINE: Duration = Duration::from_millis(1);
/// The longest ack deadline accepted.
const MAX_ACK_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);
/// A member's in-flight limit when its join sets none.
const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// The longest nack delay accepted.
const MAX_NACK_DELAY: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest nack reason accepted, in bytes.
const MAX_REASON_BYTES: usize = 1024;

/// Validates a consumer group's name.
pub fn group_name(name: String) -> Result<GroupName, InvalidRequest> {
    GroupName::new(name.clone()).map_err(|reason| InvalidRequest::GroupName { name, reason })
}

/// Validates a CreateConsumerGroup request.
pub fn new_group(
    request: pb::CreateConsumerGroupRequest,
) -> Result<(TopicName, GroupName, NewGroup), InvalidRequest> {
    use pb::create_consumer_group_request::Start;
    let topic = topic_name(request.topic)?;
    let name = group_name(request.name)?;
    let config = request.config.unwrap_or_default();
    let ack_deadline = match config.ack_deadline {
        None => DEFAULT_ACK_DEADLINE,
        Some(deadline) => duration("config.ack_deadline", deadline)?,
    };
    if !(MIN_ACK_DEADLINE..=MAX_ACK_DEADLINE).contains(&ack_deadline) {
        return Err(InvalidRequest::AckDeadline(ack_deadline));
    }
    let dead_letters = match (config.max_deliveries, config.dead_letter_topic.as_str()) {
        (0, "") => None,
        (0, _) => return Err(InvalidRequest::DeadLetterTopicWithoutLimit),
        (max_deliveries, "") => Some(DeadLetters {
            max_deliveries,
            topic: default_dead_letter_topic(&topic, &name)?,
        }),
        (max_deliveries, dead_letter_topic) => Some(DeadLetters {
            max_deliveries,
            topic: topic_name(dead_letter_topic.to_owned())?,
        }),
    };
    if dead_letters
        .as_ref()
        .is_some_and(|dead_letters| dead_letters.topic == topic)
    {
        return Err(InvalidRequest::DeadLettersToItself);
    }
    let out_of_range = match pb::OutOfRangePolicy::try_from(config.out_of_range) {
        Ok(pb::OutOfRangePolicy::Unspecified | pb::OutOfRangePolicy::Fail) => {
            OutOfRangePolicy::Fail
        }
        Ok(pb::OutOfRangePolicy::Earliest) => OutOfRangePolicy::Earliest,
        Ok(pb::OutOfRangePolicy::Latest) => OutOfRangePolicy::Latest,
        Err(_) => return Err(InvalidRequest::UnknownPolicy(config.out_of_range)),
    };
    let start = match request.start {
        None => StartAt::Earliest,
        Some(Start::FromOffset(offset)) => StartAt::Offset(offset),
        Some(Start::FromTime(time)) => StartAt::Time(timestamp("from_time", time)?),
        Some(Start::Position(position)) => start_position(position)?,
    };
    Ok((
        topic,
        name,
        NewGroup {
            config: GroupConfig {
                ack_deadline,
                dead_letters,
                out_of_range,
            },
            start,
        },
    ))
}

/// `<topic>.<group>.dead-letters`, if that is a valid topic name.
fn default_dead_letter_topic(
    topic: &TopicName,
    group: &GroupName,
) -> Result<TopicName, InvalidRequest> {
    let name = format!("{topic}.{group}.dead-letters");
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(InvalidRequest::DefaultDeadLetterTopicTooLong(name.len()));
    }
    topic_name(name)
}

/// Validates a ResetConsumerGroup request.
pub fn reset_target(
    request: pb::ResetConsumerGroupRequest,
) -> Result<(TopicName, GroupName, StartAt), InvalidRequest> {
    use pb::reset_consumer_group_request::Target;
    let topic = topic_name(request.topic)?;
    let name = group_name(request.name)?;
    let target = match request.target {
        None => return Err(InvalidRequest::NoResetTarget),
        Some(Target::ToOffset(offset)) => StartAt::Offset(offset),
        Some(Target::ToTime(time)) => StartAt::Time(timestamp("to_time", time)?),
        Some(Target::Position(position)) => start_position(position)?,
    };
    Ok((topic, name, target))
}

/// A validated join: the group and the member's in-flight limit.
pub struct Join {
    /// The topic.
    pub topic: TopicName,
    /// The group.
    pub group: GroupName,
    /// The member's in-flight limit.
    pub max_in_flight: usize,
}

/// Validates the first message of a Consume stream.
pub fn join(request: pb::ConsumeRequest) -> Result<Join, InvalidRequest> {
    let join = request.join.ok_or(InvalidRequest::NoJoin)?;
    let max_in_flight = match usize::try_from(join.max_in_flight) {
        Ok(0) => DEFAULT_MAX_IN_FLIGHT,
        Ok(limit) if limit <= MAX_IN_FLIGHT => limit,
        _ => return Err(InvalidRequest::MaxInFlight(join.max_in_flight)),
    };
    Ok(Join {
        topic: topic_name(join.topic)?,
        group: group_name(join.group)?,
        max_in_flight,
    })
}

/// Validates a later message of a Consume stream.
pub fn settlement(request: pb::ConsumeRequest) -> Result<Settlement, InvalidRequest> {
    if request.join.is_some() {
        return Err(InvalidRequest::JoinAgain);
    }
    let nacks = request
        .nacks
        .into_iter()
        .map(|nack| {
            if nack.reason.len() > MAX_REASON_BYTES {
                return Err(InvalidRequest::ReasonTooLong(nack.reason.len()));
            }
            let delay = nack
                .delay
                .map(|delay| duration("nacks.delay", delay))
                .transpose()?
                .unwrap_or_default();
            if delay > MAX_NACK_DELAY {
                return Err(InvalidRequest::NackDelay(delay));
            }
            Ok(NackRequest {
                offset: nack.offset,
                delay,
                reason: nack.reason,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Settlement {
        acks: request.acks,
        nacks,
        extend: request.extend,
    })
}

impl From<GroupInfo> for pb::ConsumerGroup {
    fn from(info: GroupInfo) -> Self {
        let dead_letters = info.config.dead_letters.as_ref();
        Self {
            topic: info.topic.to_string(),
            name: info.name.to_string(),
            config: Some(pb::ConsumerGroupConfig {
                ack_deadline: Some(proto_duration(info.config.ack_deadline)),
                max_deliveries: dead_letters.map_or(0, |dead_letters| dead_letters.max_deliveries),
                dead_letter_topic: dead_letters
                    .map(|dead_letters| dead_letters.topic.to_string())
                    .unwrap_or_default(),
                out_of_range: match info.config.out_of_range {
                    OutOfRangePolicy::Fail => pb::OutOfRangePolicy::Fail,
                    OutOfRangePolicy::Earliest => pb::OutOfRangePolicy::Earliest,
                    OutOfRangePolicy::Latest => pb::OutOfRangePolicy::Latest,
                } as i32,
            }),
            ack_floor: info.ack_floor,
            next_offset: info.next_offset,
            lag: info.lag,
            members: u32::try_from(info.members).unwrap_or(u32::MAX),
            in_flight: info.in_flight,
            redeliveries: info.counters.redeliveries,
            dead_lettered: info.counters.dead_lettered,
            skipped: info.counters.skipped,
            create_time: Some(to_proto_time(info.create_time)),
            problem: info.problem.unwrap_or_default(),
        }
    }
}
