//! `eventstream token new`: makes a token for the auth file. The token goes to a file only its
//! owner can read, never to the terminal; the `[[token]]` entry with its hash goes to stdout,
//! ready to append to the auth file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use eventstream::auth::{self, AuthFile, TokenEntry, TokenHash, Tokens, TopicPattern};

/// Arguments of `eventstream token`.
#[derive(clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Make a random token: writes it to --token-file and prints its auth file entry.
    #[command(
        after_help = "Example:\n  eventstream token new --name billing --subscribe 'orders.*' \
--token-file billing.token >> auth.toml\n\nExit codes: 0 done, 2 bad usage or the token file \
could not be written."
    )]
    New(NewArgs),
}

/// Arguments of `eventstream token new`.
#[derive(clap::Args)]
struct NewArgs {
    /// Who will hold the token; shown in the server's logs and errors instead of the token.
    #[arg(long)]
    name: String,
    /// A topic pattern the token may publish to: `*`, a name, or a prefix and `*` (`orders.*`).
    #[arg(long, value_parser = pattern)]
    publish: Vec<String>,
    /// A topic pattern the token may subscribe to.
    #[arg(long, value_parser = pattern)]
    subscribe: Vec<String>,
    /// A topic pattern the token may create and delete topics in.
    #[arg(long, value_parser = pattern)]
    admin: Vec<String>,
    /// Where to write the token (created with mode 0600; an existing file is not overwritten).
    #[arg(long)]
    token_file: PathBuf,
}

fn pattern(text: &str) -> Result<String, auth::InvalidPattern> {
    TopicPattern::parse(text).map(|_| text.to_string())
}

/// Runs `eventstream token ...`.
pub fn run(args: TokenArgs) -> ExitCode {
    let TokenCommand::New(args) = args.command;
    match new(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("eventstream: {message}");
            ExitCode::from(2)
        }
    }
}

fn new(args: NewArgs) -> Result<(), String> {
    let token = auth::new_token().map_err(|error| format!("no randomness for a token: {error}"))?;
    let entry = AuthFile {
        token: vec![TokenEntry {
            name: args.name,
            sha256: TokenHash::of(&token).to_hex(),
            publish: args.publish,
            subscribe: args.subscribe,
            admin: args.admin,
        }],
    };
    let text =
        toml::to_string(&entry).map_err(|error| format!("cannot write the entry: {error}"))?;
    // What is printed must load: the server applies the same checks.
    Tokens::parse(&text).map_err(|error| error.to_string())?;
    let path = &args.token_file;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| {
            file.write_all(format!("{token}\n").as_bytes())?;
            file.sync_all()
        })
        .map_err(|error| format!("cannot write the token to {}: {error}", path.display()))?;
    print!("{text}");
    Ok(())
}
