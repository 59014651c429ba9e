//! Backoff policies for publish retries and subscription reconnects, and the retry loop.

use std::future::Future;
use std::time::{Duration, Instant};

use tonic::Status;

use super::error::{ClientError, describe, is_transient};

/// Exponential backoff with jitter, bounded by attempts and by total time.
///
/// After `n` consecutive transient failures the pause is
/// `min(max_backoff, initial_backoff * multiplier^(n-1))`, randomised by ±`jitter` (a fraction)
/// so that many clients failing together do not retry in lockstep. Retrying stops once
/// `max_attempts` attempts failed (`None`: no limit) or `total_timeout` passed since the first
/// failure (`None`: no limit).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// How many attempts may fail before giving up; `None` for no limit.
    pub max_attempts: Option<u32>,
    /// How long to keep trying, counted from the first attempt; `None` for no limit.
    pub total_timeout: Option<Duration>,
    /// Deadline of one attempt (one RPC, or opening one subscription stream).
    pub attempt_timeout: Duration,
    /// Pause after the first failure.
    pub initial_backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Growth of the pause per failure.
    pub multiplier: f64,
    /// Random spread of each pause, as a fraction of it (0.2: ±20 %).
    pub jitter: f64,
}

impl RetryPolicy {
    /// Publish and topic calls: up to 10 attempts within 30 s, each attempt at most 10 s.
    pub const PUBLISH: RetryPolicy = RetryPolicy {
        max_attempts: Some(10),
        total_timeout: Some(Duration::from_secs(30)),
        attempt_timeout: Duration::from_secs(10),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(2),
        multiplier: 2.0,
        jitter: 0.2,
    };

    /// Subscriptions: reconnect without an attempt limit, but give up after 60 s without a
    /// successful reconnection (the clock restarts whenever a response arrives).
    pub const RECONNECT: RetryPolicy = RetryPolicy {
        max_attempts: None,
        total_timeout: Some(Duration::from_secs(60)),
        ..RetryPolicy::PUBLISH
    };

    /// The pause after `failures` consecutive failures (at least 1).
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let capped = grown.min(self.max_backoff.as_secs_f64());
        let spread = 1.0 + self.jitter * (fastrand::f64() * 2.0 - 1.0);
        Duration::try_from_secs_f64(capped * spread).unwrap_or(self.max_backoff)
    }

    /// True when no further attempt may be made after `failures` failures, `elapsed` time since
    /// the first attempt, and a planned pause of `next_pause`.
    pub fn exhausted(&self, failures: u32, elapsed: Duration, next_pause: Duration) -> bool {
        self.max_attempts.is_some_and(|limit| failures >= limit)
            || self
                .total_timeout
                .is_some_and(|limit| elapsed + next_pause >= limit)
    }

    /// The deadline for the next attempt: `attempt_timeout`, shortened to what is left of
    /// `total_timeout` so that the last attempt cannot overrun the budget.
    fn attempt_deadline(&self, elapsed: Duration) -> Duration {
        let left = self
            .total_timeout
            .map_or(self.attempt_timeout, |total| total.saturating_sub(elapsed));
        self.attempt_timeout.min(left).max(Duration::from_millis(1))
    }
}

impl Default for RetryPolicy {
    /// [`RetryPolicy::PUBLISH`].
    fn default() -> Self {
        RetryPolicy::PUBLISH
    }
}

/// Counts consecutive transient failures against a policy; shared by the publish retry loop and
/// the subscription's reconnect loop.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    failing_since: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            failing_since: None,
        }
    }

    /// Forgets earlier failures: the last attempt got through.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
        self.failing_since = None;
    }

    /// Records a transient failure; returns the pause before the next attempt, or the error to
    /// give up with once the policy is exhausted.
    pub(crate) fn after_failure(
        &mut self,
        what: &str,
        status: &Status,
    ) -> Result<Duration, ClientError> {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        self.failures += 1;
        let pause = self.policy.backoff(self.failures);
        if self.policy.exhausted(self.failures, since.elapsed(), pause) {
            return Err(ClientError::Unavailable {
                what: what.to_string(),
                attempts: self.failures,
                elapsed: since.elapsed(),
                last_error: describe(status),
            });
        }
        Ok(pause)
    }

    /// The deadline for the next attempt.
    pub(crate) fn attempt_deadline(&self) -> Duration {
        let elapsed = self
            .failing_since
            .map_or(Duration::ZERO, |since| since.elapsed());
        self.policy.attempt_deadline(elapsed)
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or `policy` is exhausted. Each attempt
/// gets its deadline as argument and is also cut off locally at that deadline: a reply lost in
/// the network must not leave the caller waiting forever.
pub(crate) async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut backoff = Backoff::new(policy.clone());
    backoff.failing_since = Some(Instant::now());
    loop {
        let deadline = backoff.attempt_deadline();
        let status = match tokio::time::timeout(deadline, attempt(deadline)).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(status)) => status,
            Err(_) => Status::deadline_exceeded(format!("no reply within {deadline:?}")),
        };
        if !is_transient(&status) {
            return Err(ClientError::from_status(status));
        }
        let pause = backoff.after_failure(what, &status)?;
        tracing::info!(
            "{what} failed transiently ({}); retry {} in {pause:.2?}",
            describe(&status),
            backoff.failures
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_within_the_jitter() {
        let policy = RetryPolicy::PUBLISH;
        for failures in 1..20 {
            let base = (0.05 * 2f64.powi(failures as i32 - 1)).min(2.0);
            let pause = policy.backoff(failures).as_secs_f64();
            assert!(
                pause >= base * 0.8 - 1e-9 && pause <= base * 1.2 + 1e-9,
                "{failures}: {pause}"
            );
        }
    }

    #[test]
    fn exhausted_by_attempts_or_by_time() {
        let policy = RetryPolicy::PUBLISH;
        let second = Duration::from_secs(1);
        assert!(!policy.exhausted(9, second, second));
        assert!(policy.exhausted(10, second, second));
        assert!(policy.exhausted(1, Duration::from_secs(29), second));
        assert!(!RetryPolicy::RECONNECT.exhausted(1000, second, second));
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried_and_transient_ones_are() {
        let mut calls = 0;
        let result: Result<(), _> = with_retry(&RetryPolicy::PUBLISH, "Test", |_| {
            calls += 1;
            async { Err(Status::invalid_argument("bad")) }
        })
        .await;
        assert!(matches!(result, Err(ClientError::InvalidArgument(_))));
        assert_eq!(calls, 1);

        let quick = RetryPolicy {
            initial_backoff: Duration::from_millis(1),
            max_attempts: Some(3),
            ..RetryPolicy::PUBLISH
        };
        let mut calls = 0;
        let result: Result<(), _> = with_retry(&quick, "Test", |_| {
            calls += 1;
            async { Err(Status::unavailable("down")) }
        })
        .await;
        assert!(matches!(
            result,
            Err(ClientError::Unavailable { attempts: 3, .. })
        ));
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn an_attempt_that_never_answers_is_cut_off_and_retried() {
        let policy = RetryPolicy {
            attempt_timeout: Duration::from_millis(20),
            initial_backoff: Duration::from_millis(1),
            ..RetryPolicy::PUBLISH
        };
        let mut calls = 0;
        let result = with_retry(&policy, "Test", |_| {
            calls += 1;
            let first = calls == 1;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls, 2);
    }
}
