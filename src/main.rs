//! The `eventstream` command line.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use eventstream::config::file::{ConfigFile, ConfigFileError};
use eventstream::config::{Config, LogFormat, ServeArgs};

#[derive(Parser)]
#[command(
    name = "eventstream",
    version,
    about = "A durable gRPC event-streaming server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Check a data directory offline: which offsets of each topic are intact.
    #[command(after_help = cli::verify::EXIT_CODES)]
    Verify(cli::verify::VerifyArgs),
    /// Make tokens for the auth file (`--auth-file`).
    Token(cli::token::TokenArgs),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, matches) = match parse_command_line() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("error: {error}");
            // Like any other bad usage.
            return ExitCode::from(2);
        }
    };
    if let Command::Serve(serve) = &cli.command
        && serve.print_config
        && let Some(serve) = matches.subcommand_matches("serve")
    {
        print!("{}", eventstream::config::file::render(serve));
        return ExitCode::SUCCESS;
    }
    // The client commands print their own results and errors; their retry notices are noise.
    let (default_filter, format) = match &cli.command {
        Command::Serve(serve) => ("info", serve.config.log_format),
        Command::Verify(_) | Command::Token(_) | Command::Client(_) => ("warn", LogFormat::Text),
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => log.with_ansi(std::io::stderr().is_terminal()).init(),
        // Event fields at the top level and the innermost span (an RPC's method, peer and
        // topic) beside them: what log collectors index best.
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli.command {
        Command::Serve(serve_args) => {
            if let Some(path) = &serve_args.config_file {
                tracing::info!(
                    "settings from {} where no flag or variable sets them",
                    path.display()
                );
            }
            serve(serve_args.config).await
        }
        Command::Verify(args) => cli::verify::run(&args),
        Command::Token(args) => cli::token::run(args),
        Command::Client(command) => cli::run(command).await,
    }
}

/// Parses the command line; with `serve --config FILE`, twice: the file's settings become the
/// flags' defaults, so flags and environment variables still override them.
fn parse_command_line() -> Result<(Cli, ArgMatches), ConfigFileError> {
    let matches = Cli::command().get_matches();
    let config_file = match matches.subcommand() {
        Some(("serve", serve)) => {
            ServeArgs::from_arg_matches(serve)
                .unwrap_or_else(|error| error.exit())
                .config_file
        }
        _ => None,
    };
    let matches = match config_file {
        Some(path) => {
            let file = ConfigFile::read(&path)?;
            Cli::command()
                .mut_subcommand("serve", |serve| file.apply(serve))
                .get_matches()
        }
        None => matches,
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    Ok((cli, matches))
}

async fn serve(config: Config) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("cannot listen on {}: {error}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    match eventstream::server::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed before this returns, so a signal
/// that arrives while the server is still starting is not lost (nor fatal).
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind: SignalKind, name: &'static str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(error) => {
            tracing::error!("cannot watch for {name}: {error}");
            None
        }
    };
    let mut interrupt = watch(SignalKind::interrupt(), "Ctrl-C");
    let mut terminate = watch(SignalKind::terminate(), "SIGTERM");
    async move {
        let received = |stream: Option<tokio::signal::unix::Signal>| async move {
            match stream {
                Some(mut stream) => {
                    stream.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = received(interrupt.take()) => {},
            () = received(terminate.take()) => {},
        }
    }
}
