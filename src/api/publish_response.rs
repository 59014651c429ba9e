//! `eventstream.v1.PublishResponse`, written by hand so the server encodes the engine's results
//! as they are.
//!
//! The generated type would take a `PublishResult` per event, each with its id as a `String` and
//! its time as a message: an allocation, a copy and a free per event on every publish, for bytes
//! the encoder can write straight from the result. Clients decode it into ordinary
//! `PublishResult` messages, like any generated type.

use bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};

use super::pb;
use crate::model::{AppendResult, to_proto_time};

const RESULTS: u32 = 1;

/// `PublishResult`'s fields.
const OFFSET: u32 = 1;
const ID: u32 = 2;
const TIME: u32 = 3;
const DUPLICATE: u32 = 4;
const KEY_VERSION: u32 = 5;

/// The length of an event id's text.
const ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// One result per event of the request, in order (see the proto).
#[derive(Clone, PartialEq, Default, Debug)]
pub struct PublishResponse {
    /// The results, as decoded by a client.
    pub results: Vec<pb::PublishResult>,
    /// The results as the engine gave them, encoded after `results` (only the server sets
    /// these).
    appended: Vec<AppendResult>,
}

impl PublishResponse {
    /// The response carrying the engine's `appended` results.
    pub fn from_appended(appended: Vec<AppendResult>) -> Self {
        Self {
            results: Vec::new(),
            appended,
        }
    }
}

/// The encoded length of `result` as a `PublishResult`, without its tag and length.
fn result_len(result: &AppendResult) -> usize {
    let offset = if result.offset != 0 {
        prost::encoding::uint64::encoded_len(OFFSET, &result.offset)
    } else {
        0
    };
    let id = prost::encoding::key_len(ID) + prost::encoding::encoded_len_varint(ID_LEN as u64);
    let time = prost::encoding::message::encoded_len(TIME, &to_proto_time(result.time));
    let duplicate = if result.duplicate {
        prost::encoding::bool::encoded_len(DUPLICATE, &result.duplicate)
    } else {
        0
    };
    let key_version = result.key_version.map_or(0, |version| {
        prost::encoding::uint64::encoded_len(KEY_VERSION, &version)
    });
    offset + id + ID_LEN + time + duplicate + key_version
}

/// Writes `result` as a `PublishResult` field of a `PublishResponse`.
fn encode_result(result: &AppendResult, buf: &mut impl BufMut) {
    prost::encoding::encode_key(RESULTS, WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(result_len(result) as u64, buf);
    if result.offset != 0 {
        prost::encoding::uint64::encode(OFFSET, &result.offset, buf);
    }
    prost::encoding::encode_key(ID, WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(ID_LEN as u64, buf);
    let mut text = uuid::Uuid::encode_buffer();
    buf.put_slice(result.id.hyphenated().encode_lower(&mut text).as_bytes());
    prost::encoding::message::encode(TIME, &to_proto_time(result.time), buf);
    if result.duplicate {
        prost::encoding::bool::encode(DUPLICATE, &result.duplicate, buf);
    }
    if let Some(version) = result.key_version {
        prost::encoding::uint64::encode(KEY_VERSION, &version, buf);
    }
}

impl prost::Message for PublishResponse {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for result in &self.results {
            prost::encoding::message::encode(RESULTS, result, buf);
        }
        for result in &self.appended {
            encode_result(result, buf);
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
            RESULTS => {
                prost::encoding::message::merge_repeated(wire_type, &mut self.results, buf, ctx)
            }
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        let decoded = prost::encoding::message::encoded_len_repeated(RESULTS, &self.results);
        let appended: usize = self
            .appended
            .iter()
            .map(|result| {
                let len = result_len(result);
                prost::encoding::key_len(RESULTS)
                    + prost::encoding::encoded_len_varint(len as u64)
                    + len
            })
            .sum();
        decoded + appended
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Timestamp, id_text};
    use prost::Message;

    /// What prost would generate for the proto's PublishResponse.
    #[derive(Clone, PartialEq, prost::Message)]
    struct Generated {
        #[prost(message, repeated, tag = "1")]
        results: Vec<pb::PublishResult>,
    }

    fn generated(result: &AppendResult) -> pb::PublishResult {
        pb::PublishResult {
            offset: result.offset,
            id: id_text(result.id),
            time: Some(to_proto_time(result.time)),
            duplicate: result.duplicate,
            key_version: result.key_version,
        }
    }

    #[test]
    fn results_encode_exactly_like_generated_code() {
        // Zero and large offsets, times and key versions, with and without the optional fields.
        let appended: Vec<AppendResult> = [
            (0, 0, false, None),
            (1, 1_700_000_000_123_456_789, true, Some(0)),
            (u64::MAX, u64::MAX, false, Some(u64::MAX)),
            (300, 999_999_999, true, None),
        ]
        .into_iter()
        .map(|(offset, time, duplicate, key_version)| AppendResult {
            offset,
            id: uuid::Uuid::now_v7(),
            time: Timestamp(time),
            duplicate,
            key_version,
        })
        .collect();
        let expected = Generated {
            results: appended.iter().map(generated).collect(),
        };
        let response = PublishResponse::from_appended(appended);
        assert_eq!(response.encode_to_vec(), expected.encode_to_vec());
        assert_eq!(response.encoded_len(), expected.encoded_len());
        let decoded = PublishResponse::decode(response.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.results, expected.results);
        assert_eq!(decoded.encode_to_vec(), expected.encode_to_vec());
    }
}
