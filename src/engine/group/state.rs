//! The dispatch state of one consumer group: which events are outstanding, which of them may go
//! out next and to which member, and the ack floor.
//!
//! Pure bookkeeping, no I/O and no clock (the caller passes the time), so every rule of the
//! group is tested here: one member per event at a time, members' in-flight limits, per-key
//! order, redelivery after a nack, a deadline or a departure, and dead-lettering.
//!
//! Every offset below `frontier` is either acknowledged or outstanding, so the ack floor is the
//! lowest outstanding offset (or `frontier` when none is) and the acknowledged offsets above it
//! are the gaps between outstanding ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use tokio::time::Instant;

/// Identifies a member for as long as the group's task runs.
pub(super) type MemberId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Waiting for its turn; not before `not_before` when set.
    Waiting { not_before: Option<Instant> },
    /// Delivered to `member`, who has until `deadline` to acknowledge it.
    InFlight { member: MemberId, deadline: Instant },
    /// Out of attempts, being published to the dead-letter topic.
    DeadLettering,
}

#[derive(Debug)]
struct Entry {
    /// The event's key; events of one key go out one at a time, in offset order.
    key: Option<Arc<str>>,
    /// Deliveries so far.
    attempts: u32,
    status: Status,
    /// Why its last delivery failed, for the dead-letter topic.
    last_failure: Option<String>,
}

#[derive(Debug)]
struct Member {
    max_in_flight: usize,
    in_flight: usize,
}

/// One delivery decided by [`GroupState::assign`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Assignment {
    /// Who gets it.
    pub member: MemberId,
    /// The event's offset.
    pub offset: u64,
    /// 1 for the first delivery, 2 for the second, ...
    pub attempt: u32,
}

/// What an acknowledgement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckOutcome {
    /// The event was outstanding and is now acknowledged.
    Acked,
    /// The event was acknowledged (or skipped) before.
    AlreadyDone,
    /// The event was never delivered: acknowledging it would skip it unseen.
    NeverDelivered,
}

/// An event to publish to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeadLetter {
    /// The event's offset.
    pub offset: u64,
    /// Its deliveries.
    pub attempts: u32,
    /// Why its last delivery failed.
    pub reason: String,
}

/// What [`GroupState::assign`] decided.
#[derive(Debug, Default)]
pub(super) struct Dispatch {
    /// Deliveries, in offset order.
    pub deliveries: Vec<Assignment>,
    /// Events out of attempts.
    pub dead_letters: Vec<DeadLetter>,
}

/// The outstanding events of a group and its members' shares of them.
#[derive(Debug)]
pub(super) struct GroupState {
    /// The lowest offset never admitted.
    frontier: u64,
    outstanding: BTreeMap<u64, Entry>,
    /// Outstanding offsets per key, for per-key order.
    keys: HashMap<Arc<str>, BTreeSet<u64>>,
    /// Outstanding events that may go out now.
    ready: BTreeSet<u64>,
    /// Waiting events with a `not_before` in the future.
    delayed: BTreeSet<(Instant, u64)>,
    /// In-flight events by deadline.
    deadlines: BTreeSet<(Instant, u64)>,
    members: BTreeMap<MemberId, Member>,
    /// The member after which the next round-robin turn starts.
    turn: MemberId,
    max_deliveries: Option<u32>,
    /// Deliveries that were a second or later attempt, added since the last
    /// [`GroupState::take_redeliveries`].
    redeliveries: u64,
}

/// The reason given to the dead-letter topic when a delivery's deadline passed.
pub(super) const DEADLINE_PASSED: &str = "ack deadline passed";
/// The reason given to the dead-letter topic when a delivery's member left without an answer.
pub(super) const MEMBER_LEFT: &str = "member disconnected";

impl GroupState {
    /// A group whose ack floor is `floor`, with nothing outstanding yet.
    pub fn new(floor: u64, max_deliveries: Option<u32>) -> Self {
        Self {
            frontier: floor,
            outstanding: BTreeMap::new(),
            keys: HashMap::new(),
            ready: BTreeSet::new(),
            delayed: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            members: BTreeMap::new(),
            turn: 0,
            max_deliveries,
            redeliveries: 0,
        }
    }

    /// The lowest offset never admitted.
    pub fn frontier(&self) -> u64 {
        self.frontier
    }

    /// The lowest offset not yet acknowledged.
    pub fn ack_floor(&self) -> u64 {
        self.outstanding
            .first_key_value()
            .map_or(self.frontier, |(&offset, _)| offset)
    }

    /// Events admitted and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Events delivered and awaiting acknowledgement.
    pub fn in_flight(&self) -> usize {
        self.members.values().map(|member| member.in_flight).sum()
    }

    /// Free delivery slots over all members.
    pub fn capacity(&self) -> usize {
        self.members
            .values()
            .map(|member| member.max_in_flight - member.in_flight)
            .sum()
    }

    /// Whether an event could go out now if a member had room.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Counts offsets below `offset` that were never admitted as acknowledged: they are done.
    pub fn advance_to(&mut self, offset: u64) {
        self.frontier = self.frontier.max(offset);
    }

    /// Adds the event at `offset` (at or after the frontier) as outstanding, with the deliveries
    /// it already had; offsets skipped between the frontier and it count as acknowledged.
    pub fn admit(&mut self, offset: u64, key: Option<Arc<str>>, attempts: u32) {
        debug_assert!(offset >= self.frontier, "offsets are admitted in order");
        self.frontier = offset + 1;
        if let Some(key) = &key {
            self.keys.entry(Arc::clone(key)).or_default().insert(offset);
        }
        self.outstanding.insert(
            offset,
            Entry {
                key,
                attempts,
                status: Status::Waiting { not_before: None },
                last_failure: None,
            },
        );
        self.refresh(offset);
    }

    /// Puts `offset` in the ready set exactly when it may go out now.
    fn refresh(&mut self, offset: u64) {
        self.ready.remove(&offset);
        let Some(entry) = self.outstanding.get(&offset) else {
            return;
        };
        if entry.status != (Status::Waiting { not_before: None }) {
            return;
        }
        let heads_its_key = entry.key.as_ref().is_none_or(|key| {
            self.keys
                .get(key)
                .and_then(|offsets| offsets.first())
                .is_some_and(|&first| first == offset)
        });
        if heads_its_key {
            self.ready.insert(offset);
        }
    }

    /// Adds a member that holds at most `max_in_flight` deliveries at once.
    pub fn join(&mut self, member: MemberId, max_in_flight: usize) {
        self.members.insert(
            member,
            Member {
                max_in_flight,
                in_flight: 0,
            },
        );
    }

    /// Removes a member; its deliveries wait for another.
    pub fn leave(&mut self, member: MemberId) {
        if self.members.remove(&member).is_none() {
            return;
        }
        let held: Vec<u64> = self
            .outstanding
            .iter()
            .filter(|(_, entry)| matches!(entry.status, Status::InFlight { member: holder, .. } if holder == member))
            .map(|(&offset, _)| offset)
            .collect();
        for offset in held {
            self.end_delivery(offset, None, MEMBER_LEFT.to_owned());
        }
    }

    /// Decides the next deliveries: ready events in offset order, each to the next member in
    /// turn with room, until no member has room or nothing is ready. Events out of attempts are
    /// set aside for the dead-letter topic instead.
    pub fn assign(&mut self, deadline: Instant) -> Dispatch {
        let mut dispatch = Dispatch::default();
        while let Some(&offset) = self.ready.first() {
            let Some(entry) = self.outstanding.get_mut(&offset) else {
                self.ready.remove(&offset);
                continue;
            };
            if self.max_deliveries.is_some_and(|max| entry.attempts >= max) {
                entry.status = Status::DeadLettering;
                dispatch.dead_letters.push(DeadLetter {
                    offset,
                    attempts: entry.attempts,
                    reason: entry.last_failure.clone().unwrap_or_default(),
                });
                self.ready.remove(&offset);
                continue;
            }
            let Some(member) = self.next_member() else {
                break;
            };
            self.ready.remove(&offset);
            let Some(entry) = self.outstanding.get_mut(&offset) else {
                continue;
            };
            entry.attempts += 1;
            entry.status = Status::InFlight { member, deadline };
            let attempt = entry.attempts;
            if attempt > 1 {
                self.redeliveries += 1;
            }
            self.deadlines.insert((deadline, offset));
            if let Some(holder) = self.members.get_mut(&member) {
                holder.in_flight += 1;
            }
            dispatch.deliveries.push(Assignment {
                member,
                offset,
                attempt,
            });
        }
        dispatch
    }

    /// The member after the last one served that has room, taking its turn.
    fn next_member(&mut self) -> Option<MemberId> {
        let has_room = |member: &Member| member.in_flight < member.max_in_flight;
        let found = self
            .members
            .range(self.turn + 1..)
            .chain(self.members.range(..=self.turn))
            .find(|(_, member)| has_room(member))
            .map(|(&id, _)| id)?;
        self.turn = found;
        Some(found)
    }

    /// Takes back a delivery that never reached its member, as if it had not been made.
    pub fn undeliver(&mut self, offset: u64) {
        let Some(entry) = self.outstanding.get_mut(&offset) else {
            return;
        };
        let Status::InFlight { member, deadline } = entry.status else {
            return;
        };
        entry.attempts -= 1;
        if entry.attempts > 0 {
            self.redeliveries = self.redeliveries.saturating_sub(1);
        }
        entry.status = Status::Waiting { not_before: None };
        self.deadlines.remove(&(deadline, offset));
        if let Some(holder) = self.members.get_mut(&member) {
            holder.in_flight -= 1;
        }
        self.refresh(offset);
    }

    /// Acknowledges `offset`, from any member: the work is done whoever did it.
    pub fn ack(&mut self, offset: u64) -> AckOutcome {
        match self.outstanding.get(&offset) {
            None if offset < self.frontier => return AckOutcome::AlreadyDone,
            None => return AckOutcome::NeverDelivered,
            Some(entry) if entry.attempts == 0 => return AckOutcome::NeverDelivered,
            Some(_) => {}
        }
        self.finish(offset);
        AckOutcome::Acked
    }

    /// Removes `offset` as done, letting the next event of its key go out.
    fn finish(&mut self, offset: u64) {
        let Some(entry) = self.outstanding.remove(&offset) else {
            return;
        };
        self.ready.remove(&offset);
        match entry.status {
            Status::Waiting {
                not_before: Some(at),
            } => {
                self.delayed.remove(&(at, offset));
            }
            Status::InFlight { member, deadline } => {
                self.deadlines.remove(&(deadline, offset));
                if let Some(holder) = self.members.get_mut(&member) {
                    holder.in_flight -= 1;
                }
            }
            Status::Waiting { not_before: None } | Status::DeadLettering => {}
        }
        if let Some(key) = entry.key {
            let next = self.keys.get_mut(&key).and_then(|offsets| {
                offsets.remove(&offset);
                offsets.first().copied()
            });
            match next {
                Some(next) => self.refresh(next),
                None => {
                    self.keys.remove(&key);
                }
            }
        }
    }

    /// Gives back `member`'s delivery of `offset`, to go out again not before `not_before`.
    /// Returns false if `member` does not hold it.
    pub fn nack(
        &mut self,
        offset: u64,
        member: MemberId,
        not_before: Option<Instant>,
        reason: String,
    ) -> bool {
        if !self.holds(member, offset) {
            return false;
        }
        self.end_delivery(offset, not_before, reason);
        true
    }

    /// Restarts `member`'s deadline for `offset`. Returns false if `member` does not hold it.
    pub fn extend(&mut self, offset: u64, member: MemberId, deadline: Instant) -> bool {
        let Some(entry) = self.outstanding.get_mut(&offset) else {
            return false;
        };
        let Status::InFlight {
            member: holder,
            deadline: old,
        } = entry.status
        else {
            return false;
        };
        if holder != member {
            return false;
        }
        entry.status = Status::InFlight { member, deadline };
        self.deadlines.remove(&(old, offset));
        self.deadlines.insert((deadline, offset));
        true
    }

    fn holds(&self, member: MemberId, offset: u64) -> bool {
        self.outstanding.get(&offset).is_some_and(
            |entry| matches!(entry.status, Status::InFlight { member: holder, .. } if holder == member),
        )
    }

    /// Ends an in-flight delivery unanswered: the event waits to go out again.
    fn end_delivery(&mut self, offset: u64, not_before: Option<Instant>, reason: String) {
        let Some(entry) = self.outstanding.get_mut(&offset) else {
            return;
        };
        let Status::InFlight { member, deadline } = entry.status else {
            return;
        };
        entry.status = Status::Waiting { not_before };
        entry.last_failure = Some(reason);
        self.deadlines.remove(&(deadline, offset));
        if let Some(at) = not_before {
            self.delayed.insert((at, offset));
        }
        if let Some(holder) = self.members.get_mut(&member) {
            holder.in_flight -= 1;
        }
        self.refresh(offset);
    }

    /// Puts a dead letter that could not be published back, to be tried again at `retry_at`.
    pub fn retry_dead_letter(&mut self, offset: u64, retry_at: Instant) {
        if let Some(entry) = self.outstanding.get_mut(&offset)
            && entry.status == Status::DeadLettering
        {
            entry.status = Status::Waiting {
                not_before: Some(retry_at),
            };
            self.delayed.insert((retry_at, offset));
        }
    }

    /// Marks a published dead letter done.
    pub fn dead_lettered(&mut self, offset: u64) {
        self.finish(offset);
    }

    /// Ends deliveries whose deadline passed and releases delays that are over.
    pub fn release_due(&mut self, now: Instant) {
        while let Some(&(at, offset)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.end_delivery(offset, None, DEADLINE_PASSED.to_owned());
        }
        while let Some(&(at, offset)) = self.delayed.first() {
            if at > now {
                break;
            }
            self.delayed.remove(&(at, offset));
            if let Some(entry) = self.outstanding.get_mut(&offset) {
                entry.status = Status::Waiting { not_before: None };
            }
            self.refresh(offset);
        }
    }

    /// When [`GroupState::release_due`] next has something to do.
    pub fn next_due(&self) -> Option<Instant> {
        let deadline = self.deadlines.first().map(|&(at, _)| at);
        let delay = self.delayed.first().map(|&(at, _)| at);
        deadline.into_iter().chain(delay).min()
    }

    /// Forgets everything below `first` (removed by retention); returns how many of those
    /// events were not acknowledged.
    pub fn drop_below(&mut self, first: u64) -> u64 {
        let dropped: Vec<u64> = self.outstanding.range(..first).map(|(&o, _)| o).collect();
        let never_admitted = first.saturating_sub(self.frontier);
        for &offset in &dropped {
            self.finish(offset);
        }
        self.advance_to(first);
        dropped.len() as u64 + never_admitted
    }

    /// The deliveries each outstanding event has had, for those delivered at least once.
    pub fn attempts(&self) -> Vec<(u64, u32)> {
        self.outstanding
            .iter()
            .filter(|(_, entry)| entry.attempts > 0)
            .map(|(&offset, entry)| (offset, entry.attempts))
            .collect()
    }

    /// The acknowledged offsets above the ack floor, as `[start, end)` ranges.
    pub fn acked_above_floor(&self) -> Vec<(u64, u64)> {
        let mut ranges = Vec::new();
        let mut previous: Option<u64> = None;
        for &offset in self.outstanding.keys() {
            if let Some(previous) = previous
                && offset > previous + 1
            {
                ranges.push((previous + 1, offset));
            }
            previous = Some(offset);
        }
        if let Some(previous) = previous
            && self.frontier > previous + 1
        {
            ranges.push((previous + 1, self.frontier));
        }
        ranges
    }

    /// Redeliveries counted since the last call.
    pub fn take_redeliveries(&mut self) -> u64 {
        std::mem::take(&mut self.redeliveries)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(name: &str) -> Option<Arc<str>> {
        Some(Arc::from(name))
    }

    fn offsets(dispatch: &Dispatch) -> Vec<(MemberId, u64)> {
        dispatch
            .deliveries
            .iter()
            .map(|assignment| (assignment.member, assignment.offset))
            .collect()
    }

    #[test]
    fn members_take_turns_within_their_limits() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 2);
        state.join(2, 1);
        for offset in 0..5 {
            state.admit(offset, None, 0);
        }
        let dispatch = state.assign(now);
        assert_eq!(offsets(&dispatch), vec![(1, 0), (2, 1), (1, 2)]);
        assert_eq!(state.capacity(), 0);
        assert_eq!(state.in_flight(), 3);
        assert_eq!(state.ack(1), AckOutcome::Acked);
        assert_eq!(offsets(&state.assign(now)), vec![(2, 3)]);
    }

    #[test]
    fn a_keys_next_event_waits_for_the_previous_ack() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 10);
        state.admit(0, key("a"), 0);
        state.admit(1, key("a"), 0);
        state.admit(2, key("b"), 0);
        state.admit(3, None, 0);
        assert_eq!(offsets(&state.assign(now)), vec![(1, 0), (1, 2), (1, 3)]);
        assert!(state.assign(now).deliveries.is_empty());
        assert_eq!(state.ack(0), AckOutcome::Acked);
        assert_eq!(offsets(&state.assign(now)), vec![(1, 1)]);
    }

    #[test]
    fn a_nacked_key_head_holds_back_its_key_until_redelivered_and_acked() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 10);
        state.admit(0, key("a"), 0);
        state.admit(1, key("a"), 0);
        state.assign(now);
        let later = now + Duration::from_secs(5);
        assert!(state.nack(0, 1, Some(later), "busy".into()));
        assert!(state.assign(now).deliveries.is_empty());
        assert_eq!(state.next_due(), Some(later));
        state.release_due(later);
        let again = state.assign(later);
        assert_eq!(again.deliveries[0].offset, 0);
        assert_eq!(again.deliveries[0].attempt, 2);
        assert_eq!(state.take_redeliveries(), 1);
    }

    #[test]
    fn a_passed_deadline_or_a_departure_frees_the_delivery_for_another_member() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(30);
        let mut state = GroupState::new(0, None);
        state.join(1, 1);
        state.admit(0, None, 0);
        state.admit(1, None, 0);
        state.assign(deadline);
        state.join(2, 1);
        assert_eq!(offsets(&state.assign(deadline)), vec![(2, 1)]);
        state.release_due(deadline);
        let redelivered = state.assign(deadline + Duration::from_secs(30));
        assert_eq!(redelivered.deliveries.len(), 2);
        state.leave(1);
        state.leave(2);
        assert_eq!(state.in_flight(), 0);
        state.join(3, 5);
        let third = state.assign(now);
        assert_eq!(
            third
                .deliveries
                .iter()
                .map(|assignment| assignment.attempt)
                .collect::<Vec<_>>(),
            vec![3, 3]
        );
    }

    #[test]
    fn only_the_holder_may_nack_or_extend_but_anyone_may_ack() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 1);
        state.join(2, 1);
        state.admit(0, None, 0);
        state.assign(now);
        assert!(!state.nack(0, 2, None, String::new()));
        assert!(!state.extend(0, 2, now));
        assert!(state.extend(0, 1, now + Duration::from_secs(60)));
        assert_eq!(state.ack(0), AckOutcome::Acked);
        assert_eq!(state.ack(0), AckOutcome::AlreadyDone);
        assert_eq!(state.ack(7), AckOutcome::NeverDelivered);
        state.admit(1, None, 0);
        state.leave(1);
        state.leave(2);
        assert_eq!(state.ack(1), AckOutcome::NeverDelivered);
    }

    #[test]
    fn the_floor_and_the_acks_above_it_describe_every_acknowledged_offset() {
        let now = Instant::now();
        let mut state = GroupState::new(10, None);
        state.join(1, 100);
        for offset in 10..20 {
            state.admit(offset, None, 0);
        }
        state.assign(now);
        for offset in [10, 11, 13, 14, 17, 19] {
            state.ack(offset);
        }
        assert_eq!(state.ack_floor(), 12);
        assert_eq!(
            state.acked_above_floor(),
            vec![(13, 15), (17, 18), (19, 20)]
        );
        assert_eq!(state.attempts(), vec![(12, 1), (15, 1), (16, 1), (18, 1)]);
    }

    #[test]
    fn events_out_of_attempts_go_to_dead_letters_with_their_last_failure() {
        let now = Instant::now();
        let mut state = GroupState::new(0, Some(2));
        state.join(1, 5);
        state.admit(0, key("a"), 0);
        state.admit(1, key("a"), 0);
        state.assign(now);
        state.nack(0, 1, None, "first".into());
        state.assign(now);
        state.nack(0, 1, None, "boom".into());
        let dispatch = state.assign(now);
        assert!(dispatch.deliveries.is_empty());
        assert_eq!(
            dispatch.dead_letters,
            vec![DeadLetter {
                offset: 0,
                attempts: 2,
                reason: "boom".into()
            }]
        );
        state.dead_lettered(0);
        assert_eq!(offsets(&state.assign(now)), vec![(1, 1)]);
    }

    #[test]
    fn a_dead_letter_that_failed_to_publish_is_tried_again() {
        let now = Instant::now();
        let mut state = GroupState::new(0, Some(1));
        state.join(1, 5);
        state.admit(0, None, 1);
        assert_eq!(state.assign(now).dead_letters.len(), 1);
        let retry = now + Duration::from_secs(1);
        state.retry_dead_letter(0, retry);
        assert!(state.assign(now).dead_letters.is_empty());
        state.release_due(retry);
        assert_eq!(state.assign(retry).dead_letters.len(), 1);
    }

    #[test]
    fn an_undelivered_event_is_as_if_never_sent() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 1);
        state.admit(0, None, 0);
        state.assign(now);
        state.undeliver(0);
        assert_eq!(state.in_flight(), 0);
        assert_eq!(state.assign(now).deliveries[0].attempt, 1);
        assert_eq!(state.take_redeliveries(), 0);
    }

    #[test]
    fn retention_drops_what_it_removed_and_counts_it() {
        let now = Instant::now();
        let mut state = GroupState::new(0, None);
        state.join(1, 10);
        for offset in 0..4 {
            state.admit(offset, key("k"), 0);
        }
        state.assign(now);
        assert_eq!(state.drop_below(2), 2);
        assert_eq!(state.ack_floor(), 2);
        assert_eq!(state.in_flight(), 0);
        assert_eq!(offsets(&state.assign(now)), vec![(1, 2)]);
        assert_eq!(state.drop_below(10), 2 + 6);
        assert_eq!(state.frontier(), 10);
    }
}
