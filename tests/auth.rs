//! Token authentication and per-topic authorization against the real server binary started with
//! `--auth-file`: UNAUTHENTICATED without a valid token, PERMISSION_DENIED without the permission
//! on the topic, ListTopics filtered, tokens never logged; the CLI's `--token`,
//! `EVENTSTREAM_TOKEN` and `token new`.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{ChildServer, TIMEOUT, channel, within};
use eventstream::client::{Client, ClientError, RetryPolicy, StartAt, SubscribeOptions, event};
use eventstream::pb;
use eventstream::pb::event_stream_service_client::EventStreamServiceClient;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Every topic: create, delete, publish, subscribe.
const ADMIN: &str = "es_admin-token-for-tests";
/// Subscribe to `orders.*` only.
const READER: &str = "es_reader-token-for-tests";
/// Publish to `orders.*` only.
const WRITER: &str = "es_writer-token-for-tests";

fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Writes the auth file of the three tokens into `dir`.
fn write_auth_file(dir: &Path) -> PathBuf {
    let path = dir.join("auth.toml");
    let text = format!(
        r#"
[[token]]
name = "ops"
sha256 = "{}"
admin = ["*"]
publish = ["*"]
subscribe = ["*"]

[[token]]
name = "reader"
sha256 = "{}"
subscribe = ["orders.*"]

[[token]]
name = "writer"
sha256 = "{}"
publish = ["orders.*"]
"#,
        sha256_hex(ADMIN),
        sha256_hex(READER),
        sha256_hex(WRITER)
    );
    std::fs::write(&path, text).expect("write auth file");
    path
}

/// A server with the three tokens, logging at debug level (every call, with its span).
async fn start() -> (tempfile::TempDir, ChildServer) {
    let dir = tempfile::tempdir().expect("temp dir");
    let auth = format!("--auth-file={}", write_auth_file(dir.path()).display());
    let server = ChildServer::start_with_env(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &dir.path().join("data"),
        &[&auth],
        &[("RUST_LOG", "debug")],
    )
    .await;
    (dir, server)
}

/// A client sending `token` (none if `None`) that does not retry.
fn client(server: &ChildServer, token: Option<&str>) -> Client {
    let mut builder =
        Client::builder(&format!("http://{}", server.addr)).publish_retry(RetryPolicy {
            max_attempts: Some(3),
            ..RetryPolicy::PUBLISH
        });
    if let Some(token) = token {
        builder = builder.token(token);
    }
    builder.connect_lazy().expect("client")
}

/// Stops the server and checks no token appears in anything it logged, while the callers'
/// names do.
async fn assert_tokens_never_logged(server: ChildServer, names: &[&str]) {
    let (_, log) = server.terminate_with_log(TIMEOUT).await;
    for token in [ADMIN, READER, WRITER, "wrong-token"] {
        let leaks: Vec<&String> = log.iter().filter(|line| line.contains(token)).collect();
        assert!(leaks.is_empty(), "the log shows a token: {leaks:?}");
    }
    let calls: Vec<&String> = log.iter().filter(|line| line.contains("rpc{")).collect();
    for name in names {
        assert!(
            calls
                .iter()
                .any(|line| line.contains(&format!("caller=\"{name}\""))),
            "no call attributed to {name}: {calls:?}"
        );
    }
}

fn code_of<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> Code {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let (_dir, server) = start().await;
    assert!(
        server.log_lines()[0].contains("authentication on: 3 tokens"),
        "{:?}",
        server.log_lines()
    );
    for token in [None, Some("wrong-token"), Some(&READER[1..])] {
        let client = client(&server, token);
        let listed = within(client.list_topics()).await;
        assert!(
            matches!(listed, Err(ClientError::Unauthenticated(_))),
            "{token:?}: {listed:?}"
        );
        let published = within(client.publish("orders.eu", vec![event("Placed", "1")])).await;
        assert!(
            matches!(published, Err(ClientError::Unauthenticated(_))),
            "{token:?}: {published:?}"
        );
        let mut grpc = client.grpc();
        let subscribed = within(grpc.subscribe(pb::SubscribeRequest {
            topic: "orders.eu".to_string(),
            ..Default::default()
        }))
        .await;
        assert_eq!(code_of(subscribed), Code::Unauthenticated, "{token:?}");
    }
    // A token under another scheme is no bearer token.
    let mut basic = EventStreamServiceClient::with_interceptor(
        channel(server.addr).await,
        |mut request: tonic::Request<()>| {
            request.metadata_mut().insert(
                "authorization",
                format!("Basic {ADMIN}").parse().expect("metadata value"),
            );
            Ok(request)
        },
    );
    let listed = within(basic.list_topics(pb::ListTopicsRequest {})).await;
    assert_eq!(code_of(listed), Code::Unauthenticated);

    // Health checks stay open: probes carry no token.
    let mut health = HealthClient::new(channel(server.addr).await);
    within(health.check(HealthCheckRequest {
        service: String::new(),
    }))
    .await
    .expect("health check without a token");
    assert_tokens_never_logged(server, &[]).await;
}

#[tokio::test]
async fn each_token_may_do_only_what_it_was_granted() {
    let (_dir, server) = start().await;
    let admin = client(&server, Some(ADMIN));
    let reader = client(&server, Some(READER));
    let writer = client(&server, Some(WRITER));

    for topic in ["orders.eu", "orders.us", "payments"] {
        within(admin.create_topic(topic, Default::default()))
            .await
            .expect("admin creates");
    }
    let created = within(writer.create_topic("orders.asia", Default::default())).await;
    assert!(
        matches!(&created, Err(ClientError::PermissionDenied(message)) if message.contains("admin")),
        "{created:?}"
    );
    let published = within(writer.publish("orders.eu", vec![event("Placed", "1")]))
        .await
        .expect("writer publishes to orders.eu");

    // The reader: subscribe to orders.*, nothing else.
    let mut subscription = reader.subscribe(
        SubscribeOptions::new("orders.eu")
            .start(StartAt::Offset(published[0].offset))
            .stop_at_end(true),
    );
    let delivered = within(subscription.next())
        .await
        .expect("reader subscribes");
    assert_eq!(
        delivered.map(|event| event.r#type),
        Some("Placed".to_string())
    );
    let denied = within(reader.publish("orders.eu", vec![event("Placed", "2")])).await;
    assert!(
        matches!(&denied, Err(ClientError::PermissionDenied(message))
            if message.contains("reader") && message.contains("publish")),
        "{denied:?}"
    );
    let mut grpc = reader.grpc();
    let subscribed = within(grpc.subscribe(pb::SubscribeRequest {
        topic: "payments".to_string(),
        ..Default::default()
    }))
    .await;
    assert_eq!(code_of(subscribed), Code::PermissionDenied);
    let described = within(reader.get_topic("payments")).await;
    assert!(
        matches!(described, Err(ClientError::PermissionDenied(_))),
        "{described:?}"
    );
    // Refused before the lookup: a missing topic is not told apart from a forbidden one.
    let missing = within(reader.get_topic("secret")).await;
    assert!(
        matches!(missing, Err(ClientError::PermissionDenied(_))),
        "{missing:?}"
    );
    within(reader.get_topic("orders.eu"))
        .await
        .expect("reader describes orders.eu");
    // GetCursor reads what subscribers store: it needs subscribe (a cursor never set is
    // NOT_FOUND, so that answer means the call was allowed).
    let cursor = |topic: &str| pb::GetCursorRequest {
        topic: topic.to_string(),
        name: "projector".to_string(),
    };
    let allowed = within(reader.grpc().get_cursor(cursor("orders.eu"))).await;
    assert_eq!(code_of(allowed), Code::NotFound);
    let denied = within(reader.grpc().get_cursor(cursor("payments"))).await;
    assert_eq!(code_of(denied), Code::PermissionDenied);
    let denied = within(writer.grpc().get_cursor(cursor("orders.eu"))).await;
    assert_eq!(code_of(denied), Code::PermissionDenied);
    let deleted = within(reader.delete_topic("orders.eu")).await;
    assert!(
        matches!(deleted, Err(ClientError::PermissionDenied(_))),
        "{deleted:?}"
    );

    // ListTopics shows each token only the topics it has a permission on.
    let names = |topics: Vec<pb::Topic>| {
        topics
            .into_iter()
            .map(|topic| topic.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(within(reader.list_topics()).await.expect("reader lists")),
        ["orders.eu", "orders.us"]
    );
    assert_eq!(
        names(within(admin.list_topics()).await.expect("admin lists")),
        ["orders.eu", "orders.us", "payments"]
    );

    // PublishStream checks each request on its own; a refusal does not end the stream.
    let requests = ["orders.eu", "payments", "orders.us"].map(|topic| pb::PublishStreamRequest {
        request: Some(pb::PublishRequest {
            topic: topic.to_string(),
            events: vec![event("Streamed", topic)],
            ..Default::default()
        }),
    });
    let mut responses = within(writer.grpc().publish_stream(tokio_stream::iter(requests)))
        .await
        .expect("open the stream")
        .into_inner();
    let mut outcomes = Vec::new();
    while let Some(response) = within(responses.next()).await {
        outcomes.push(response.expect("stream item").outcome.expect("outcome"));
    }
    use pb::publish_stream_response::Outcome;
    assert!(matches!(outcomes[0], Outcome::Response(_)), "{outcomes:?}");
    assert!(
        matches!(&outcomes[1], Outcome::Error(error) if error.code == Code::PermissionDenied as i32),
        "{outcomes:?}"
    );
    assert!(matches!(outcomes[2], Outcome::Response(_)), "{outcomes:?}");

    within(admin.delete_topic("payments"))
        .await
        .expect("admin deletes");
    assert_tokens_never_logged(server, &["ops", "reader", "writer"]).await;
}

#[tokio::test]
async fn an_open_server_says_so_in_its_first_log_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let first = &server.log_lines()[0];
    assert!(
        first.contains("no --auth-file") && first.contains("open"),
        "{first}"
    );
}

#[tokio::test]
async fn a_malformed_auth_file_keeps_the_server_from_starting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hash = sha256_hex(ADMIN);
    let cases = [
        ("not toml [[", "invalid auth file"),
        ("", "no [[token]] entries"),
        (
            "[[token]]\nname = \"ops\"\nsha256 = \"es_admin-token\"\n",
            "64 hex digits",
        ),
        (
            &*format!("[[token]]\nname = \"ops\"\nsha256 = \"{hash}\"\nsubscribes = [\"*\"]\n"),
            "subscribes",
        ),
        (
            &*format!("[[token]]\nname = \"ops\"\nsha256 = \"{hash}\"\npublish = [\"*.eu\"]\n"),
            "invalid topic pattern",
        ),
    ];
    let path = dir.path().join("auth.toml");
    let flag = format!("--auth-file={}", path.display());
    for (text, reason) in cases {
        std::fs::write(&path, text).expect("write auth file");
        let failed = ChildServer::try_start(&dir.path().join("data"), &[&flag])
            .await
            .err()
            .unwrap_or_else(|| panic!("started with {text:?}"));
        assert!(
            failed.contains(reason) && failed.contains(&path.display().to_string()),
            "{text:?}: {failed}"
        );
    }
    let missing = format!("--auth-file={}", dir.path().join("missing.toml").display());
    let failed = ChildServer::try_start(&dir.path().join("data"), &[&missing])
        .await
        .err()
        .expect("started without its auth file");
    assert!(failed.contains("cannot read the auth file"), "{failed}");
}

/// Runs `eventstream ARGS` with `env`; no token comes from the test's own environment.
async fn eventstream(args: &[&str], env: &[(&str, &str)]) -> Output {
    within(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
            .args(args)
            .env_remove("EVENTSTREAM_TOKEN")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("run eventstream")
}

#[tokio::test]
async fn the_cli_makes_tokens_and_sends_them_from_the_flag_or_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("ops.token");
    let made = eventstream(
        &[
            "token",
            "new",
            "--name=ops",
            "--admin=*",
            "--publish=orders.*",
            "--subscribe=orders.*",
            &format!("--token-file={}", token_file.display()),
        ],
        &[],
    )
    .await;
    assert!(made.status.success(), "{made:?}");
    let token = std::fs::read_to_string(&token_file).expect("token file");
    let token = token.trim();
    let mode = std::fs::metadata(&token_file)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "token file mode {mode:o}");
    let entry = String::from_utf8(made.stdout).expect("UTF-8");
    assert!(!entry.contains(token), "the entry shows the token: {entry}");
    assert!(entry.contains(&sha256_hex(token)), "{entry}");
    // An existing token file is never overwritten.
    let again = eventstream(
        &[
            "token",
            "new",
            "--name=x",
            &format!("--token-file={}", token_file.display()),
        ],
        &[],
    )
    .await;
    assert_eq!(again.status.code(), Some(2), "{again:?}");

    let auth_file = dir.path().join("auth.toml");
    std::fs::write(&auth_file, &entry).expect("write auth file");
    let auth = format!("--auth-file={}", auth_file.display());
    let server = ChildServer::start(&dir.path().join("data"), &[&auth]).await;
    let target = format!("--server=http://{}", server.addr);

    let created = eventstream(
        &[
            "topics",
            "create",
            "orders.eu",
            &target,
            &format!("--token={token}"),
        ],
        &[],
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    let published = eventstream(
        &[
            "publish",
            "--topic=orders.eu",
            "--type=Placed",
            "{}",
            &target,
        ],
        &[("EVENTSTREAM_TOKEN", token)],
    )
    .await;
    assert!(published.status.success(), "{published:?}");
    let denied = eventstream(
        &[
            "publish",
            "--topic=payments",
            "--type=Placed",
            "{}",
            &target,
        ],
        &[("EVENTSTREAM_TOKEN", token)],
    )
    .await;
    assert_eq!(denied.status.code(), Some(1), "{denied:?}");
    assert!(String::from_utf8_lossy(&denied.stderr).contains("permission denied"));
    let anonymous = eventstream(&["topics", "list", &target], &[]).await;
    assert_eq!(anonymous.status.code(), Some(1), "{anonymous:?}");
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("unauthenticated"));
}
