//! Per-RPC observation, as a tower layer around every service of the server: each call runs in
//! a span naming its method, peer and, once known, topic and caller (the token's name); once
//! finished it is counted by method and status code and logged at debug level under the
//! `eventstream::rpc` target. Nothing of the request itself, payloads or metadata, is logged.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use metrics::counter;
use pin_project_lite::pin_project;
use prost::Message;
use tonic::Code;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tracing::Span;

use super::standard::DESCRIPTOR_SETS;
use crate::telemetry::RPCS;

/// The `method` label of calls to paths no service offers.
const UNKNOWN_METHOD: &str = "unknown";

/// Observes every call to the services it wraps.
#[derive(Clone)]
pub struct ObserveLayer {
    /// `package.Service/Method` of every method offered; other paths are labelled
    /// [`UNKNOWN_METHOD`], so clients cannot grow the label set.
    methods: Arc<HashSet<String>>,
}

impl ObserveLayer {
    /// A layer knowing the methods of every service this server offers.
    pub fn new() -> Result<Self, prost::DecodeError> {
        let mut methods = HashSet::new();
        for encoded in DESCRIPTOR_SETS {
            for file in prost_types::FileDescriptorSet::decode(encoded)?.file {
                for service in &file.service {
                    let service_name = match file.package() {
                        "" => service.name().to_string(),
                        package => format!("{package}.{}", service.name()),
                    };
                    for method in &service.method {
                        methods.insert(format!("{service_name}/{}", method.name()));
                    }
                }
            }
        }
        Ok(Self {
            methods: Arc::new(methods),
        })
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            methods: Arc::clone(&self.methods),
        }
    }
}

/// A service wrapped by [`ObserveLayer`].
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    methods: Arc<HashSet<String>>,
}

impl<S, RequestBody, ResponseBody> tower::Service<http::Request<RequestBody>> for Observe<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
{
    type Response = http::Response<ObservedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = ObservedCall<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/');
        let method = if self.methods.contains(path) {
            path.to_string()
        } else {
            UNKNOWN_METHOD.to_string()
        };
        let extensions = request.extensions();
        let peer = extensions
            .get::<TcpConnectInfo>()
            .or_else(|| {
                extensions
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .map(TlsConnectInfo::get_ref)
            })
            .and_then(TcpConnectInfo::remote_addr);
        let span = tracing::info_span!(
            "rpc",
            method = %method,
            peer = peer.map(tracing::field::display),
            topic = tracing::field::Empty,
            caller = tracing::field::Empty,
        );
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ObservedCall {
            inner,
            span: span.clone(),
            outcome: Some(Outcome {
                method,
                span,
                started: Instant::now(),
                finished: false,
            }),
        }
    }
}

/// A call whose status is not known yet. Dropped unfinished, it counts as CANCELLED: the client
/// went away (or the server cut the call short) before a status was sent.
struct Outcome {
    method: String,
    span: Span,
    started: Instant,
    finished: bool,
}

impl Outcome {
    fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        let method = std::mem::take(&mut self.method);
        counter!(RPCS, "method" => method, "code" => format!("{code:?}")).increment(1);
        // Debug level: a line per call is too much for a busy server's normal log.
        tracing::debug!(
            target: "eventstream::rpc",
            parent: &self.span,
            code = ?code,
            elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "rpc finished"
        );
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// The `grpc-status` in `headers` (trailers, or the headers of a trailers-only response).
fn status_in(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|status| Code::from_bytes(status.as_bytes()))
}

pin_project! {
    /// The response future of an observed call.
    pub struct ObservedCall<F> {
        #[pin]
        inner: F,
        span: Span,
        outcome: Option<Outcome>,
    }
}

impl<F, ResponseBody, E> Future for ObservedCall<F>
where
    F: Future<Output = Result<http::Response<ResponseBody>, E>>,
{
    type Output = Result<http::Response<ObservedBody<ResponseBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.enter();
            ready!(this.inner.poll(cx))
        };
        let mut outcome = this.outcome.take();
        match result {
            Ok(response) => {
                // A call failing before its first message has its status in the headers.
                if let (Some(code), Some(outcome)) = (status_in(response.headers()), &mut outcome) {
                    outcome.finish(code);
                }
                let span = this.span.clone();
                Poll::Ready(Ok(response.map(|inner| ObservedBody {
                    inner,
                    span,
                    outcome,
                })))
            }
            Err(error) => {
                if let Some(outcome) = &mut outcome {
                    outcome.finish(Code::Unknown);
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

pin_project! {
    /// The response body of an observed call; its trailers carry the call's status.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        span: Span,
        outcome: Option<Outcome>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        // Streaming responses do their work here, so it belongs to the call's span too.
        let polled = {
            let _entered = this.span.enter();
            this.inner.poll_frame(cx)
        };
        if let (Poll::Ready(frame), Some(outcome)) = (&polled, this.outcome.as_mut()) {
            match frame {
                Some(Ok(frame)) => {
                    if let Some(code) = frame.trailers_ref().and_then(status_in) {
                        outcome.finish(code);
                    }
                }
                // A body failing, or ending without trailers, never sent a status.
                Some(Err(_)) | None => outcome.finish(Code::Unknown),
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
