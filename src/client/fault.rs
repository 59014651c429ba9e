//! Fault injection for tests and demonstrations of the client's retries.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

/// A transport layer (see [`super::ClientBuilder::layer`]) that loses replies on purpose: a
/// call it is armed for reaches the server and is carried out, but the reply is dropped and the
/// caller hears nothing until its attempt times out. That is what a network failure after the
/// server acted looks like, the case idempotency keys exist for.
///
/// ```no_run
/// # async fn demo() -> Result<(), eventstream::client::ClientError> {
/// use eventstream::client::{Client, event, fault::LoseReplies};
///
/// let lose = LoseReplies::default();
/// let client = Client::builder("http://127.0.0.1:50051").layer(lose.clone()).connect_lazy()?;
/// lose.lose_next(1);
/// let published = client.publish("orders", vec![event("OrderPlaced", "{}")]).await?;
/// assert!(published[0].duplicate); // the retry found the first attempt's append
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct LoseReplies {
    armed: Arc<AtomicU32>,
    lost: Arc<AtomicU32>,
}

impl LoseReplies {
    /// Loses the replies of the next `count` calls (of any method) made through the client.
    pub fn lose_next(&self, count: u32) {
        self.armed.store(count, Ordering::SeqCst);
    }

    /// How many replies were lost so far.
    pub fn lost(&self) -> u32 {
        self.lost.load(Ordering::SeqCst)
    }

    /// Takes one armed loss, if any is left.
    fn take_one(&self) -> bool {
        self.armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }
}

impl<S> tower::Layer<S> for LoseReplies {
    type Service = LoseRepliesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoseRepliesService {
            inner,
            faults: self.clone(),
        }
    }
}

/// The service [`LoseReplies`] wraps a transport in.
#[derive(Debug, Clone)]
pub struct LoseRepliesService<S> {
    inner: S,
    faults: LoseReplies,
}

impl<S, Request> tower::Service<Request> for LoseRepliesService<S>
where
    S: tower::Service<Request>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let lose = self.faults.take_one();
        let faults = self.faults.clone();
        let reply = self.inner.call(request);
        Box::pin(async move {
            let response = reply.await?;
            if !lose {
                return Ok(response);
            }
            // A unary reply's headers arrive only after the server finished the call, so the
            // call has taken effect by now; drop the reply and go silent.
            faults.lost.fetch_add(1, Ordering::SeqCst);
            drop(response);
            std::future::pending().await
        })
    }
}
