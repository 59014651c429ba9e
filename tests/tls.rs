//! TLS against the real server binary: `--tls-cert`/`--tls-key` serve gRPC over TLS only, and
//! `--tls-client-ca` also requires a client certificate from that CA. Certificates are made at
//! run time (see `common::certs`).

mod common;

use std::process::Stdio;

use common::certs::{CertFiles, Pki, read};
use common::{ChildServer, within};
use eventstream::client::{Client, StartAt, SubscribeOptions, event};
use eventstream::pb;
use eventstream::pb::event_stream_service_client::EventStreamServiceClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

async fn start(pki: &Pki, mutual: bool) -> (tempfile::TempDir, ChildServer) {
    let data = tempfile::tempdir().expect("temp dir");
    let args = pki.server_args(mutual);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ChildServer::start(data.path(), &args).await;
    (data, server)
}

/// Makes one ListTopics call through a fresh connection to `uri` with `tls` (none: plaintext);
/// returns why it failed, if it did.
async fn list_topics(uri: String, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let mut endpoint = Endpoint::from_shared(uri).expect("endpoint");
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).expect("TLS config");
    }
    within(async {
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| format!("{error:?}"))?;
        EventStreamServiceClient::new(channel)
            .list_topics(pb::ListTopicsRequest {})
            .await
            .map(drop)
            .map_err(|status| format!("{status:?}"))
    })
    .await
}

fn trusting(pki: &Pki) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.ca_pem()))
}

fn presenting(tls: ClientTlsConfig, files: &CertFiles) -> ClientTlsConfig {
    tls.identity(Identity::from_pem(read(&files.cert), read(&files.key)))
}

#[tokio::test]
async fn tls_clients_trusting_the_ca_are_served_and_plaintext_ones_refused() {
    let pki = Pki::generate();
    let (_data, server) = start(&pki, false).await;
    let port = server.addr.port();
    assert!(
        server
            .log_lines()
            .iter()
            .any(|line| line.contains("listening on") && line.contains("TLS")),
        "{:?}",
        server.log_lines()
    );

    // The Rust client, by hostname and by IP address (both are in the certificate).
    for host in ["localhost", "127.0.0.1"] {
        let client = Client::builder(&format!("https://{host}:{port}"))
            .ca_certificate(pki.ca_pem())
            .connect_lazy()
            .expect("client");
        let published = within(client.publish("orders", vec![event("Placed", "1")]))
            .await
            .expect("publish over TLS");
        let mut subscription = client.subscribe(
            SubscribeOptions::new("orders")
                .start(StartAt::Offset(published[0].offset))
                .stop_at_end(true),
        );
        let delivered = within(subscription.next())
            .await
            .expect("subscribe over TLS");
        assert_eq!(
            delivered.map(|event| event.r#type),
            Some("Placed".to_string())
        );
    }

    let plaintext = list_topics(format!("http://127.0.0.1:{port}"), None).await;
    assert!(plaintext.is_err(), "a plaintext client was served");
    // A client that does not trust the server's CA (the system's CAs do not) refuses it.
    let untrusting = list_topics(
        format!("https://localhost:{port}"),
        Some(ClientTlsConfig::new().with_native_roots()),
    )
    .await;
    assert!(untrusting.is_err(), "the server's certificate was trusted");
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = Pki::generate();
    let (_data, server) = start(&pki, true).await;
    let uri = format!("https://localhost:{}", server.addr.port());
    assert!(
        server
            .log_lines()
            .iter()
            .any(|line| line.contains("TLS with client certificates")),
        "{:?}",
        server.log_lines()
    );

    let anonymous = list_topics(uri.clone(), Some(trusting(&pki))).await;
    assert!(
        anonymous.is_err(),
        "a client without a certificate was served"
    );
    let stranger = list_topics(uri.clone(), Some(presenting(trusting(&pki), &pki.stranger))).await;
    assert!(
        stranger.is_err(),
        "a client with another CA's certificate was served"
    );
    list_topics(uri.clone(), Some(presenting(trusting(&pki), &pki.client)))
        .await
        .expect("a client with a certificate from the CA is served");
    let plaintext = list_topics(format!("http://{}", server.addr), None).await;
    assert!(plaintext.is_err(), "a plaintext client was served");

    // The Rust client and the CLI take the client certificate too.
    let client = Client::builder(&uri)
        .ca_certificate(pki.ca_pem())
        .client_identity(read(&pki.client.cert), read(&pki.client.key))
        .connect_lazy()
        .expect("client");
    within(client.create_topic("audit", Default::default()))
        .await
        .expect("create over mutual TLS");
    let output = within(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"))
            .args(["topics", "list", "--format=json", "--timeout=10s"])
            .arg(format!("--server={uri}"))
            .arg(format!("--ca-cert={}", pki.ca_cert.display()))
            .arg(format!("--client-cert={}", pki.client.cert.display()))
            .arg(format!("--client-key={}", pki.client.key.display()))
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("run the CLI");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"audit\""));
}

#[tokio::test]
async fn the_client_refuses_tls_settings_for_a_plaintext_address() {
    let pki = Pki::generate();
    let refused = Client::builder("http://127.0.0.1:50051")
        .ca_certificate(pki.ca_pem())
        .connect_lazy();
    assert!(
        matches!(refused, Err(eventstream::client::ClientError::Tls(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_server_with_an_unusable_certificate_does_not_start() {
    let pki = Pki::generate();
    let data = tempfile::tempdir().expect("temp dir");
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let cert = format!("--tls-cert={}", garbage.display());
    let key = format!("--tls-key={}", pki.server.key.display());
    let failed = ChildServer::try_start(data.path(), &[&cert, &key])
        .await
        .err()
        .expect("the server started with a garbage certificate");
    assert!(failed.contains("TLS"), "{failed}");

    let missing = format!(
        "--tls-cert={}",
        pki.dir.path().join("missing.pem").display()
    );
    let failed = ChildServer::try_start(data.path(), &[&missing, &key])
        .await
        .err()
        .expect("the server started without its certificate");
    assert!(failed.contains("missing.pem"), "{failed}");
}
