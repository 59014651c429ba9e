//! Keeps the benchmark program from rotting: runs it with tiny sizes against the real server.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn benchmark_smoke_run_prints_every_row() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_eventstream-bench"))
        .arg("--smoke")
        .arg(format!(
            "--server-bin={}",
            env!("CARGO_BIN_EXE_eventstream")
        ))
        .output()
        .expect("run the benchmark");
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
    assert_eq!(rows, 7, "expected one row per workload:\n{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "smoke run too slow"
    );
}
