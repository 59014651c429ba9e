//! `eventstream.v1.SubscribeResponse`, written by hand so the server can splice stored events
//! into it.
//!
//! Stored events are kept in the wire form of `eventstream.v1.Event`, and a repeated message
//! field is only tag, length and bytes, so the server encodes a response by copying the stored
//! bytes behind a two- or three-byte frame: no decoding, no re-encoding, whatever the payload
//! size. Clients decode it into ordinary `Event` messages, like any generated type.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

use super::pb;

const EVENTS: u32 = 1;
const NEXT_OFFSET: u32 = 2;
const CAUGHT_UP: u32 = 3;

/// A batch of events, in offset order, with the position to resume from (see the proto).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct SubscribeResponse {
    /// The events of this batch that pass the filters (as decoded by a client).
    pub events: Vec<pb::Event>,
    /// Where to resume: just past the last event the server examined.
    pub next_offset: u64,
    /// True when this response reaches the end of the log as it stood.
    pub caught_up: bool,
    /// Events still in their stored encoding, sent after `events` (only the server sets these).
    encoded_events: Vec<Bytes>,
}

impl SubscribeResponse {
    /// A response carrying already encoded `eventstream.v1.Event` messages.
    pub fn from_encoded(encoded_events: Vec<Bytes>, next_offset: u64, caught_up: bool) -> Self {
        Self {
            events: Vec::new(),
            next_offset,
            caught_up,
            encoded_events,
        }
    }
}

impl prost::Message for SubscribeResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for event in &self.events {
            prost::encoding::message::encode(EVENTS, event, buf);
        }
        for event in &self.encoded_events {
            prost::encoding::encode_key(EVENTS, WireType::LengthDelimited, buf);
            prost::encoding::encode_varint(event.len() as u64, buf);
            buf.put_slice(event);
        }
        if self.next_offset != 0 {
            prost::encoding::uint64::encode(NEXT_OFFSET, &self.next_offset, buf);
        }
        if self.caught_up {
            prost::encoding::bool::encode(CAUGHT_UP, &self.caught_up, buf);
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
            EVENTS => {
                prost::encoding::message::merge_repeated(wire_type, &mut self.events, buf, ctx)
            }
            NEXT_OFFSET => {
                prost::encoding::uint64::merge(wire_type, &mut self.next_offset, buf, ctx)
            }
            CAUGHT_UP => prost::encoding::bool::merge(wire_type, &mut self.caught_up, buf, ctx),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let decoded = prost::encoding::message::encoded_len_repeated(EVENTS, &self.events);
        let encoded: usize = self
            .encoded_events
            .iter()
            .map(|event| {
                prost::encoding::key_len(EVENTS)
                    + prost::encoding::encoded_len_varint(event.len() as u64)
                    + event.len()
            })
            .sum();
        let next_offset = if self.next_offset != 0 {
            prost::encoding::uint64::encoded_len(NEXT_OFFSET, &self.next_offset)
        } else {
            0
        };
        let caught_up = if self.caught_up {
            prost::encoding::bool::encoded_len(CAUGHT_UP, &self.caught_up)
        } else {
            0
        };
        decoded + encoded + next_offset + caught_up
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use prost::Message;

    /// What prost would generate for the proto's SubscribeResponse.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(message, repeated, tag = "1")]
        events: Vec<pb::Event>,
        #[prost(uint64, tag = "2")]
        next_offset: u64,
        #[prost(bool, tag = "3")]
        caught_up: bool,
    }

    /// An event with a 300-byte payload, for encoding tests.
    pub(in crate::api) fn event(offset: u64) -> pb::Event {
        pb::Event {
            id: format!("id-{offset}"),
            topic: "orders".into(),
            offset,
            r#type: "Placed".into(),
            payload: Bytes::from(vec![7; 300]),
            ..Default::default()
        }
    }

    #[test]
    fn spliced_events_encode_exactly_like_generated_code() {
        let events = vec![event(0), event(1)];
        let spliced = SubscribeResponse::from_encoded(
            events
                .iter()
                .map(|e| Bytes::from(e.encode_to_vec()))
                .collect(),
            2,
            true,
        );
        let generated = Generated {
            events: events.clone(),
            next_offset: 2,
            caught_up: true,
        };
        assert_eq!(spliced.encode_to_vec(), generated.encode_to_vec());
        assert_eq!(spliced.encoded_len(), generated.encoded_len());
        let decoded = SubscribeResponse::decode(spliced.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.events, events);
        assert_eq!((decoded.next_offset, decoded.caught_up), (2, true));
    }
}
