//! The real binary's log with `--log-format json`: every line a JSON object, each RPC finished in
//! a span naming its method, peer and topic with its status code, and no payload anywhere.

mod common;
use common::*;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

const API: &str = "eventstream.v1.EventStreamService";
const PAYLOAD: &str = "payload-that-must-never-be-logged-5e1f";
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// The `rpc finished` line of the call to `method` with `code`.
fn finished<'a>(lines: &'a [Value], method: &str, code: &str) -> &'a Value {
    let method = format!("{API}/{method}");
    lines
        .iter()
        .find(|line| {
            line["message"] == "rpc finished"
                && line["span"]["method"] == *method
                && line["code"] == code
        })
        .unwrap_or_else(|| panic!("no `rpc finished` line for {method} with {code}"))
}

#[tokio::test]
async fn json_log_has_rpc_spans_and_no_payloads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start_with_env(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.path(),
        &["--log-format=json"],
        &[("RUST_LOG", "info,eventstream::rpc=debug")],
    )
    .await;
    let mut client = server.client().await;
    let topic = "logged";
    publish(&mut client, topic, vec![event("LogTest", PAYLOAD)]).await;
    let (events, _) = read_topic_to_end(&mut client, topic).await;
    assert_eq!(events[0].payload, PAYLOAD.as_bytes());
    expect_code(
        try_get_topic(&mut client, "absent").await,
        tonic::Code::NotFound,
    );

    let (status, log) = server.terminate_with_log(EXIT_LIMIT).await;
    assert!(status.success(), "exit status {status:?}");
    assert!(
        log.iter().all(|line| !line.contains(PAYLOAD)),
        "a payload was logged"
    );
    let lines: Vec<Value> = log
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
    }

    let publish = finished(&lines, "Publish", "Ok");
    assert_eq!(publish["span"]["topic"], topic);
    assert_eq!(publish["target"], "eventstream::rpc");
    assert!(publish["elapsed_ms"].is_number());
    let peer: SocketAddr = publish["span"]["peer"]
        .as_str()
        .expect("peer")
        .parse()
        .expect("peer address");
    assert!(peer.ip().is_loopback());
    assert_eq!(finished(&lines, "Subscribe", "Ok")["span"]["topic"], topic);
    assert_eq!(
        finished(&lines, "GetTopic", "NotFound")["span"]["topic"],
        "absent"
    );
}
