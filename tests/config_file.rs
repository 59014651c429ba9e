//! `eventstream serve --config FILE` on the real binary: the file's settings apply, environment
//! variables override them and flags override both; an unknown key keeps the server from
//! starting; `--print-config` prints the effective settings as a file that loads again.

mod common;
use common::*;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use eventstream::pb;
use tonic::Code;

/// Writes `text` to `name` in `dir`; returns the path.
fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config file");
    path
}

/// The `--config` argument for `path`.
fn config_arg(path: &Path) -> String {
    format!("--config={}", path.display())
}

/// Runs `eventstream serve ARGS --print-config` with only `env` of the EVENTSTREAM_* variables
/// set; returns what it printed, failing unless it exits 0.
async fn print_config(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_eventstream"));
    command.arg("serve").args(args).arg("--print-config");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("EVENTSTREAM_") {
            command.env_remove(name);
        }
    }
    let output = within(command.envs(env.iter().copied()).output())
        .await
        .expect("run eventstream");
    assert!(
        output.status.success(),
        "{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The value of `key` in a printed configuration.
fn setting(printed: &str, key: &str) -> toml::Value {
    let table: toml::Table = printed.parse().expect("printed configuration is TOML");
    table
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing from:\n{printed}"))
        .clone()
}

#[tokio::test]
async fn the_file_applies_under_environment_variables_and_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "eventstream.toml",
        "# Settings for the test.\n\
         max-topics = 1\n\
         max-event-bytes = 100\n\
         auto-create-topics = false\n\
         default-dedup-window = \"90m\"\n",
    );
    let data = dir.path().join("data");
    let server = ChildServer::start_with_env(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        &data,
        &[&config_arg(&file), "--auto-create-topics=true"],
        &[("EVENTSTREAM_MAX_EVENT_BYTES", "200")],
    )
    .await;
    let mut client = server.client().await;

    // The file: the dedup window of implicit topics, and one topic at most.
    publish(&mut client, "first", vec![event("E", vec![b'x'; 150])]).await;
    let first = get_topic(&mut client, "first").await;
    let window = first.config.and_then(|config| config.dedup_window);
    assert_eq!(window.map(|window| window.seconds), Some(90 * 60));
    let refused = try_publish(&mut client, "second", vec![event("E", "x")]).await;
    // RESOURCE_EXHAUSTED rather than NOT_FOUND: the flag turned auto-create back on.
    let status = expect_code(refused, Code::ResourceExhausted);
    assert!(status.message().contains("--max-topics"), "{status:?}");
    // The variable: 150 bytes passed above, 250 do not.
    let refused = try_publish(&mut client, "first", vec![event("E", vec![b'x'; 250])]).await;
    let status = expect_code(refused, Code::InvalidArgument);
    assert!(status.message().contains("200"), "{status:?}");

    // And a flag beats the variable.
    let printed = print_config(
        &[&config_arg(&file), "--max-event-bytes=300"],
        &[("EVENTSTREAM_MAX_EVENT_BYTES", "200")],
    )
    .await;
    assert_eq!(setting(&printed, "max-event-bytes").as_integer(), Some(300));
    assert_eq!(setting(&printed, "max-topics").as_integer(), Some(1));
    assert_eq!(
        setting(&printed, "auto-create-topics").as_bool(),
        Some(false)
    );
}

#[tokio::test]
async fn unknown_keys_and_bad_values_keep_the_server_from_starting() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (text, expected) in [
        ("max-topics = 5\nmax-topic = 5\n", "unknown key `max-topic`"),
        ("[limits]\nmax-topics = 5\n", "unknown key `limits`"),
        (
            "keepalive-interval = \"soon\"\n",
            "key `keepalive-interval`: invalid value 'soon'",
        ),
        ("listen = 50051\n", "key `listen`: invalid value '50051'"),
    ] {
        let file = write_file(dir.path(), "bad.toml", text);
        let output = match ChildServer::try_start(dir.path(), &[&config_arg(&file)]).await {
            Ok(_) => panic!("started with {text:?}"),
            Err(output) => output,
        };
        assert!(output.contains("exit status: 2"), "{output}");
        assert!(output.contains(expected), "{text:?}: {output}");
        assert!(output.contains("bad.toml"), "{output}");
    }
    let missing = dir.path().join("missing.toml");
    let output = ChildServer::try_start(dir.path(), &[&config_arg(&missing)])
        .await
        .err()
        .expect("no server without its config file");
    assert!(output.contains("missing.toml"), "{output}");
}

#[tokio::test]
async fn printed_configuration_loads_back_to_the_same_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_file(
        dir.path(),
        "eventstream.toml",
        "max-subscriptions = 7\nfsync = \"never\"\ndata-dir = \"/var/lib/eventstream\"\n",
    );
    // Overrides the file's, and needs quoting in TOML.
    let data = dir.path().join("the \"data\"");
    let printed = print_config(
        &[
            &config_arg(&file),
            "--keepalive-timeout=5s",
            "--metrics-listen=127.0.0.1:0",
            &format!("--data-dir={}", data.display()),
        ],
        &[("EVENTSTREAM_RETENTION_INTERVAL", "250ms")],
    )
    .await;
    assert!(
        !data.exists(),
        "--print-config must not open the data directory"
    );
    assert_eq!(setting(&printed, "max-subscriptions").as_integer(), Some(7));
    assert_eq!(setting(&printed, "data-dir").as_str(), data.to_str());
    assert_eq!(setting(&printed, "fsync").as_str(), Some("never"));
    assert_eq!(
        setting(&printed, "retention-interval").as_str(),
        Some("250ms")
    );
    assert_eq!(setting(&printed, "keepalive-timeout").as_str(), Some("5s"));
    assert_eq!(
        setting(&printed, "max-request-bytes").as_integer(),
        Some(16 * 1024 * 1024)
    );

    let reloaded_file = write_file(dir.path(), "printed.toml", &printed);
    let reprinted = print_config(&[&config_arg(&reloaded_file)], &[]).await;
    assert_eq!(reprinted, printed);

    // A real server starts from it (on its own port and data directory).
    let server = ChildServer::start(&data, &[&config_arg(&reloaded_file)]).await;
    let mut client = server.client().await;
    publish(&mut client, "t", vec![event("E", "x")]).await;
    let topics = within(client.list_topics(pb::ListTopicsRequest {}))
        .await
        .expect("list topics")
        .into_inner()
        .topics;
    assert_eq!(topics.len(), 1);
}
