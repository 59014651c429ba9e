//! Runs the short versions of the examples in `examples/` against this build's server binary, so
//! the examples cannot rot. Each example starts (and crashes, and restarts) its own server child
//! process and checks its exactly-once results itself; this test asserts it said so.
//!
//! `cargo test` builds the examples before running any test; `cargo test --test examples` alone
//! does not, so run `cargo build --examples` first in that case.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// An example's whole run, crashes and restarts included, takes a few seconds.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs example `name` with `args`; returns its stdout, failing unless it succeeded.
async fn run_example(name: &str, args: &[&str]) -> String {
    let server = PathBuf::from(env!("CARGO_BIN_EXE_eventstream"));
    let example = server
        .parent()
        .expect("the target directory")
        .join("examples")
        .join(name);
    assert!(
        example.exists(),
        "{} is missing: `cargo test` builds it, `cargo test --test examples` alone does not \
         (run `cargo build --examples` first)",
        example.display()
    );
    let child = tokio::process::Command::new(&example)
        .args(args)
        .env("EVENTSTREAM_BIN", &server)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the example");
    let output = tokio::time::timeout(EXAMPLE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{name} did not finish within {EXAMPLE_TIMEOUT:?}"))
        .expect("wait for the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn payments_fanout_handles_every_payment_exactly_once_through_crashes() {
    let stdout = run_example("payments-fanout", &["--payments", "45"]).await;
    assert!(stdout.contains("email-1: killed with SIGKILL"), "{stdout}");
    assert!(stdout.contains("server: killed with SIGKILL"), "{stdout}");
    // Two email instances share the payments as a consumer group.
    assert!(
        stdout.contains("email     ok: 45/45 payments receipted exactly once; email-1 sent"),
        "{stdout}"
    );
    assert!(stdout.contains("email-2 sent"), "{stdout}");
    for service in ["analytics", "fraud"] {
        let verdict = format!("{service:<9} ok: 45/45 payments handled exactly once");
        assert!(stdout.contains(&verdict), "{stdout}");
    }
    assert!(
        stdout.contains("every service handled every payment exactly once"),
        "{stdout}"
    );
}

#[tokio::test]
async fn bank_account_never_overdraws_and_projects_every_event_once_through_crashes() {
    let stdout = run_example("bank-account", &["--transactions", "60"]).await;
    for step in [
        "rebuilt from the key index",
        "conflicts retried",
        "projector: killed at cursor",
        "projector: resumes at ledger offset",
        "server: killed with SIGKILL",
        "duplicate = true",
    ] {
        assert!(stdout.contains(step), "{step:?} missing:\n{stdout}");
    }
    assert!(!stdout.contains("WRONG"), "{stdout}");
    for verdict in [
        "ok no account ever went below zero",
        "ok every balance is its deposits minus its accepted withdrawals",
        "ok the live balance matches the books",
        "ok balances holds exactly one BalanceChanged per ledger event, in order",
        "ok the projected balances match a serial computation of the ledger",
        "ok the projector's cursor is at the end of the ledger",
        "never overdrawn, every transaction counted once, every ledger event projected once",
    ] {
        assert!(stdout.contains(verdict), "{verdict:?} missing:\n{stdout}");
    }
}
