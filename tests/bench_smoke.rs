//! Keeps the benchmark program from rotting: runs it with tiny sizes against the real server.

use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn benchmark_smoke_run_prints_every_row() {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream-bench"))
        .arg("--smoke")
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
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("smoke run finished in time")
        .expect("benchmark output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "benchmark failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = stdout
        .lines()
        .filter(|line| line.starts_with("| ") && !line.contains("workload"))
        .count();
    assert_eq!(rows, 11, "expected one row per workload:\n{stdout}");
}
