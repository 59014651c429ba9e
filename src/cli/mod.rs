//! The client subcommands of `eventstream` (`publish`, `subscribe`, `topics`, `groups`), built on
//! [`eventstream::client`]. Results go to stdout (JSON lines, or text and tables for people);
//! errors are one line on stderr with a non-zero exit code:
//!
//! | code | meaning |
//! |---|---|
//! | 1 | the server refused or failed the request (its status is printed) |
//! | 2 | bad usage or local input (an unreadable file, an invalid server address) |
//! | 3 | the server could not be reached within `--timeout` |

mod groups;
mod output;
mod publish;
mod subscribe;
pub mod token;
mod topics;
pub mod verify;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use eventstream::client::{Client, ClientError, RetryPolicy};

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "Exit codes: 0 done, 1 the server refused the request, \
2 bad usage or input, 3 the server could not be reached within --timeout.";

/// The client subcommands.
#[derive(clap::Subcommand)]
pub enum ClientCommand {
    /// Publish events to a topic (exactly once, retried while the server is unreachable).
    #[command(after_help = EXIT_CODES)]
    Publish(publish::PublishArgs),
    /// Print a topic's events, one JSON object per line; resumes by itself across server restarts.
    #[command(after_help = EXIT_CODES)]
    Subscribe(subscribe::SubscribeArgs),
    /// List, describe, create and delete topics.
    #[command(after_help = EXIT_CODES)]
    Topics(topics::TopicsArgs),
    /// List, describe, create, reset and delete a topic's consumer groups.
    #[command(after_help = EXIT_CODES)]
    Groups(groups::GroupsArgs),
}

/// How to reach the server; accepted by every client subcommand.
#[derive(clap::Args)]
pub struct ServerArgs {
    /// The server's address.
    #[arg(
        long,
        global = true,
        env = "EVENTSTREAM_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,

    /// How long to keep retrying while the server is unreachable, for example `10s`.
    #[arg(long, global = true, env = "EVENTSTREAM_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// PEM CA certificate to trust for an `https://` server (default: the system's CAs).
    #[arg(long, global = true, env = "EVENTSTREAM_CA_CERT")]
    ca_cert: Option<PathBuf>,

    /// PEM client certificate, for a server that requires one (with `--client-key`).
    #[arg(long, global = true, env = "EVENTSTREAM_CLIENT_CERT")]
    client_cert: Option<PathBuf>,

    /// PEM private key of `--client-cert`.
    #[arg(long, global = true, env = "EVENTSTREAM_CLIENT_KEY")]
    client_key: Option<PathBuf>,

    /// Token to authenticate with. Prefer the environment variable: arguments are visible to
    /// other users in the process list.
    #[arg(long, global = true, env = "EVENTSTREAM_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ServerArgs {
    /// A client that retries publishes, topic calls and reconnects for up to `--timeout`.
    fn client(&self) -> Result<Client, CliError> {
        let policy = RetryPolicy {
            max_attempts: None,
            total_timeout: Some(self.timeout),
            ..RetryPolicy::PUBLISH
        };
        let mut builder = Client::builder(&self.server)
            .publish_retry(policy.clone())
            .reconnect(policy);
        if let Some(path) = &self.ca_cert {
            builder = builder.ca_certificate(read_pem(path)?);
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                builder = builder.client_identity(read_pem(cert)?, read_pem(key)?);
            }
            (None, None) => {}
            _ => {
                return Err(CliError::Input(
                    "--client-cert and --client-key go together".to_string(),
                ));
            }
        }
        if let Some(token) = &self.token {
            builder = builder.token(token);
        }
        Ok(builder.connect_lazy()?)
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|error| CliError::Input(format!("cannot read {}: {error}", path.display())))
}

/// Why a client subcommand failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// A client call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Local input could not be used.
    #[error("{0}")]
    Input(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Client(ClientError::Unavailable { .. }) => ExitCode::from(3),
            CliError::Client(
                ClientError::InvalidServerAddress { .. }
                | ClientError::Tls(_)
                | ClientError::InvalidToken,
            )
            | CliError::Input(_) => ExitCode::from(2),
            CliError::Client(_) | CliError::Output(_) => ExitCode::FAILURE,
        }
    }
}

/// Runs a client subcommand; errors become one line on stderr and an exit code.
pub async fn run(command: ClientCommand) -> ExitCode {
    let outcome = match command {
        ClientCommand::Publish(args) => publish::run(args).await,
        ClientCommand::Subscribe(args) => subscribe::run(args).await,
        ClientCommand::Topics(args) => topics::run(args).await,
        ClientCommand::Groups(args) => groups::run(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing left to do, and nothing wrong.
        Err(CliError::Output(error)) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eventstream: {error}");
            error.exit_code()
        }
    }
}
