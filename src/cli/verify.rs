//! `eventstream verify`: checks a data directory offline and reports, per topic, what is intact.

use std::path::PathBuf;
use std::process::ExitCode;

use eventstream::storage::{Store, StoreOptions, StoreReport};

/// Arguments of `eventstream verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The data directory to check; stop the server using it first.
    #[arg(long, env = "EVENTSTREAM_DATA_DIR")]
    data_dir: PathBuf,
}

/// Exit codes, for `--help`.
pub const EXIT_CODES: &str = "Exit codes: 0 every topic is intact, 1 damage was found \
(the report names the topics and offsets), 2 the directory could not be checked.";

/// Checks `args.data_dir`; prints the report on stdout.
pub fn run(args: &VerifyArgs) -> ExitCode {
    if !args.data_dir.join("db").is_file() {
        eprintln!(
            "eventstream: {} is not an eventstream data directory (it has no db file)",
            args.data_dir.display()
        );
        return ExitCode::from(2);
    }
    let report =
        Store::open(&args.data_dir, StoreOptions::default()).and_then(|store| store.verify());
    match report {
        Ok(report) => {
            print!("{}", render(&report));
            if report.intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!(
                "eventstream: cannot check {}: {error} (is a server still running on it?)",
                args.data_dir.display()
            );
            ExitCode::from(2)
        }
    }
}

fn render(report: &StoreReport) -> String {
    let mut out = String::new();
    if let Some(problem) = &report.checkpoint_problem {
        out.push_str(&format!(
            "warning: {problem}: lost events cannot be detected, only damaged ones\n"
        ));
    }
    for topic in &report.topics {
        let bounds = topic.bounds;
        let verdict = if topic.damage.is_empty() {
            "intact"
        } else {
            "DAMAGED"
        };
        out.push_str(&format!(
            "{verdict:<7}  {}: offsets {}..{}, {} events in {} intact batches\n",
            topic.name, bounds.first_offset, bounds.next_offset, topic.events, topic.batches
        ));
        for damage in &topic.damage {
            out.push_str(&format!(
                "         offsets {}..{} cannot be served: {}\n",
                damage.first, damage.end, damage.what
            ));
        }
    }
    let damaged = report
        .topics
        .iter()
        .filter(|topic| !topic.damage.is_empty())
        .count();
    out.push_str(&format!(
        "{} topics checked, {damaged} damaged\n",
        report.topics.len()
    ));
    out
}
