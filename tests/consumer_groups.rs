//! Consumer groups against the real server: sharing, acknowledgements, redelivery, per-key
//! order, dead letters, resets, retention, and crashes.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventstream::pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// One member of a consumer group, over its own Consume stream.
struct Member {
    requests: mpsc::Sender<pb::ConsumeRequest>,
    responses: tonic::Streaming<pb::ConsumeResponse>,
    /// The group as joined.
    joined: pb::ConsumerGroup,
    /// Deliveries received while waiting for something else.
    pending: Vec<pb::GroupDelivery>,
    /// Offsets whose acknowledgement the server confirmed durable.
    durable: BTreeSet<u64>,
}

impl Member {
    async fn try_join(
        client: &mut Client,
        topic: &str,
        group: &str,
        max_in_flight: u32,
    ) -> Result<Self, tonic::Status> {
        let (requests, outgoing) = mpsc::channel(64);
        requests
            .send(pb::ConsumeRequest {
                join: Some(pb::ConsumeJoin {
                    topic: topic.into(),
                    group: group.into(),
                    max_in_flight,
                }),
                ..Default::default()
            })
            .await
            .expect("queue join");
        let mut responses = within(client.consume(ReceiverStream::new(outgoing)))
            .await?
            .into_inner();
        let first = within(responses.message())
            .await?
            .expect("a first response");
        Ok(Self {
            requests,
            responses,
            joined: first.group.expect("the first response describes the group"),
            pending: Vec::new(),
            durable: BTreeSet::new(),
        })
    }

    async fn join(client: &mut Client, topic: &str, group: &str, max_in_flight: u32) -> Self {
        Self::try_join(client, topic, group, max_in_flight)
            .await
            .expect("join")
    }

    /// The next response, or the status that ended the stream.
    async fn next(&mut self) -> Result<pb::ConsumeResponse, tonic::Status> {
        let response = within(self.responses.message())
            .await?
            .ok_or_else(|| tonic::Status::cancelled("stream ended"))?;
        self.durable.extend(&response.acks_durable);
        Ok(response)
    }

    /// The next deliveries (at least one).
    async fn deliveries(&mut self) -> Vec<pb::GroupDelivery> {
        if !self.pending.is_empty() {
            return std::mem::take(&mut self.pending);
        }
        loop {
            let response = self.next().await.expect("stream open");
            if !response.deliveries.is_empty() {
                return response.deliveries;
            }
        }
    }

    /// Exactly `count` deliveries, across responses.
    async fn take(&mut self, count: usize) -> Vec<pb::GroupDelivery> {
        let mut taken = Vec::new();
        while taken.len() < count {
            taken.extend(self.deliveries().await);
        }
        assert_eq!(taken.len(), count, "more deliveries than expected");
        taken
    }

    async fn send(&self, request: pb::ConsumeRequest) {
        within(self.requests.send(request))
            .await
            .expect("stream open");
    }

    async fn ack(&self, offsets: impl IntoIterator<Item = u64>) {
        self.send(pb::ConsumeRequest {
            acks: offsets.into_iter().collect(),
            ..Default::default()
        })
        .await;
    }

    async fn nack(&self, offset: u64, delay: Duration, reason: &str) {
        self.send(pb::ConsumeRequest {
            nacks: vec![pb::Nack {
                offset,
                delay: Some(delay.try_into().expect("delay")),
                reason: reason.into(),
            }],
            ..Default::default()
        })
        .await;
    }

    /// Acknowledges `offsets` and waits until the server confirms them durable, keeping any
    /// delivery that arrives meanwhile.
    async fn ack_durably(&mut self, offsets: &[u64]) {
        self.ack(offsets.iter().copied()).await;
        while !offsets.iter().all(|offset| self.durable.contains(offset)) {
            let response = self.next().await.expect("stream open");
            self.pending.extend(response.deliveries);
        }
    }
}

fn offsets(deliveries: &[pb::GroupDelivery]) -> Vec<u64> {
    deliveries
        .iter()
        .map(|delivery| delivery.event.as_ref().expect("event").offset)
        .collect()
}

async fn publish_many(
    client: &mut Client,
    topic: &str,
    count: usize,
    key_of: impl Fn(usize) -> String,
) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let events = chunk
            .iter()
            .map(|&index| pb::EventData {
                key: key_of(index),
                ..event("Placed", format!("event {index}"))
            })
            .collect();
        publish(client, topic, events).await;
    }
}

async fn create_group(
    client: &mut Client,
    request: pb::CreateConsumerGroupRequest,
) -> Result<pb::ConsumerGroup, tonic::Status> {
    within(client.create_consumer_group(request))
        .await
        .map(|response| response.into_inner().group.expect("group"))
}

async fn get_group(client: &mut Client, topic: &str, name: &str) -> pb::ConsumerGroup {
    within(client.get_consumer_group(pb::GetConsumerGroupRequest {
        topic: topic.into(),
        name: name.into(),
    }))
    .await
    .expect("get group")
    .into_inner()
    .group
    .expect("group")
}

/// Creates the group `email` of `orders` with `config`, starting at the oldest event.
async fn create_email_group(
    client: &mut Client,
    config: pb::ConsumerGroupConfig,
) -> pb::ConsumerGroup {
    create_group(
        client,
        pb::CreateConsumerGroupRequest {
            topic: "orders".into(),
            name: "email".into(),
            config: Some(config),
            start: None,
        },
    )
    .await
    .expect("create group")
}

/// Resets with `request`, retrying while the group still counts a member that just left: the
/// departure is processed after the member's stream closes.
async fn reset_once_members_left(
    client: &mut Client,
    request: pb::ResetConsumerGroupRequest,
) -> pb::ConsumerGroup {
    within(async {
        loop {
            match client.reset_consumer_group(request.clone()).await {
                Ok(response) => return response.into_inner().group.expect("group"),
                Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(status) => panic!("reset: {status:?}"),
            }
        }
    })
    .await
}

/// Polls GetConsumerGroup until `done` holds (bounded by `TIMEOUT`).
async fn wait_for_group(
    client: &mut Client,
    topic: &str,
    name: &str,
    done: impl Fn(&pb::ConsumerGroup) -> bool,
) -> pb::ConsumerGroup {
    within(async {
        loop {
            let group = get_group(client, topic, name).await;
            if done(&group) {
                return group;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn three_members_share_ten_thousand_events_each_handled_once() {
    const EVENTS: usize = 10_000;
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", EVENTS, |_| String::new()).await;
    let (handled_tx, mut handled) = mpsc::channel::<(usize, u64, u32)>(1024);
    let stop = CancellationToken::new();
    let mut members = Vec::new();
    for index in 0..3 {
        let mut member = Member::join(&mut client, "orders", "email", 100).await;
        let handled_tx = handled_tx.clone();
        let stop = stop.clone();
        members.push(tokio::spawn(async move {
            loop {
                let deliveries = tokio::select! {
                    deliveries = member.deliveries() => deliveries,
                    () = stop.cancelled() => return,
                };
                for delivery in &deliveries {
                    let event = delivery.event.as_ref().expect("event");
                    handled_tx
                        .send((index, event.offset, delivery.attempt))
                        .await
                        .expect("collector");
                }
                member.ack(offsets(&deliveries)).await;
            }
        }));
    }
    let mut per_member = [0usize; 3];
    let mut seen = BTreeSet::new();
    while seen.len() < EVENTS {
        let (member, offset, attempt) = within(handled.recv()).await.expect("deliveries");
        assert!(seen.insert(offset), "offset {offset} handled twice");
        assert_eq!(attempt, 1);
        per_member[member] += 1;
    }
    assert_eq!(seen, (0..EVENTS as u64).collect());
    for share in per_member {
        assert!(share > EVENTS / 6, "uneven split: {per_member:?}");
    }
    let group = wait_for_group(&mut client, "orders", "email", |group| {
        group.ack_floor == EVENTS as u64
    })
    .await;
    assert_eq!((group.lag, group.members, group.redeliveries), (0, 3, 0));
    stop.cancel();
    for member in members {
        within(member).await.expect("member");
    }
}

#[tokio::test]
async fn groups_are_independent_of_each_other_and_of_subscribers() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "payments", 50, |_| String::new()).await;
    for group in ["email", "fraud"] {
        let mut member = Member::join(&mut client, "payments", group, 100).await;
        let delivered = member.take(50).await;
        assert_eq!(offsets(&delivered), (0..50).collect::<Vec<_>>());
        member.ack_durably(&offsets(&delivered)).await;
    }
    assert_eq!(read_all(&mut client, "payments").await.len(), 50);
}

#[tokio::test]
async fn a_departed_members_unacknowledged_events_go_to_the_others() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 200, |_| String::new()).await;
    let mut leaving = Member::join(&mut client, "orders", "email", 50).await;
    let held = offsets(&leaving.take(50).await);
    leaving.ack_durably(&held[..10]).await;
    drop(leaving);
    let mut staying = Member::join(&mut client, "orders", "email", 500).await;
    let mut got = BTreeMap::new();
    while got.len() < 190 {
        for delivery in staying.deliveries().await {
            let offset = delivery.event.as_ref().expect("event").offset;
            assert!(got.insert(offset, delivery.attempt).is_none());
        }
    }
    let expected: BTreeSet<u64> = (0..200)
        .filter(|offset| !held[..10].contains(offset))
        .collect();
    assert_eq!(got.keys().copied().collect::<BTreeSet<_>>(), expected);
    for offset in &held[10..] {
        assert_eq!(got[offset], 2, "offset {offset} is a second attempt");
    }
}

#[tokio::test]
async fn after_kill_9_exactly_the_unacknowledged_events_are_redelivered() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(data_dir.path(), &[]).await;
    let mut client = server.client().await;
    // Keys of their own (an unacknowledged event would hold its key back), so the restart also
    // restores keyed events.
    let key_of = |index: usize| {
        if index.is_multiple_of(2) {
            String::new()
        } else {
            format!("order-{index}")
        }
    };
    publish_many(&mut client, "orders", 1_000, key_of).await;
    let mut member = Member::join(&mut client, "orders", "billing", 300).await;
    let mut delivered = Vec::new();
    let mut acked = BTreeSet::new();
    while acked.len() < 600 {
        let batch = offsets(&member.deliveries().await);
        delivered.extend(&batch);
        let to_ack: Vec<u64> = batch.iter().copied().filter(|o| o % 10 != 3).collect();
        member.ack_durably(&to_ack).await;
        acked.extend(to_ack);
    }
    let confirmed = member.durable.clone();
    assert_eq!(confirmed, acked);
    server.kill().await;

    let server = ChildServer::start(data_dir.path(), &[]).await;
    let mut client = server.client().await;
    let group = get_group(&mut client, "orders", "billing").await;
    let unacked = 1_000 - confirmed.len() as u64;
    assert_eq!(group.lag, unacked);
    let mut member = Member::join(&mut client, "orders", "billing", 1_000).await;
    let mut redelivered = BTreeMap::new();
    while redelivered.len() < unacked as usize {
        let deliveries = member.deliveries().await;
        for delivery in &deliveries {
            let offset = delivery.event.as_ref().expect("event").offset;
            assert!(
                !confirmed.contains(&offset),
                "acknowledged offset {offset} came again"
            );
            assert!(redelivered.insert(offset, delivery.attempt).is_none());
        }
        member.ack(offsets(&deliveries)).await;
    }
    let expected: BTreeSet<u64> = (0..1_000).filter(|o| !confirmed.contains(o)).collect();
    assert_eq!(
        redelivered.keys().copied().collect::<BTreeSet<_>>(),
        expected
    );
    for offset in delivered
        .iter()
        .filter(|offset| !confirmed.contains(offset))
    {
        assert!(
            redelivered[offset] >= 2,
            "offset {offset} was delivered before the crash"
        );
    }
}

#[tokio::test]
async fn per_key_order_holds_across_parallel_members_with_random_delays() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    const EVENTS: usize = 600;
    publish_many(&mut client, "accounts", EVENTS, |index| {
        format!("account-{}", index % 12)
    })
    .await;
    // Every start and end of processing, in the order they happened.
    let journal = Arc::new(Mutex::new(Vec::<(String, u64, bool)>::new()));
    let stop = CancellationToken::new();
    let mut members = Vec::new();
    for seed in 0..3u64 {
        let mut member = Member::join(&mut client, "accounts", "ledger", 8).await;
        let journal = Arc::clone(&journal);
        let stop = stop.clone();
        members.push(tokio::spawn(async move {
            let mut random = fastrand::Rng::with_seed(seed);
            loop {
                let deliveries = tokio::select! {
                    deliveries = member.deliveries() => deliveries,
                    () = stop.cancelled() => return,
                };
                for delivery in deliveries {
                    let event = delivery.event.expect("event");
                    journal
                        .lock()
                        .unwrap()
                        .push((event.key.clone(), event.offset, true));
                    tokio::time::sleep(Duration::from_micros(random.u64(0..2_000))).await;
                    journal
                        .lock()
                        .unwrap()
                        .push((event.key.clone(), event.offset, false));
                    member.ack([event.offset]).await;
                }
            }
        }));
    }
    within(async {
        while journal
            .lock()
            .unwrap()
            .iter()
            .filter(|entry| !entry.2)
            .count()
            < EVENTS
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    stop.cancel();
    for member in members {
        within(member).await.expect("member");
    }
    let mut per_key: HashMap<String, Vec<(u64, bool)>> = HashMap::new();
    for (key, offset, started) in journal.lock().unwrap().iter() {
        per_key
            .entry(key.clone())
            .or_default()
            .push((*offset, *started));
    }
    assert_eq!(per_key.len(), 12);
    for (key, steps) in per_key {
        let mut previous_end = None;
        for pair in steps.chunks(2) {
            let [(start, true), (end, false)] = pair else {
                panic!("{key}: two events of one key were processed at once: {steps:?}");
            };
            assert_eq!(start, end, "{key}: interleaved");
            assert!(
                previous_end.is_none_or(|previous| previous < *start),
                "{key}: out of order"
            );
            previous_end = Some(*end);
        }
    }
}

#[tokio::test]
async fn a_nack_with_a_delay_is_redelivered_after_it() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 1, |_| String::new()).await;
    let mut member = Member::join(&mut client, "orders", "email", 10).await;
    assert_eq!(
        (member.joined.name.as_str(), member.joined.lag),
        ("email", 1)
    );
    let first = member.take(1).await;
    assert_eq!(first[0].attempt, 1);
    let nacked = Instant::now();
    member
        .nack(0, Duration::from_millis(300), "smtp down")
        .await;
    let again = member.take(1).await;
    assert!(nacked.elapsed() >= Duration::from_millis(300));
    assert_eq!((offsets(&again), again[0].attempt), (vec![0], 2));
    let group = get_group(&mut client, "orders", "email").await;
    assert_eq!((group.redeliveries, group.in_flight), (1, 1));
}

#[tokio::test]
async fn a_passed_ack_deadline_redelivers_and_extending_it_does_not() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 2, |_| String::new()).await;
    create_email_group(
        &mut client,
        pb::ConsumerGroupConfig {
            ack_deadline: Some(Duration::from_millis(300).try_into().expect("duration")),
            ..Default::default()
        },
    )
    .await;
    let mut member = Member::join(&mut client, "orders", "email", 10).await;
    let delivered_at = Instant::now();
    assert_eq!(offsets(&member.take(2).await), vec![0, 1]);
    // Offset 1 is kept alive for three deadlines; offset 0 is left to expire.
    let mut redelivered = Vec::new();
    while delivered_at.elapsed() < Duration::from_millis(900) {
        member
            .send(pb::ConsumeRequest {
                extend: vec![1],
                ..Default::default()
            })
            .await;
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_millis(100), member.next()).await
        {
            redelivered.extend(response.deliveries);
        }
    }
    assert!(!redelivered.is_empty(), "offset 0 was not redelivered");
    assert!(offsets(&redelivered).iter().all(|&offset| offset == 0));
    assert_eq!(redelivered[0].attempt, 2);
    member.ack_durably(&[0, 1]).await;
}

#[tokio::test]
async fn an_event_out_of_attempts_goes_to_the_dead_letter_topic() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![
            pb::EventData {
                key: "order-7".into(),
                ..event("OrderPlaced", "poison")
            },
            pb::EventData {
                key: "order-7".into(),
                ..event("OrderPaid", "fine")
            },
        ],
    )
    .await;
    let group = create_email_group(
        &mut client,
        pb::ConsumerGroupConfig {
            max_deliveries: 2,
            ..Default::default()
        },
    )
    .await;
    let dead_letter_topic = group.config.expect("config").dead_letter_topic;
    assert_eq!(dead_letter_topic, "orders.email.dead-letters");
    let mut member = Member::join(&mut client, "orders", "email", 10).await;
    for attempt in 1..=2 {
        let delivery = member.take(1).await;
        assert_eq!(
            (offsets(&delivery), delivery[0].attempt),
            (vec![0], attempt)
        );
        member.nack(0, Duration::ZERO, "template missing").await;
    }
    // The key's next event goes out once the poison one is dead-lettered.
    let next = member.take(1).await;
    assert_eq!(offsets(&next), vec![1]);
    member.ack_durably(&[1]).await;
    let dead = read_all(&mut client, &dead_letter_topic).await;
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!(
        (letter.r#type.as_str(), &letter.payload[..]),
        ("OrderPlaced", &b"poison"[..])
    );
    assert_eq!(letter.key, "order-7");
    for (header, value) in [
        ("eventstream-dead-letter-topic", "orders"),
        ("eventstream-dead-letter-offset", "0"),
        ("eventstream-dead-letter-group", "email"),
        ("eventstream-dead-letter-attempts", "2"),
        ("eventstream-dead-letter-reason", "template missing"),
    ] {
        assert_eq!(
            letter.headers.get(header).map(String::as_str),
            Some(value),
            "{header}"
        );
    }
    let group = wait_for_group(&mut client, "orders", "email", |group| group.ack_floor == 2).await;
    assert_eq!((group.dead_lettered, group.lag), (1, 0));
}

#[tokio::test]
async fn a_group_resets_to_an_offset_and_to_a_time_but_not_with_members() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 5, |_| String::new()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let later = std::time::SystemTime::now();
    publish_many(&mut client, "orders", 5, |_| String::new()).await;
    let mut member = Member::join(&mut client, "orders", "email", 100).await;
    let all = offsets(&member.take(10).await);
    member.ack_durably(&all).await;
    let reset = |target| pb::ResetConsumerGroupRequest {
        topic: "orders".into(),
        name: "email".into(),
        target: Some(target),
    };
    use pb::reset_consumer_group_request::Target;
    let refused = within(client.reset_consumer_group(reset(Target::ToOffset(3))))
        .await
        .expect_err("members are connected");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    drop(member);
    let reset_group = reset_once_members_left(&mut client, reset(Target::ToOffset(3))).await;
    assert_eq!((reset_group.ack_floor, reset_group.lag), (3, 7));
    let mut member = Member::join(&mut client, "orders", "email", 100).await;
    let again = offsets(&member.take(7).await);
    assert_eq!(again, (3..10).collect::<Vec<_>>());
    drop(member);
    let by_time = reset_once_members_left(&mut client, reset(Target::ToTime(later.into()))).await;
    assert_eq!(by_time.ack_floor, 5);
    let out_of_range = within(client.reset_consumer_group(reset(Target::ToOffset(11))))
        .await
        .expect_err("beyond the end");
    assert_eq!(out_of_range.code(), tonic::Code::OutOfRange);
}

#[tokio::test]
async fn a_group_below_the_retained_range_says_so_or_moves_as_its_policy_says() {
    let server = TestServer::start_with(|config| {
        config.retention_interval = Duration::from_millis(50);
    })
    .await;
    let mut client = server.client().await;
    create_topic(
        &mut client,
        "clicks",
        Some(pb::TopicConfig {
            retention_events: 10,
            ..Default::default()
        }),
    )
    .await;
    for (name, policy) in [
        ("strict", pb::OutOfRangePolicy::Unspecified),
        ("forgiving", pb::OutOfRangePolicy::Earliest),
    ] {
        create_group(
            &mut client,
            pb::CreateConsumerGroupRequest {
                topic: "clicks".into(),
                name: name.into(),
                config: Some(pb::ConsumerGroupConfig {
                    out_of_range: policy as i32,
                    ..Default::default()
                }),
                start: None,
            },
        )
        .await
        .expect("create group");
    }
    publish_many(&mut client, "clicks", 100, |_| String::new()).await;
    wait_for_topic(&mut client, "clicks", |topic| topic.first_offset == 90).await;
    let strict = wait_for_group(&mut client, "clicks", "strict", |group| {
        !group.problem.is_empty()
    })
    .await;
    assert_eq!(strict.ack_floor, 0);
    assert!(
        strict.problem.contains("retention removed"),
        "{}",
        strict.problem
    );
    let refused = Member::try_join(&mut client, "clicks", "strict", 10)
        .await
        .err()
        .expect("the group is stuck");
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("ResetConsumerGroup"),
        "{refused:?}"
    );

    let mut member = Member::join(&mut client, "clicks", "forgiving", 100).await;
    assert_eq!(
        offsets(&member.take(10).await),
        (90..100).collect::<Vec<_>>()
    );
    let forgiving = get_group(&mut client, "clicks", "forgiving").await;
    assert_eq!(forgiving.skipped, 90);
}

#[tokio::test]
async fn groups_are_listed_described_and_deleted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 3, |_| String::new()).await;
    for name in ["fraud", "email"] {
        create_group(
            &mut client,
            pb::CreateConsumerGroupRequest {
                topic: "orders".into(),
                name: name.into(),
                config: None,
                start: Some(pb::create_consumer_group_request::Start::Position(
                    pb::StartPosition::Latest as i32,
                )),
            },
        )
        .await
        .expect("create group");
    }
    let listed = within(client.list_consumer_groups(pb::ListConsumerGroupsRequest {
        topic: "orders".into(),
    }))
    .await
    .expect("list")
    .into_inner()
    .groups;
    let names: Vec<&str> = listed.iter().map(|group| group.name.as_str()).collect();
    assert_eq!(names, ["email", "fraud"]);
    assert_eq!((listed[0].ack_floor, listed[0].lag), (3, 0));
    let config = listed[0].config.clone().expect("config");
    assert_eq!(
        config.ack_deadline,
        Some(Duration::from_secs(30).try_into().expect("30 s"))
    );
    let mut member = Member::join(&mut client, "orders", "email", 10).await;
    within(
        client.delete_consumer_group(pb::DeleteConsumerGroupRequest {
            topic: "orders".into(),
            name: "email".into(),
        }),
    )
    .await
    .expect("delete");
    let ended = member.next().await.expect_err("the group is gone");
    assert_eq!(ended.code(), tonic::Code::NotFound, "{ended:?}");
    let missing = within(client.get_consumer_group(pb::GetConsumerGroupRequest {
        topic: "orders".into(),
        name: "email".into(),
    }))
    .await
    .expect_err("deleted");
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn bad_requests_get_clear_statuses() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 3, |_| String::new()).await;
    let create = |name: &str, config: pb::ConsumerGroupConfig| pb::CreateConsumerGroupRequest {
        topic: "orders".into(),
        name: name.into(),
        config: Some(config),
        start: None,
    };
    let too_short = create_group(
        &mut client,
        create(
            "email",
            pb::ConsumerGroupConfig {
                ack_deadline: Some(prost_types::Duration {
                    seconds: 0,
                    nanos: 1,
                }),
                ..Default::default()
            },
        ),
    )
    .await
    .expect_err("deadline too short");
    assert_eq!(
        too_short.code(),
        tonic::Code::InvalidArgument,
        "{too_short:?}"
    );
    let to_itself = create_group(
        &mut client,
        create(
            "email",
            pb::ConsumerGroupConfig {
                max_deliveries: 3,
                dead_letter_topic: "orders".into(),
                ..Default::default()
            },
        ),
    )
    .await
    .expect_err("dead letters to the consumed topic");
    assert_eq!(
        to_itself.code(),
        tonic::Code::InvalidArgument,
        "{to_itself:?}"
    );
    create_group(&mut client, create("email", Default::default()))
        .await
        .expect("create");
    let twice = create_group(&mut client, create("email", Default::default()))
        .await
        .expect_err("exists");
    assert_eq!(twice.code(), tonic::Code::AlreadyExists, "{twice:?}");

    let (requests, outgoing) = mpsc::channel(1);
    requests
        .send(pb::ConsumeRequest {
            acks: vec![1],
            ..Default::default()
        })
        .await
        .expect("queue");
    let no_join = within(client.consume(ReceiverStream::new(outgoing)))
        .await
        .expect_err("no join");
    assert_eq!(no_join.code(), tonic::Code::InvalidArgument, "{no_join:?}");
    assert!(no_join.message().contains("join"), "{no_join:?}");

    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    assert_eq!(offsets(&member.take(1).await), vec![0]);
    member
        .nack(0, Duration::from_secs(25 * 60 * 60), "later")
        .await;
    let too_late = member.next().await.expect_err("a nack delay over 24 h");
    assert_eq!(
        too_late.code(),
        tonic::Code::InvalidArgument,
        "{too_late:?}"
    );
    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    assert_eq!(offsets(&member.take(1).await), vec![0]);
    member.ack([2]).await;
    let never = member
        .next()
        .await
        .expect_err("offset 2 was never delivered");
    assert_eq!(never.code(), tonic::Code::InvalidArgument, "{never:?}");
    assert!(never.message().contains("never delivered"), "{never:?}");
    // The server keeps serving, and the group gives offset 0 to the next member.
    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    let again = member.take(1).await;
    assert_eq!((offsets(&again), again[0].attempt), (vec![0], 3));
}

#[tokio::test]
async fn a_member_that_closes_its_side_leaves_and_its_deliveries_go_to_others() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 4, |_| String::new()).await;
    let mut leaving = Member::join(&mut client, "orders", "email", 2).await;
    assert_eq!(offsets(&leaving.take(2).await), vec![0, 1]);
    let Member {
        requests,
        mut responses,
        ..
    } = leaving;
    drop(requests);
    // The stream ends with OK once the server has read the end of the client's side.
    loop {
        match within(responses.message()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(status) => panic!("ended with {status:?}"),
        }
    }
    let mut staying = Member::join(&mut client, "orders", "email", 10).await;
    let mut got = BTreeMap::new();
    while got.len() < 4 {
        for delivery in staying.deliveries().await {
            got.insert(delivery.event.expect("event").offset, delivery.attempt);
        }
    }
    assert_eq!(got, BTreeMap::from([(0, 2), (1, 2), (2, 1), (3, 1)]));
}

#[tokio::test]
async fn attempts_survive_a_restart_so_max_deliveries_holds_across_it() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(data_dir.path(), &[]).await;
    let mut client = server.client().await;
    publish_many(&mut client, "orders", 1, |_| String::new()).await;
    create_email_group(
        &mut client,
        pb::ConsumerGroupConfig {
            max_deliveries: 2,
            ..Default::default()
        },
    )
    .await;
    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    assert_eq!(member.take(1).await[0].attempt, 1);
    // The attempt is saved by the flush after the delivery, or at shutdown at the latest.
    assert!(server.terminate(TIMEOUT).await.success());

    let server = ChildServer::start(data_dir.path(), &[]).await;
    let mut client = server.client().await;
    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    let again = member.take(1).await;
    assert_eq!(again[0].attempt, 2);
    member.nack(0, Duration::ZERO, "still failing").await;
    let dead = within(async {
        loop {
            let letters = read_all(&mut client, "orders.email.dead-letters").await;
            if !letters.is_empty() {
                return letters;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(dead[0].headers["eventstream-dead-letter-attempts"], "2");
}

#[tokio::test]
async fn a_member_that_stops_reading_its_stream_is_removed_with_an_error() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // Large, so the client's HTTP/2 window fills after a few dozen unread copies.
    publish(
        &mut client,
        "orders",
        vec![event("Big", vec![7; 64 * 1024])],
    )
    .await;
    create_email_group(
        &mut client,
        pb::ConsumerGroupConfig {
            // Every expiry sends the event again, to the only member: its stream fills.
            ack_deadline: Some(Duration::from_millis(1).try_into().expect("duration")),
            ..Default::default()
        },
    )
    .await;
    let mut stalled = Member::join(&mut client, "orders", "email", 1).await;
    let group = wait_for_group(&mut client, "orders", "email", |group| group.members == 0).await;
    assert!(group.redeliveries > 0);
    let ended = within(async {
        loop {
            if let Err(status) = stalled.next().await {
                return status;
            }
        }
    })
    .await;
    assert_eq!(ended.code(), tonic::Code::ResourceExhausted, "{ended:?}");
    assert!(
        ended.message().contains("has not read its stream"),
        "{ended:?}"
    );
    let mut reading = Member::join(&mut client, "orders", "email", 1).await;
    let delivery = reading.take(1).await;
    reading.ack_durably(&offsets(&delivery)).await;
}

#[tokio::test]
async fn dead_letters_that_cannot_be_published_wait_and_say_why() {
    let server = TestServer::start_with(|config| config.auto_create_topics = false).await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;
    publish_many(&mut client, "orders", 1, |_| String::new()).await;
    create_email_group(
        &mut client,
        pb::ConsumerGroupConfig {
            max_deliveries: 1,
            dead_letter_topic: "failed-orders".into(),
            ..Default::default()
        },
    )
    .await;
    within(client.delete_topic(pb::DeleteTopicRequest {
        name: "failed-orders".into(),
    }))
    .await
    .expect("delete the dead-letter topic");
    let mut member = Member::join(&mut client, "orders", "email", 1).await;
    member.take(1).await;
    member.nack(0, Duration::ZERO, "bad").await;
    let group = wait_for_group(&mut client, "orders", "email", |group| {
        !group.problem.is_empty()
    })
    .await;
    assert!(
        group.problem.contains("publishing dead letters fails"),
        "{}",
        group.problem
    );
    assert!(group.problem.contains("failed-orders"), "{}", group.problem);
    assert_eq!((group.ack_floor, group.dead_lettered), (0, 0));
    create_topic(&mut client, "failed-orders", None).await;
    let group = wait_for_group(&mut client, "orders", "email", |group| group.ack_floor == 1).await;
    assert_eq!((group.dead_lettered, group.problem.as_str()), (1, ""));
    assert_eq!(read_all(&mut client, "failed-orders").await.len(), 1);
}
