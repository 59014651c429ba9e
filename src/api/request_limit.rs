//! The request size limit, `--max-request-bytes`.
//!
//! tonic refuses an oversized message itself, but with OUT_OF_RANGE and a message that does not
//! say which setting to change. This layer reads the length prefix of every gRPC message in a
//! request body and fails the body with RESOURCE_EXHAUSTED (the code the gRPC spec gives a
//! message over the receiver's limit) naming the limit, before the message is buffered. Only
//! that call fails: the connection and the server carry on.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Status;
use tower::util::MapRequestLayer;

/// A gRPC message's prefix: a compression flag and a big-endian u32 length.
const PREFIX_BYTES: usize = 5;

/// Wraps every request body so that a message over `max_bytes` fails the call.
pub fn layer(
    max_bytes: usize,
) -> MapRequestLayer<
    impl Fn(http::Request<tonic::body::Body>) -> http::Request<tonic::body::Body> + Clone,
> {
    MapRequestLayer::new(move |request: http::Request<tonic::body::Body>| {
        request.map(|body| tonic::body::Body::new(LimitedBody::new(body, max_bytes)))
    })
}

pin_project! {
    /// A request body whose gRPC messages are checked against the limit as they stream in.
    struct LimitedBody<B> {
        #[pin]
        inner: B,
        max_bytes: usize,
        framing: Framing,
        // The error to end the body with, once the data before the oversized message is out.
        refusal: Option<Status>,
    }
}

impl<B> LimitedBody<B> {
    fn new(inner: B, max_bytes: usize) -> Self {
        Self {
            inner,
            max_bytes,
            framing: Framing::default(),
            refusal: None,
        }
    }
}

/// Where the body stands in the stream of length-prefixed messages.
#[derive(Debug, Default)]
struct Framing {
    prefix: [u8; PREFIX_BYTES],
    /// Bytes of `prefix` received so far.
    prefix_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
}

impl Framing {
    /// Follows `data`. If it completes the prefix of a message over `max_bytes`, returns that
    /// message's length and how many bytes of `data` come before its prefix: the end of the
    /// messages before it, which are still delivered.
    fn follow(&mut self, data: &[u8], max_bytes: usize) -> Option<Oversized> {
        let mut at = 0;
        let mut prefix_start = 0;
        while at < data.len() {
            if self.remaining > 0 {
                let skipped =
                    (data.len() - at).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= skipped as u64;
                at += skipped;
                continue;
            }
            if self.prefix_len == 0 {
                prefix_start = at;
            }
            let taken = (data.len() - at).min(PREFIX_BYTES - self.prefix_len);
            self.prefix[self.prefix_len..self.prefix_len + taken]
                .copy_from_slice(&data[at..at + taken]);
            self.prefix_len += taken;
            at += taken;
            if self.prefix_len == PREFIX_BYTES {
                self.prefix_len = 0;
                let [_, length @ ..] = self.prefix;
                let length = u64::from(u32::from_be_bytes(length));
                if length > max_bytes as u64 {
                    return Some(Oversized {
                        length,
                        before: prefix_start,
                    });
                }
                self.remaining = length;
            }
        }
        None
    }
}

/// A message over the limit, found in a chunk of the body.
#[derive(Debug, PartialEq)]
struct Oversized {
    /// The message's length.
    length: u64,
    /// Bytes of the chunk before the message's prefix.
    before: usize,
}

impl<B> Body for LimitedBody<B>
where
    B: Body<Data = Bytes, Error = Status>,
{
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if let Some(refusal) = this.refusal.take() {
            return Poll::Ready(Some(Err(refusal)));
        }
        let frame = match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        let Some(data) = frame.data_ref() else {
            return Poll::Ready(Some(Ok(frame)));
        };
        let Some(oversized) = this.framing.follow(data, *this.max_bytes) else {
            return Poll::Ready(Some(Ok(frame)));
        };
        let refusal = Status::resource_exhausted(format!(
            "request message of {} bytes is over the server's limit of {} bytes (--max-request-bytes)",
            oversized.length, this.max_bytes
        ));
        if oversized.before == 0 {
            return Poll::Ready(Some(Err(refusal)));
        }
        // The messages before it are answered first, as if it had come in a frame of its own.
        let before = data.slice(..oversized.before);
        *this.refusal = Some(refusal);
        Poll::Ready(Some(Ok(Frame::data(before))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(length: u32) -> Vec<u8> {
        let mut bytes = vec![0];
        bytes.extend(length.to_be_bytes());
        bytes.resize(PREFIX_BYTES + length as usize, 7);
        bytes
    }

    #[test]
    fn finds_the_oversized_message_across_chunk_boundaries() {
        let mut stream = message(10);
        stream.extend(message(0));
        stream.extend(message(10));
        let oversized_at = stream.len();
        stream.extend(message(11));
        for chunk in 1..stream.len() {
            let mut framing = Framing::default();
            let found = stream.chunks(chunk).enumerate().find_map(|(index, data)| {
                framing
                    .follow(data, 10)
                    .map(|oversized| (index * chunk, oversized))
            });
            let (chunk_start, oversized) = found.expect("oversized message found");
            assert_eq!(oversized.length, 11, "chunks of {chunk} bytes");
            assert_eq!(
                chunk_start + oversized.before,
                oversized_at.max(chunk_start),
                "chunks of {chunk} bytes"
            );
        }
        let mut framing = Framing::default();
        assert_eq!(framing.follow(&stream[..oversized_at], 10), None);
    }
}
