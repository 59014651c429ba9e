//! DeleteTopic: removes the topic with its events and keys, and ends its subscriptions.

mod common;
use common::*;

use std::time::Duration;

use eventstream::pb;
use tonic::Code;

/// How soon a live subscription must end after its topic is deleted.
const PROMPTLY: Duration = Duration::from_secs(5);

async fn delete(client: &mut Client, name: &str) {
    within(client.delete_topic(pb::DeleteTopicRequest {
        name: name.to_string(),
    }))
    .await
    .expect("delete topic");
}

async fn list_names(client: &mut Client) -> Vec<String> {
    within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics
        .into_iter()
        .map(|t| t.name)
        .collect()
}

#[tokio::test]
async fn deleted_topic_is_gone() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(
        &mut client,
        "orders",
        vec![event("A", "1"), event("A", "2")],
    )
    .await;
    publish(&mut client, "payments", vec![event("P", "1")]).await;

    delete(&mut client, "orders").await;

    expect_code(try_get_topic(&mut client, "orders").await, Code::NotFound);
    assert_eq!(list_names(&mut client).await, vec!["payments"]);
    assert_eq!(get_topic(&mut client, "payments").await.next_offset, 1);
    let again = within(client.delete_topic(pb::DeleteTopicRequest {
        name: "orders".into(),
    }))
    .await;
    expect_code(again, Code::NotFound);
}

#[tokio::test]
async fn publishing_after_delete_starts_a_new_topic_at_offset_zero() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Old", "1"); 5]).await;

    delete(&mut client, "orders").await;
    let results = publish(&mut client, "orders", vec![event("New", "1")]).await;

    assert_eq!(results[0].offset, 0);
    let events = read_all(&mut client, "orders").await;
    assert_eq!(offsets_of(&events), vec![0]);
    assert_eq!(events[0].r#type, "New");
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!((topic.first_offset, topic.next_offset), (0, 1));
}

#[tokio::test]
async fn delete_forgets_the_topics_idempotency_keys() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("Seed", "s")]).await;
    publish(&mut client, "orders", vec![keyed_event("A", "x", "k1")]).await;

    delete(&mut client, "orders").await;
    // A different event under the same key is no conflict, and not a duplicate.
    let results = publish(&mut client, "orders", vec![keyed_event("B", "y", "k1")]).await;

    assert_eq!((results[0].offset, results[0].duplicate), (0, false));
}

#[tokio::test]
async fn deleted_topic_can_be_created_again_with_a_new_config() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("A", "1")]).await;

    delete(&mut client, "orders").await;
    let config = pb::TopicConfig {
        retention_events: 3,
        dedup_window: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        ..Default::default()
    };
    let topic = create_topic(&mut client, "orders", Some(config)).await;

    assert_eq!(topic.config, Some(config));
    assert_eq!(
        (topic.first_offset, topic.next_offset, topic.size_bytes),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn deletion_survives_a_restart() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("A", "1")]).await;
    publish(&mut client, "payments", vec![event("P", "1")]).await;
    delete(&mut client, "orders").await;

    let server = server.restart().await;
    let mut client = server.client().await;

    expect_code(try_get_topic(&mut client, "orders").await, Code::NotFound);
    assert_eq!(list_names(&mut client).await, vec!["payments"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_subscriptions_end_promptly_with_not_found() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("A", "1"); 3]).await;
    let mut streams = Vec::new();
    for start in [0, 3] {
        let mut stream = subscribe(&mut client, from_offset("orders", start)).await;
        // Read up to the live end, so the subscription is waiting for new events.
        let (events, last) = collect_events(&mut stream, 3 - start as usize).await;
        assert_eq!(events.len(), 3 - start as usize);
        if !last.caught_up {
            assert!(next_response(&mut stream).await.caught_up);
        }
        streams.push(stream);
    }

    delete(&mut client, "orders").await;

    for mut stream in streams {
        let ended = tokio::time::timeout(PROMPTLY, async {
            loop {
                match stream.message().await {
                    Ok(Some(response)) => assert!(response.events.is_empty(), "{response:?}"),
                    Ok(None) => panic!("stream ended with OK instead of NOT_FOUND"),
                    Err(status) => return status,
                }
            }
        })
        .await
        .expect("subscription still open after the topic was deleted");
        assert_eq!(ended.code(), Code::NotFound, "{ended:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_not_being_read_still_end_with_not_found() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // 32 MiB of history: far more than the server and a connection buffer for one stream.
    for _ in 0..32 {
        publish(
            &mut client,
            "orders",
            vec![event("Big", vec![0; 64 * 1024]); 16],
        )
        .await;
    }
    let mut readers = Vec::new();
    for _ in 0..4 {
        let mut reader = server.client().await;
        let mut stream = subscribe(&mut reader, from_offset("orders", 0)).await;
        let first = next_response(&mut stream).await;
        assert!(!first.caught_up);
        readers.push((reader, stream, first.events));
    }

    // The subscribers stop reading; the topic is deleted meanwhile.
    delete(&mut client, "orders").await;

    for (_reader, mut stream, events) in readers {
        let (events, ended) = read_until_error(&mut stream, events).await;
        assert_cut_short_with(&events, ended, 512, Code::NotFound);
    }
}
