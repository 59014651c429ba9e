//! Prometheus metrics of the real binary: after known publish, duplicate, subscribe and error
//! traffic, a plain HTTP scrape of `/metrics` reports exactly that traffic.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use eventstream::pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const API: &str = "eventstream.v1.EventStreamService";

/// One sample of a scrape: metric name, labels, value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape.
struct Scrape(Vec<Sample>);

impl Scrape {
    /// Parses the text exposition format (no escaped quotes occur in our label values).
    fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("sample line");
                let (name, labels) = match series.split_once('{') {
                    Some((name, labels)) => (name, labels.trim_end_matches('}')),
                    None => (series, ""),
                };
                let labels = labels
                    .split("\",")
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| {
                        let (key, value) = pair.split_once("=\"").expect("label");
                        (key.to_string(), value.trim_end_matches('"').to_string())
                    })
                    .collect();
                Sample {
                    name: name.to_string(),
                    labels,
                    value: value.parse().expect("sample value"),
                }
            })
            .collect();
        Self(samples)
    }

    /// The samples of `name` whose labels include `labels`.
    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.0.iter().filter(move |sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(*value))
        })
    }

    /// The value of the one sample of `name` with `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        assert_eq!(found.len(), 1, "samples of {name} {labels:?}");
        found[0].value
    }
}

/// `GET /metrics` over a plain TCP connection.
async fn scrape(addr: SocketAddr, path: &str) -> (String, String) {
    within(async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read response");
        let (head, body) = response.split_once("\r\n\r\n").expect("response head");
        (head.to_string(), body.to_string())
    })
    .await
}

async fn scrape_metrics(addr: SocketAddr) -> Scrape {
    let (head, body) = scrape(addr, "/metrics").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    Scrape::parse(&body)
}

/// The metrics address the server announced.
fn metrics_address(server: &ChildServer) -> SocketAddr {
    server
        .log_lines()
        .iter()
        .find_map(|line| {
            let rest = line.split("serving metrics on http://").nth(1)?;
            rest.split('/').next()?.parse().ok()
        })
        .expect("metrics address in the log")
}

fn keyed(key: &str, payload: &str) -> pb::EventData {
    keyed_event("MetricsTest", payload, key)
}

#[tokio::test]
async fn metrics_count_the_traffic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--metrics-listen=127.0.0.1:0"]).await;
    let metrics = metrics_address(&server);
    let mut client = server.client().await;
    let topic = "orders";

    // Four events written, one duplicate, in two Publish calls.
    let first = vec![
        keyed("k0", "p0"),
        keyed("k1", "payload1"),
        keyed("k2", "p-2"),
    ];
    publish(&mut client, topic, first).await;
    let second = vec![keyed("k1", "payload1"), keyed("k3", "3")];
    let results = publish(&mut client, topic, second).await;
    assert!(results[0].duplicate);
    let payload_bytes = ["p0", "payload1", "p-2", "3"].concat().len() as f64;

    expect_code(
        try_get_topic(&mut client, "no-such-topic").await,
        tonic::Code::NotFound,
    );
    let (delivered, _) = read_topic_to_end(&mut client, topic).await;
    assert_eq!(delivered.len(), 4);
    let mut live = subscribe(&mut client, from_offset(topic, 0)).await;
    let (_, last) = collect_events(&mut live, 4).await;
    assert!(last.caught_up);

    let scraped = scrape_metrics(metrics).await;
    let of_topic = [("topic", topic)];
    assert_eq!(
        scraped.value("eventstream_appended_events_total", &of_topic),
        4.0
    );
    assert_eq!(
        scraped.value("eventstream_appended_bytes_total", &of_topic),
        payload_bytes
    );
    assert_eq!(
        scraped.value("eventstream_duplicate_events_total", &of_topic),
        1.0
    );
    assert_eq!(
        scraped.value("eventstream_publish_duration_seconds_count", &of_topic),
        2.0
    );
    assert_eq!(
        scraped.value("eventstream_commit_events_sum", &of_topic),
        4.0
    );
    assert!(scraped.value("eventstream_fsync_duration_seconds_count", &[]) >= 1.0);
    assert!(scraped.value("eventstream_fsync_requests_sum", &[]) >= 2.0);
    assert_eq!(
        scraped.value("eventstream_topic_first_offset", &of_topic),
        0.0
    );
    assert_eq!(
        scraped.value("eventstream_topic_next_offset", &of_topic),
        4.0
    );
    assert!(scraped.value("eventstream_topic_stored_bytes", &of_topic) > payload_bytes);
    // The read-to-end stream has finished; the live one is open and caught up.
    assert_eq!(
        scraped.value("eventstream_subscriptions_active", &of_topic),
        1.0
    );
    assert_eq!(
        scraped.value("eventstream_subscriber_lag_max", &of_topic),
        0.0
    );
    assert_eq!(
        scraped.value("eventstream_delivered_events_total", &of_topic),
        8.0
    );
    assert!(scraped.value("eventstream_delivered_bytes_total", &of_topic) > 2.0 * payload_bytes);
    let rpcs = |method: &str, code: &str| {
        scraped.value(
            "eventstream_rpcs_total",
            &[("method", &format!("{API}/{method}")), ("code", code)],
        )
    };
    assert_eq!(rpcs("Publish", "Ok"), 2.0);
    assert_eq!(rpcs("GetTopic", "NotFound"), 1.0);
    assert_eq!(rpcs("Subscribe", "Ok"), 1.0);
    // Every histogram has buckets, not quantiles.
    assert!(
        scraped
            .matching("eventstream_publish_duration_seconds_bucket", &of_topic)
            .any(|sample| sample.labels.get("le").map(String::as_str) == Some("0.01"))
    );

    let (head, _) = scrape(metrics, "/other").await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[tokio::test]
async fn a_deleted_topic_leaves_the_gauges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--metrics-listen=127.0.0.1:0"]).await;
    let metrics = metrics_address(&server);
    let mut client = server.client().await;

    publish(&mut client, "doomed", vec![event("T", "x")]).await;
    let before = scrape_metrics(metrics).await;
    assert_eq!(
        before.value("eventstream_topic_next_offset", &[("topic", "doomed")]),
        1.0
    );

    within(client.delete_topic(pb::DeleteTopicRequest {
        name: "doomed".to_string(),
    }))
    .await
    .expect("delete topic");
    let after = scrape_metrics(metrics).await;
    for gauge in [
        "eventstream_topic_first_offset",
        "eventstream_topic_next_offset",
        "eventstream_topic_stored_bytes",
        "eventstream_subscriptions_active",
        "eventstream_subscriber_lag_max",
    ] {
        assert_eq!(
            after.matching(gauge, &[("topic", "doomed")]).count(),
            0,
            "{gauge} of a deleted topic"
        );
    }
    assert_eq!(
        after.value(
            "eventstream_rpcs_total",
            &[("method", &format!("{API}/DeleteTopic")), ("code", "Ok")]
        ),
        1.0
    );
}

/// Scrapes until `done` holds for the scrape (bounded by `TIMEOUT`): gauges follow the group's
/// task, which runs apart from the calls that change it.
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    within(async {
        loop {
            let scraped = scrape_metrics(addr).await;
            if done(&scraped) {
                return scraped;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn consumer_groups_show_their_lag_in_flight_members_and_redeliveries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &["--metrics-listen=127.0.0.1:0"]).await;
    let metrics = metrics_address(&server);
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        (0..10).map(|n| event("T", format!("{n}"))).collect(),
    )
    .await;
    let (requests, outgoing) = tokio::sync::mpsc::channel(4);
    requests
        .send(pb::ConsumeRequest {
            join: Some(pb::ConsumeJoin {
                topic: "orders".into(),
                group: "email".into(),
                max_in_flight: 3,
            }),
            ..Default::default()
        })
        .await
        .expect("join");
    let mut responses =
        within(client.consume(tokio_stream::wrappers::ReceiverStream::new(outgoing)))
            .await
            .expect("consume")
            .into_inner();
    let mut delivered = 0;
    while delivered < 3 {
        let response = within(responses.message())
            .await
            .expect("open")
            .expect("response");
        delivered += response.deliveries.len();
    }
    requests
        .send(pb::ConsumeRequest {
            nacks: vec![pb::Nack {
                offset: 0,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .expect("nack");
    let group = [("topic", "orders"), ("group", "email")];
    let scraped = scrape_until(metrics, |scraped| {
        scraped
            .matching("eventstream_group_redeliveries_total", &group)
            .count()
            == 1
            && scraped.value("eventstream_group_redeliveries_total", &group) == 1.0
    })
    .await;
    assert_eq!(scraped.value("eventstream_group_lag", &group), 10.0);
    assert_eq!(scraped.value("eventstream_group_in_flight", &group), 3.0);
    assert_eq!(scraped.value("eventstream_group_members", &group), 1.0);
    assert_eq!(scraped.value("eventstream_group_stuck", &group), 0.0);
    drop(requests);
    drop(responses);
    server.kill().await;

    // A stored group is reported from the start, before anyone asks for it.
    let server = ChildServer::start(dir.path(), &["--metrics-listen=127.0.0.1:0"]).await;
    let scraped = scrape_until(metrics_address(&server), |scraped| {
        scraped.matching("eventstream_group_lag", &group).count() == 1
    })
    .await;
    assert_eq!(scraped.value("eventstream_group_lag", &group), 10.0);
    assert_eq!(scraped.value("eventstream_group_members", &group), 0.0);
}
