//! The `publish`, `subscribe` and `topics` subcommands against the real server binary: JSON
//! round trips, `--lines`, topic management, live following, and exit codes.

mod common;

use std::net::SocketAddr;
use std::process::{Output, Stdio};

use common::{ChildServer, within};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One run of `eventstream` against a server.
struct Run {
    server: SocketAddr,
    args: Vec<String>,
    stdin: Vec<u8>,
}

/// `eventstream COMMAND` (split on spaces) against the server at `server`.
fn eventstream(server: SocketAddr, command: &str) -> Run {
    Run {
        server,
        args: command.split_whitespace().map(str::to_string).collect(),
        stdin: Vec::new(),
    }
}

impl Run {
    /// Adds one argument, spaces and all.
    fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// Feeds `input` to stdin.
    fn stdin(mut self, input: &[u8]) -> Self {
        self.stdin = input.to_vec();
        self
    }

    async fn output(self) -> Output {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
            .args(&self.args)
            .env("EVENTSTREAM_SERVER", format!("http://{}", self.server))
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run eventstream");
        let mut input = child.stdin.take().expect("stdin");
        within(input.write_all(&self.stdin))
            .await
            .expect("write stdin");
        drop(input);
        within(child.wait_with_output()).await.expect("wait")
    }

    /// Expects success; returns stdout.
    async fn stdout(self) -> String {
        let args = self.args.clone();
        let output = self.output().await;
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Expects success; returns stdout's JSON lines.
    async fn json(self) -> Vec<Value> {
        let stdout = self.stdout().await;
        stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// Expects failure with exit code `code`; returns stderr, checked to be one line.
    async fn error(self, code: i32) -> String {
        let args = self.args.clone();
        let output = self.output().await;
        let stderr = String::from_utf8(output.stderr).expect("UTF-8 stderr");
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
        stderr
    }
}

async fn start_server() -> (tempfile::TempDir, ChildServer) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    (dir, server)
}

#[tokio::test]
async fn published_events_come_back_from_subscribe_as_json() {
    let (dir, server) = start_server().await;
    let addr = server.addr;
    let first = eventstream(
        addr,
        "publish --topic orders --type OrderPlaced --key order-1",
    )
    .arg("--header=trace=t-1")
    .arg("--content-type=application/json")
    .arg(r#"{"id":1}"#)
    .json()
    .await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["offset"], 0);
    assert_eq!(first[0]["duplicate"], false);
    assert!(uuid::Uuid::parse_str(first[0]["idempotency_key"].as_str().expect("key")).is_ok());

    let binary = dir.path().join("payload.bin");
    std::fs::write(&binary, [0xff, 0x00, 0x01]).expect("write payload");
    let publish_blob = || {
        eventstream(
            addr,
            "publish --topic orders --type Blob --idempotency-key blob-1",
        )
        .arg("--file")
        .arg(binary.to_str().expect("path"))
    };
    assert_eq!(publish_blob().json().await[0]["offset"], 1);
    let again = publish_blob().json().await;
    assert_eq!(
        (&again[0]["offset"], &again[0]["duplicate"]),
        (&1.into(), &true.into())
    );

    let events = eventstream(addr, "subscribe --topic orders --stop-at-end")
        .json()
        .await;
    assert_eq!(events.len(), 2);
    let placed = &events[0];
    assert_eq!(placed["type"], "OrderPlaced");
    assert_eq!(placed["key"], "order-1");
    assert_eq!(placed["headers"]["trace"], "t-1");
    assert_eq!(placed["content_type"], "application/json");
    assert_eq!(placed["payload"], r#"{"id":1}"#);
    assert_eq!(placed["payload_encoding"], "utf8");
    assert_eq!(placed["id"], first[0]["id"]);
    let blob = &events[1];
    assert_eq!(
        (&blob["payload"], &blob["payload_encoding"]),
        (&"/wAB".into(), &"base64".into())
    );

    let filtered = eventstream(
        addr,
        "subscribe --topic orders --stop-at-end --type Blob --from-offset 0",
    )
    .json()
    .await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["offset"], 1);
}

#[tokio::test]
async fn lines_publishes_one_event_per_stdin_line() {
    let (_dir, server) = start_server().await;
    let published = eventstream(server.addr, "publish --topic log --type Line --lines")
        .stdin(b"first\nsecond\r\n\nlast")
        .json()
        .await;
    let offsets: Vec<Option<u64>> = published
        .iter()
        .map(|result| result["offset"].as_u64())
        .collect();
    assert_eq!(offsets, [Some(0), Some(1), Some(2), Some(3)]);

    let text = eventstream(
        server.addr,
        "subscribe --topic log --stop-at-end --format text",
    )
    .stdout()
    .await;
    let payloads: Vec<&str> = text
        .lines()
        .map(|line| line.rsplit(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(payloads, ["first", "second", "", "last"]);
}

#[tokio::test]
async fn subscribe_follows_live_events_until_killed() {
    let (_dir, server) = start_server().await;
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
        .args(["subscribe", "--topic", "live", "--from-offset", "0"])
        .env("EVENTSTREAM_SERVER", format!("http://{}", server.addr))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run subscribe");
    let mut lines = BufReader::new(follower.stdout.take().expect("stdout")).lines();
    for n in 0..3 {
        let payload = format!("event {n}");
        eventstream(server.addr, "publish --topic live --type Tick")
            .arg(&payload)
            .json()
            .await;
        let line = within(lines.next_line())
            .await
            .expect("read")
            .expect("a line per event");
        let event: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            (&event["offset"], &event["payload"]),
            (&n.into(), &payload.into())
        );
    }
    follower.start_kill().expect("kill");
}

#[tokio::test]
async fn topics_are_created_described_listed_and_deleted() {
    let (_dir, server) = start_server().await;
    let addr = server.addr;
    let created = eventstream(
        addr,
        "topics create payments --retention-age 7d --retention-events 1000 --dedup-window 1h --format json",
    )
    .json()
    .await;
    assert_eq!(created[0]["name"], "payments");
    assert_eq!(created[0]["retention_age_secs"], 7 * 24 * 3600);
    assert_eq!(created[0]["retention_events"], 1000);
    assert_eq!(created[0]["retention_bytes"], Value::Null);
    assert_eq!(created[0]["dedup_window_secs"], 3600);

    eventstream(addr, "publish --topic payments --type PaymentCompleted")
        .json()
        .await;
    let described = eventstream(addr, "topics get payments --format json")
        .json()
        .await;
    assert_eq!(described[0]["first_offset"], 0);
    assert_eq!(described[0]["next_offset"], 1);

    eventstream(addr, "topics create audit").stdout().await;
    let table = eventstream(addr, "topics list").stdout().await;
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("NAME") && rows[0].contains("RETENTION"),
        "{table}"
    );
    assert!(
        rows[1].starts_with("audit") && rows[1].contains("forever"),
        "{table}"
    );
    assert!(
        rows[2].starts_with("payments") && rows[2].contains("7days, 1000 events"),
        "{table}"
    );
    let listed = eventstream(addr, "topics list --format json").json().await;
    let names: Vec<&Value> = listed.iter().map(|topic| &topic["name"]).collect();
    assert_eq!(names, [&"audit".into(), &"payments".into()] as [&Value; 2]);

    eventstream(addr, "topics delete payments").stdout().await;
    let missing = eventstream(addr, "topics get payments").error(1).await;
    assert!(missing.contains("not found"), "{missing}");
    let taken = eventstream(addr, "topics create audit").error(1).await;
    assert!(taken.contains("already exists"), "{taken}");
}

#[tokio::test]
async fn consumer_groups_are_created_listed_reset_and_deleted() {
    let (_dir, server) = start_server().await;
    let addr = server.addr;
    for _ in 0..3 {
        eventstream(addr, "publish --topic orders --type OrderPlaced")
            .json()
            .await;
    }
    let created = eventstream(
        addr,
        "groups --topic orders create email --offset 1 --ack-deadline 2m --max-deliveries 5 --format json",
    )
    .json()
    .await;
    assert_eq!(created[0]["name"], "email");
    assert_eq!(created[0]["ack_floor"], 1);
    assert_eq!(created[0]["lag"], 2);
    assert_eq!(created[0]["ack_deadline_ms"], 120_000);
    assert_eq!(created[0]["dead_letter_topic"], "orders.email.dead-letters");
    assert_eq!(created[0]["out_of_range"], "OUT_OF_RANGE_POLICY_FAIL");

    eventstream(addr, "groups create fraud --topic orders --latest")
        .stdout()
        .await;
    let table = eventstream(addr, "groups list --topic orders")
        .stdout()
        .await;
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("NAME") && rows[0].contains("LAG"),
        "{table}"
    );
    assert!(rows[1].starts_with("email"), "{table}");
    assert!(rows[2].starts_with("fraud"), "{table}");

    let reset = eventstream(
        addr,
        "groups reset email --topic orders --earliest --format json",
    )
    .json()
    .await;
    assert_eq!(
        (reset[0]["ack_floor"].clone(), reset[0]["lag"].clone()),
        (0.into(), 3.into())
    );
    let no_target = eventstream(addr, "groups reset email --topic orders")
        .error(2)
        .await;
    assert!(no_target.contains("--earliest"), "{no_target}");

    eventstream(addr, "groups delete fraud --topic orders")
        .stdout()
        .await;
    let missing = eventstream(addr, "groups get fraud --topic orders")
        .error(1)
        .await;
    assert!(missing.contains("not found"), "{missing}");
}

#[tokio::test]
async fn failures_print_one_line_and_exit_with_their_code() {
    let (dir, server) = start_server().await;
    let addr = server.addr;
    let invalid = eventstream(addr, "publish --type T --topic")
        .arg("bad name")
        .error(1)
        .await;
    assert!(
        invalid.starts_with("eventstream: invalid argument"),
        "{invalid}"
    );
    let out_of_range = eventstream(addr, "subscribe --topic t --from-offset 5")
        .error(1)
        .await;
    assert!(out_of_range.contains("out of range"), "{out_of_range}");
    let unreadable = dir.path().join("missing");
    eventstream(addr, "publish --topic t --type T --file")
        .arg(unreadable.to_str().expect("path"))
        .error(2)
        .await;
    let usage = eventstream(addr, "subscribe --topic t --latest --from-offset 1")
        .output()
        .await;
    assert_eq!(usage.status.code(), Some(2));

    server.kill().await;
    let unreachable = eventstream(addr, "topics list --timeout 300ms")
        .error(3)
        .await;
    assert!(unreachable.contains("server unavailable"), "{unreachable}");
}
