//! `eventstream.v1.ConsumeResponse`, written by hand so the server can splice stored events into
//! its deliveries, as [`super::subscribe_response`] does for Subscribe.
//!
//! A `GroupDelivery` is the stored event (field 1) and the attempt (field 2), so the server frames
//! each stored event twice, as the delivery and as its event, and appends the attempt.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

use super::pb;

const DELIVERIES: u32 = 1;
const ACKS_DURABLE: u32 = 2;
const GROUP: u32 = 3;
const DELIVERY_EVENT: u32 = 1;
const DELIVERY_ATTEMPT: u32 = 2;

/// One message to a consumer group member (see the proto).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct ConsumeResponse {
    /// Events for this member (as decoded by a client).
    pub deliveries: Vec<pb::GroupDelivery>,
    /// Offsets whose acknowledgement by this member is durable.
    pub acks_durable: Vec<u64>,
    /// The group joined; in the first response only.
    pub group: Option<pb::ConsumerGroup>,
    /// Deliveries with their event still in its stored encoding (only the server sets these).
    encoded_deliveries: Vec<(Bytes, u32)>,
}

impl ConsumeResponse {
    /// A response carrying already encoded `eventstream.v1.Event` messages with their attempts.
    pub fn from_encoded(encoded_deliveries: Vec<(Bytes, u32)>) -> Self {
        Self {
            encoded_deliveries,
            ..Self::default()
        }
    }

    /// The first response of a stream: the group joined.
    pub fn joined(group: pb::ConsumerGroup) -> Self {
        Self {
            group: Some(group),
            ..Self::default()
        }
    }

    /// A confirmation that these acknowledgements are durable.
    pub fn acks_durable(offsets: Vec<u64>) -> Self {
        Self {
            acks_durable: offsets,
            ..Self::default()
        }
    }
}

/// The length of a `GroupDelivery` holding `event` and `attempt`.
fn delivery_len(event: &Bytes, attempt: u32) -> usize {
    let event_len = prost::encoding::key_len(DELIVERY_EVENT)
        + prost::encoding::encoded_len_varint(event.len() as u64)
        + event.len();
    let attempt_len = if attempt != 0 {
        prost::encoding::uint32::encoded_len(DELIVERY_ATTEMPT, &attempt)
    } else {
        0
    };
    event_len + attempt_len
}

impl prost::Message for ConsumeResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for delivery in &self.deliveries {
            prost::encoding::message::encode(DELIVERIES, delivery, buf);
        }
        for (event, attempt) in &self.encoded_deliveries {
            prost::encoding::encode_key(DELIVERIES, WireType::LengthDelimited, buf);
            prost::encoding::encode_varint(delivery_len(event, *attempt) as u64, buf);
            prost::encoding::encode_key(DELIVERY_EVENT, WireType::LengthDelimited, buf);
            prost::encoding::encode_varint(event.len() as u64, buf);
            buf.put_slice(event);
            if *attempt != 0 {
                prost::encoding::uint32::encode(DELIVERY_ATTEMPT, attempt, buf);
            }
        }
        prost::encoding::uint64::encode_packed(ACKS_DURABLE, &self.acks_durable, buf);
        if let Some(group) = &self.group {
            prost::encoding::message::encode(GROUP, group, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            DELIVERIES => {
                prost::encoding::message::merge_repeated(wire_type, &mut self.deliveries, buf, ctx)
            }
            ACKS_DURABLE => {
                prost::encoding::uint64::merge_repeated(wire_type, &mut self.acks_durable, buf, ctx)
            }
            GROUP => prost::encoding::message::merge(
                wire_type,
                self.group.get_or_insert_with(Default::default),
                buf,
                ctx,
            ),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let decoded = prost::encoding::message::encoded_len_repeated(DELIVERIES, &self.deliveries);
        let encoded: usize = self
            .encoded_deliveries
            .iter()
            .map(|(event, attempt)| {
                let len = delivery_len(event, *attempt);
                prost::encoding::key_len(DELIVERIES)
                    + prost::encoding::encoded_len_varint(len as u64)
                    + len
            })
            .sum();
        let acks = prost::encoding::uint64::encoded_len_packed(ACKS_DURABLE, &self.acks_durable);
        let group = self.group.as_ref().map_or(0, |group| {
            prost::encoding::message::encoded_len(GROUP, group)
        });
        decoded + encoded + acks + group
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::subscribe_response::tests::event;
    use prost::Message;

    /// What prost would generate for the proto's ConsumeResponse.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(message, repeated, tag = "1")]
        deliveries: Vec<pb::GroupDelivery>,
        #[prost(uint64, repeated, tag = "2")]
        acks_durable: Vec<u64>,
        #[prost(message, optional, tag = "3")]
        group: Option<pb::ConsumerGroup>,
    }

    #[test]
    fn spliced_deliveries_encode_exactly_like_generated_code() {
        let deliveries = vec![
            pb::GroupDelivery {
                event: Some(event(0)),
                attempt: 1,
            },
            pb::GroupDelivery {
                event: Some(event(1)),
                attempt: 300,
            },
        ];
        let spliced = ConsumeResponse::from_encoded(
            deliveries
                .iter()
                .map(|delivery| {
                    let event = delivery.event.as_ref().unwrap();
                    (Bytes::from(event.encode_to_vec()), delivery.attempt)
                })
                .collect(),
        );
        let generated = Generated {
            deliveries: deliveries.clone(),
            acks_durable: Vec::new(),
            group: None,
        };
        assert_eq!(spliced.encode_to_vec(), generated.encode_to_vec());
        assert_eq!(spliced.encoded_len(), generated.encoded_len());
        let decoded = ConsumeResponse::decode(spliced.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.deliveries, deliveries);
    }

    #[test]
    fn confirmations_and_the_group_round_trip() {
        let response = ConsumeResponse {
            acks_durable: vec![3, 9, 1_000_000],
            group: Some(pb::ConsumerGroup {
                name: "email".into(),
                lag: 5,
                ..Default::default()
            }),
            ..Default::default()
        };
        let generated = Generated {
            deliveries: Vec::new(),
            acks_durable: response.acks_durable.clone(),
            group: response.group.clone(),
        };
        assert_eq!(response.encode_to_vec(), generated.encode_to_vec());
        assert_eq!(
            ConsumeResponse::decode(response.encode_to_vec().as_slice()).unwrap(),
            response
        );
    }
}
