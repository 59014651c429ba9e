//! Runs the Python and TypeScript client test suites against this build's server binary, so
//! `cargo test` covers the clients too. Each suite installs what it needs on first run (a venv
//! with pinned packages; `npm ci` from the committed lockfile). Their TLS tests use certificates
//! made here, in the directory `EVENTSTREAM_TEST_TLS_DIR` (see `common::certs::Pki`).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Installs and tests together; the first run on a fresh machine downloads packages.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

async fn run_suite(script: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let pki = common::certs::Pki::generate();
    let child = tokio::process::Command::new("bash")
        .arg(&path)
        .env("EVENTSTREAM_BIN", env!("CARGO_BIN_EXE_eventstream"))
        .env("EVENTSTREAM_TEST_TLS_DIR", pki.dir.path())
        .env_remove("EVENTSTREAM_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the client test script");
    let output = tokio::time::timeout(SUITE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SUITE_TIMEOUT:?}"))
        .expect("wait for the client test script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Show the suite's own summary in the cargo test output.
    println!(
        "{}",
        stdout.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn python_client_suite_passes() {
    run_suite("clients/python/run-tests.sh").await;
}

#[tokio::test]
async fn typescript_client_suite_passes() {
    run_suite("clients/typescript/run-tests.sh").await;
}
