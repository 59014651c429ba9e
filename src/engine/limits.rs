//! Limits on what clients can make the server hold: topics, consumer groups and open
//! subscriptions.
//!
//! A subscription holds a [`SubscriptionSlot`] for as long as its producer task runs, so a slot
//! comes free the moment the stream ends for any reason: the client cancelled or disconnected,
//! the stream finished, the topic was deleted, or the server is shutting down.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::EngineError;

/// A limit a request can run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Open subscriptions on the whole server.
    Subscriptions,
    /// Open subscriptions over one client connection.
    SubscriptionsPerConnection,
    /// Topics on the server.
    Topics,
    /// Consumer groups on the server.
    ConsumerGroups,
}

impl Limit {
    /// The `eventstream serve` flag that sets the limit, so an error can say what to change.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Subscriptions => "--max-subscriptions",
            Self::SubscriptionsPerConnection => "--max-subscriptions-per-connection",
            Self::Topics => "--max-topics",
            Self::ConsumerGroups => "--max-consumer-groups",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Subscriptions => "open subscriptions on this server",
            Self::SubscriptionsPerConnection => "open subscriptions on one connection",
            Self::Topics => "topics",
            Self::ConsumerGroups => "consumer groups",
        })
    }
}

/// Counts open subscriptions against the server-wide and per-connection limits.
pub(super) struct SubscriptionSlots {
    max_total: usize,
    max_per_connection: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    /// Only connections with at least one open subscription have an entry.
    per_connection: HashMap<SocketAddr, usize>,
}

impl SubscriptionSlots {
    pub(super) fn new(max_total: usize, max_per_connection: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_connection,
            counts: Mutex::default(),
        })
    }

    /// Takes a slot for a subscription over `connection` (none: only the server-wide limit
    /// applies), or says which limit is reached.
    pub(super) fn take(
        self: &Arc<Self>,
        connection: Option<SocketAddr>,
    ) -> Result<SubscriptionSlot, EngineError> {
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(EngineError::LimitReached {
                limit: Limit::Subscriptions,
                max: self.max_total,
            });
        }
        let on_connection = connection.map_or(0, |connection| {
            counts.per_connection.get(&connection).copied().unwrap_or(0)
        });
        if connection.is_some() && on_connection >= self.max_per_connection {
            return Err(EngineError::LimitReached {
                limit: Limit::SubscriptionsPerConnection,
                max: self.max_per_connection,
            });
        }
        counts.total += 1;
        if let Some(connection) = connection {
            *counts.per_connection.entry(connection).or_default() += 1;
        }
        Ok(SubscriptionSlot {
            slots: Arc::clone(self),
            connection,
        })
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Every update is a few additions that cannot panic half-way.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open subscription's place under the limits; gives it back when dropped.
pub(super) struct SubscriptionSlot {
    slots: Arc<SubscriptionSlots>,
    connection: Option<SocketAddr>,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts();
        counts.total -= 1;
        if let Some(connection) = self.connection
            && let Some(open) = counts.per_connection.get_mut(&connection)
        {
            *open -= 1;
            if *open == 0 {
                counts.per_connection.remove(&connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<SubscriptionSlot, EngineError>) -> Limit {
        match result {
            Err(EngineError::LimitReached { limit, .. }) => limit,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a slot was granted over the limit"),
        }
    }

    #[test]
    fn slots_come_back_when_dropped() {
        let slots = SubscriptionSlots::new(3, 2);
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("address");
        let b: SocketAddr = "127.0.0.1:1001".parse().expect("address");
        let first = slots.take(Some(a)).expect("first");
        let _second = slots.take(Some(a)).expect("second");
        assert_eq!(
            refused(slots.take(Some(a))),
            Limit::SubscriptionsPerConnection
        );
        let _third = slots.take(Some(b)).expect("other connection");
        assert_eq!(refused(slots.take(None)), Limit::Subscriptions);
        assert_eq!(slots.counts().total, 3);
        drop(first);
        assert_eq!(slots.counts().total, 2);
        let again = slots.take(Some(a)).expect("freed slot");
        drop((again, _second, _third));
        assert!(slots.counts().per_connection.is_empty());
    }

    #[test]
    fn connections_without_subscriptions_are_forgotten() {
        let slots = SubscriptionSlots::new(10, 0);
        let a: SocketAddr = "127.0.0.1:1000".parse().expect("address");
        assert_eq!(
            refused(slots.take(Some(a))),
            Limit::SubscriptionsPerConnection
        );
        assert!(slots.counts().per_connection.is_empty());
        drop(slots.take(None).expect("no connection"));
        assert_eq!(slots.counts().total, 0);
    }
}
