//! Topic management: create, get, list, naming rules, auto-create.

mod common;
use common::*;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventstream::pb;
use tonic::Code;

/// Names that break the rules: empty, 250 characters, `.`, `..`, a slash, a non-ASCII letter.
fn invalid_names() -> Vec<String> {
    vec![
        String::new(),
        "a".repeat(250),
        ".".into(),
        "..".into(),
        "a/b".into(),
        "é".into(),
    ]
}

fn proto_duration(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

#[tokio::test]
async fn create_topic_returns_the_topic_with_default_dedup_window() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();

    let topic = create_topic(&mut client, "orders", None).await;

    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(topic.name, "orders");
    assert_eq!(
        topic.config,
        Some(pb::TopicConfig {
            retention_age: None,
            retention_events: 0,
            retention_bytes: 0,
            dedup_window: proto_duration(24 * 3600),
        })
    );
    assert_eq!(
        (topic.first_offset, topic.next_offset, topic.size_bytes),
        (0, 0, 0)
    );
    let created = topic.create_time.expect("create_time");
    let created = Duration::new(created.seconds as u64, created.nanos as u32);
    assert!(
        before.saturating_sub(Duration::from_secs(1)) <= created && created <= after,
        "create_time {created:?} not between {before:?} and {after:?}"
    );
    assert_eq!(get_topic(&mut client, "orders").await, topic);
}

#[tokio::test]
async fn create_topic_keeps_given_config_and_fills_in_dedup_window() {
    let server = TestServer::start_with(|config| {
        config.default_dedup_window = Duration::from_secs(3600);
    })
    .await;
    let mut client = server.client().await;

    let given = pb::TopicConfig {
        retention_age: proto_duration(7 * 24 * 3600),
        retention_events: 1000,
        retention_bytes: 1 << 20,
        dedup_window: None,
    };
    let topic = create_topic(&mut client, "orders", Some(given)).await;
    assert_eq!(
        topic.config,
        Some(pb::TopicConfig {
            dedup_window: proto_duration(3600),
            ..given
        })
    );

    let explicit = pb::TopicConfig {
        dedup_window: proto_duration(90),
        ..Default::default()
    };
    let topic = create_topic(&mut client, "payments", Some(explicit)).await;
    assert_eq!(topic.config, Some(explicit));
    assert_eq!(get_topic(&mut client, "payments").await, topic);
}

#[tokio::test]
async fn create_existing_topic_is_already_exists() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;
    publish(&mut client, "orders", vec![event("A", "1")]).await;

    let result = within(client.create_topic(pb::CreateTopicRequest {
        name: "orders".into(),
        config: Some(pb::TopicConfig {
            retention_events: 5,
            ..Default::default()
        }),
    }))
    .await;
    expect_code(result, Code::AlreadyExists);

    // The existing topic is untouched.
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!(topic.next_offset, 1);
    assert_eq!(topic.config.unwrap().retention_events, 0);
}

#[tokio::test]
async fn create_of_auto_created_topic_is_already_exists() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    publish(&mut client, "orders", vec![event("A", "1")]).await;

    let result = within(client.create_topic(pb::CreateTopicRequest {
        name: "orders".into(),
        config: None,
    }))
    .await;
    expect_code(result, Code::AlreadyExists);
}

#[tokio::test]
async fn get_missing_topic_is_not_found() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    expect_code(try_get_topic(&mut client, "missing").await, Code::NotFound);
}

#[tokio::test]
async fn delete_missing_topic_is_not_found() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let result = within(client.delete_topic(pb::DeleteTopicRequest {
        name: "missing".into(),
    }))
    .await;
    expect_code(result, Code::NotFound);
}

#[tokio::test]
async fn list_topics_is_sorted_by_name() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let names = [
        "orders",
        "Zeta",
        "alpha",
        "a_b",
        "a-b",
        "a.b",
        "1st",
        "orders.v2",
        "b",
    ];
    for (i, name) in names.iter().enumerate() {
        if i % 2 == 0 {
            create_topic(&mut client, name, None).await;
        } else {
            publish(&mut client, name, vec![event("A", "1")]).await;
        }
    }

    let listed = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    let listed_names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        listed_names,
        vec![
            "1st",
            "Zeta",
            "a-b",
            "a.b",
            "a_b",
            "alpha",
            "b",
            "orders",
            "orders.v2"
        ]
    );
    for topic in &listed {
        assert_eq!(topic, &get_topic(&mut client, &topic.name).await);
    }
}

#[tokio::test]
async fn list_topics_is_empty_without_topics() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let listed = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    assert_eq!(listed, vec![]);
}

#[tokio::test]
async fn get_topic_reports_offsets_and_size() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    publish(&mut client, "orders", vec![event("A", vec![7; 100]); 3]).await;
    let after_three = get_topic(&mut client, "orders").await;
    assert_eq!((after_three.first_offset, after_three.next_offset), (0, 3));
    assert!(
        after_three.size_bytes >= 300,
        "size_bytes {} below the payloads' 300 bytes",
        after_three.size_bytes
    );

    publish(&mut client, "orders", vec![event("A", vec![7; 100]); 2]).await;
    let after_five = get_topic(&mut client, "orders").await;
    assert_eq!((after_five.first_offset, after_five.next_offset), (0, 5));
    assert!(
        after_five.size_bytes >= after_three.size_bytes + 200,
        "size_bytes grew from {} to only {}",
        after_three.size_bytes,
        after_five.size_bytes
    );
}

#[tokio::test]
async fn invalid_topic_names_are_invalid_argument_on_create() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for name in invalid_names() {
        let result = within(client.create_topic(pb::CreateTopicRequest {
            name: name.clone(),
            config: None,
        }))
        .await;
        let status = expect_code(result, Code::InvalidArgument);
        assert!(!status.message().is_empty(), "no message for {name:?}");
    }
    let listed = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    assert_eq!(listed, vec![]);
}

#[tokio::test]
async fn invalid_topic_names_are_invalid_argument_on_publish() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for name in invalid_names() {
        let result = try_publish(&mut client, &name, vec![event("A", "1")]).await;
        expect_code(result, Code::InvalidArgument);
    }
    let listed = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    assert_eq!(listed, vec![]);
}

#[tokio::test]
async fn invalid_topic_names_are_invalid_argument_on_subscribe() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for name in invalid_names() {
        let status = subscribe_error(&mut client, from_offset(&name, 0)).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{name:?}: {status:?}");
    }
}

#[tokio::test]
async fn invalid_topic_names_are_invalid_argument_on_get_and_delete() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    for name in invalid_names() {
        expect_code(
            try_get_topic(&mut client, &name).await,
            Code::InvalidArgument,
        );
        let result = within(client.delete_topic(pb::DeleteTopicRequest { name })).await;
        expect_code(result, Code::InvalidArgument);
    }
}

#[tokio::test]
async fn topic_name_of_249_characters_is_accepted() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let name = format!("{}{}", "a".repeat(240), "Z9._-Z9._");
    assert_eq!(name.len(), 249);

    let created = create_topic(&mut client, &name, None).await;
    assert_eq!(created.name, name);
    let results = publish(&mut client, &name, vec![event("A", "1")]).await;
    assert_eq!(results[0].offset, 0);
    let events = read_all(&mut client, &name).await;
    assert_eq!(offsets_of(&events), vec![0]);
    assert_eq!(events[0].topic, name);
    assert_eq!(get_topic(&mut client, &name).await.next_offset, 1);
}

#[tokio::test]
async fn without_auto_create_publish_to_missing_topic_is_not_found() {
    let server = TestServer::start_with(|config| config.auto_create_topics = false).await;
    let mut client = server.client().await;

    let result = try_publish(&mut client, "orders", vec![event("A", "1")]).await;
    expect_code(result, Code::NotFound);
    expect_code(try_get_topic(&mut client, "orders").await, Code::NotFound);
}

#[tokio::test]
async fn without_auto_create_subscribe_to_missing_topic_is_not_found() {
    let server = TestServer::start_with(|config| config.auto_create_topics = false).await;
    let mut client = server.client().await;

    let status = subscribe_error(&mut client, from_offset("orders", 0)).await;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    expect_code(try_get_topic(&mut client, "orders").await, Code::NotFound);
}

#[tokio::test]
async fn without_auto_create_created_topic_accepts_publish_and_subscribe() {
    let server = TestServer::start_with(|config| config.auto_create_topics = false).await;
    let mut client = server.client().await;
    create_topic(&mut client, "orders", None).await;

    let results = publish(&mut client, "orders", vec![event("A", "1")]).await;
    assert_eq!(results[0].offset, 0);
    assert_eq!(offsets_of(&read_all(&mut client, "orders").await), vec![0]);
}

#[tokio::test]
async fn with_auto_create_publish_creates_the_topic_with_defaults() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let results = publish(&mut client, "orders", vec![event("A", "1")]).await;
    assert_eq!(results[0].offset, 0);
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!(topic.next_offset, 1);
    assert_eq!(
        topic.config,
        Some(pb::TopicConfig {
            retention_age: None,
            retention_events: 0,
            retention_bytes: 0,
            dedup_window: proto_duration(24 * 3600),
        })
    );
}

#[tokio::test]
async fn with_auto_create_subscribe_creates_the_topic() {
    let server = TestServer::start().await;
    let mut client = server.client().await;

    let mut stream = subscribe(&mut client, from_offset("orders", 0)).await;
    let first = next_response(&mut stream).await;
    assert_eq!(first, pb::SubscribeResponse::from_encoded(vec![], 0, true));
    let topic = get_topic(&mut client, "orders").await;
    assert_eq!((topic.first_offset, topic.next_offset), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_succeed_once() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            within(client.create_topic(pb::CreateTopicRequest {
                name: "orders".into(),
                config: None,
            }))
            .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        match within(task).await.expect("create task") {
            Ok(_) => created += 1,
            Err(status) => assert_eq!(status.code(), Code::AlreadyExists, "{status:?}"),
        }
    }
    assert_eq!(created, 1);
}
