//! Keeps the benchmark program from rotting: runs it with tiny sizes against the real server.

use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn benchmark_smoke_run_prints_every_row() {
    let (status, stdout, stderr) = run_bench(&["--smoke"]).await;
    assert!(status.success(), "benchmark failed: {stdout}\n{stderr}");
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 14, "expected one row per workload:\n{stdout}");
    for row in rows {
        let notes = row.last().copied().unwrap_or_default();
        assert!(
            notes.contains("CPU µs/event: server "),
            "no server CPU per event in {row:?}"
        );
        assert!(
            notes.contains("host steal up to "),
            "no host steal in {row:?}"
        );
    }
}

/// The workload rows of the printed table, split into trimmed cells.
fn table_rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .filter(|line| line.starts_with("| ") && !line.contains("workload"))
        .map(|line| line.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

/// Runs the benchmark with `args` to the end and returns its exit status, stdout and stderr.
async fn run_bench(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream-bench"))
        .args(args)
        .arg(format!(
            "--server-bin={}",
            env!("CARGO_BIN_EXE_eventstream")
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the benchmark");
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("benchmark finished in time")
        .expect("benchmark output");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[cfg(not(feature = "jetstream"))]
#[tokio::test]
async fn jetstream_comparison_without_the_feature_says_how_to_build_it() {
    let (status, stdout, stderr) = run_bench(&["--smoke", "--jetstream"]).await;
    assert!(!status.success(), "benchmark ran: {stdout}");
    assert!(
        stderr.contains("--features jetstream"),
        "no build hint: {stderr}"
    );
}

#[cfg(feature = "jetstream")]
#[tokio::test]
async fn jetstream_comparison_without_nats_server_says_how_to_install_it() {
    let (status, stdout, stderr) = run_bench(&[
        "--smoke",
        "--jetstream",
        "--nats-server=/nonexistent/nats-server",
    ])
    .await;
    assert!(!status.success(), "benchmark ran: {stdout}");
    assert!(
        stderr.contains("apt-get install nats-server"),
        "no install hint: {stderr}"
    );
}

/// Needs nats-server on PATH (`apt-get install nats-server`).
#[cfg(feature = "jetstream")]
#[tokio::test]
async fn jetstream_comparison_smoke_run_prints_both_servers_columns() {
    let (status, stdout, stderr) = run_bench(&["--smoke", "--jetstream"]).await;
    assert!(status.success(), "benchmark failed: {stdout}\n{stderr}");
    let rows = table_rows(&stdout);
    assert_eq!(rows.len(), 14, "expected one row per workload:\n{stdout}");
    for row in &rows {
        assert_eq!(row.len(), 7, "expected 7 columns: {row:?}");
    }
    // The reference row, the unary latency variant and the key index and expected-version rows
    // have no JetStream equivalent.
    let without_jetstream: Vec<&str> = rows
        .iter()
        .filter(|row| row[4] == "—" && row[5] == "—")
        .map(|row| row[0])
        .collect();
    assert_eq!(without_jetstream.len(), 5, "{stdout}");
    assert!(
        without_jetstream.iter().all(|name| name.contains("key")
            || name.contains("without a write")
            || name.contains("unary call")),
        "{stdout}"
    );
}
