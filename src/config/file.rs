//! The `--config` file of `eventstream serve`, and `--print-config`.
//!
//! The file is TOML whose keys are the long flags of [`Config`] without their dashes
//! (`max-request-bytes = 16777216`), with values written as on the command line: durations as
//! `"24h"`, sizes as integer bytes. Nothing here names a setting: the keys, the checks of their
//! values and what is printed all come from the clap definition of [`Config`], so a flag added
//! there is a key of the file and a line of `--print-config` without more code.
//!
//! The file's values become the defaults of the flags, so clap's own order of precedence makes
//! a flag win over its environment variable, and that over the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, Args, Command};

use super::Config;

/// Words that mark a flag as a secret in `--print-config` even when it is not declared with
/// `hide_env_values` (the declaration that also keeps its value out of `--help`).
const SECRET_WORDS: &[&str] = &["password", "secret", "token", "credential"];

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}: {source}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: toml::de::Error,
    },
    /// A key that is no setting: a typo must not silently leave a default in place.
    #[error(
        "{}: unknown key `{key}`; the keys are the long flags of `eventstream serve` without the dashes: {known}",
        path.display()
    )]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Every valid key, comma-separated.
        known: String,
    },
    /// A value the setting does not accept.
    #[error("{}: key `{key}`: {reason}", path.display())]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

/// The settings of a configuration file, checked against the flags they stand for.
#[derive(Debug)]
pub struct ConfigFile {
    /// Each setting's clap argument id and its values as command-line text.
    defaults: Vec<(String, Vec<String>)>,
}

impl ConfigFile {
    /// Reads and checks the file at `path`: every key must be a setting and every value one
    /// its flag accepts.
    pub fn read(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&settings(), path, &text)
    }

    /// `text` read as the settings that are the arguments of `settings`.
    fn parse(settings: &Command, path: &Path, text: &str) -> Result<Self, ConfigFileError> {
        let table: toml::Table = text.parse().map_err(|source| ConfigFileError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        let mut defaults = Vec::new();
        for (key, value) in table {
            let Some(arg) = settings
                .get_arguments()
                .find(|arg| arg.get_long() == Some(key.as_str()))
            else {
                return Err(ConfigFileError::UnknownKey {
                    path: path.to_path_buf(),
                    known: settings
                        .get_arguments()
                        .filter_map(clap::Arg::get_long)
                        .collect::<Vec<_>>()
                        .join(", "),
                    key,
                });
            };
            let invalid = |reason: String| ConfigFileError::InvalidValue {
                path: path.to_path_buf(),
                key: key.clone(),
                reason,
            };
            let values = command_line_values(value).map_err(invalid)?;
            check(settings, arg, &values).map_err(invalid)?;
            defaults.push((arg.get_id().to_string(), values));
        }
        Ok(Self { defaults })
    }

    /// Makes the file's values the defaults of the settings of `serve`, the command that
    /// flattens [`Config`].
    pub fn apply(&self, serve: Command) -> Command {
        self.defaults.iter().fold(serve, |serve, (id, values)| {
            serve.mut_arg(id, |arg| arg.default_values(values.clone()))
        })
    }
}

/// The settings' arguments as clap defines them.
fn settings() -> Command {
    Config::augment_args(Command::new("eventstream-serve"))
}

/// `value` as the text its flag would be given: one string per occurrence.
fn command_line_values(value: toml::Value) -> Result<Vec<String>, String> {
    fn scalar(value: toml::Value) -> Result<String, String> {
        match value {
            toml::Value::String(text) => Ok(text),
            toml::Value::Integer(number) => Ok(number.to_string()),
            toml::Value::Float(number) => Ok(number.to_string()),
            toml::Value::Boolean(flag) => Ok(flag.to_string()),
            toml::Value::Datetime(time) => Ok(time.to_string()),
            toml::Value::Array(_) | toml::Value::Table(_) => Err(format!(
                "expected a string, number or boolean, found {}",
                value.type_str()
            )),
        }
    }
    match value {
        toml::Value::Array(values) => values.into_iter().map(scalar).collect(),
        value => scalar(value).map(|text| vec![text]),
    }
}

/// Whether `arg` accepts `values`, judged by clap itself with the environment out of the way.
fn check(settings: &Command, arg: &clap::Arg, values: &[String]) -> Result<(), String> {
    let long = arg.get_long().unwrap_or_default();
    let occurrences: Vec<OsString> = if arg.get_action().takes_values() {
        values
            .iter()
            .map(|value| format!("--{long}={value}").into())
            .collect()
    } else {
        // A switch: present or not.
        match values {
            [value] if value == "true" => vec![format!("--{long}").into()],
            [value] if value == "false" => Vec::new(),
            _ => return Err("expected true or false".to_string()),
        }
    };
    settings
        .clone()
        .no_binary_name(true)
        .mut_args(|arg| arg.env(None))
        .try_get_matches_from(occurrences)
        .map(drop)
        .map_err(|error| {
            let rendered = error.to_string();
            let first_line = rendered.lines().next().unwrap_or_default();
            first_line
                .strip_prefix("error: ")
                .unwrap_or(first_line)
                .to_string()
        })
}

/// The effective settings in `matches` (of the command that flattens [`Config`]) as a
/// configuration file that `--config` loads again, secrets left out.
pub fn render(matches: &ArgMatches) -> String {
    render_settings(&settings(), matches)
}

fn render_settings(settings: &Command, matches: &ArgMatches) -> String {
    let mut text = String::from(
        "# The effective configuration of `eventstream serve`: flags, then EVENTSTREAM_*\n\
         # variables, then --config, then defaults. Load it with --config FILE.\n",
    );
    for arg in settings.get_arguments() {
        let Some(key) = arg.get_long() else { continue };
        text.push('\n');
        if let Some(help) = arg.get_help() {
            for line in help.to_string().lines() {
                text.push_str(&format!("# {line}\n"));
            }
        }
        let values: Vec<String> = matches
            .get_raw(arg.get_id().as_str())
            .into_iter()
            .flatten()
            .map(|value| value.to_string_lossy().into_owned())
            .collect();
        if values.is_empty() {
            text.push_str(&format!("# {key}: not set\n"));
        } else if is_secret(arg) {
            text.push_str(&format!(
                "# {key}: set, not shown (a secret: give it by flag or environment variable)\n"
            ));
        } else {
            let value = match values.as_slice() {
                [value] if !matches!(arg.get_action(), clap::ArgAction::Append) => {
                    toml_value(value)
                }
                _ => toml::Value::Array(values.iter().map(|value| toml_value(value)).collect()),
            };
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text
}

/// Whether `arg`'s value must not be printed.
fn is_secret(arg: &clap::Arg) -> bool {
    let name = arg.get_long().unwrap_or_default();
    arg.is_hide_env_values_set() || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// `text` as the TOML a person would write: numbers and booleans bare. Loading turns every
/// value back into text, so the choice cannot change what a setting gets.
fn toml_value(text: &str) -> toml::Value {
    if let Ok(number) = text.parse::<i64>() {
        toml::Value::Integer(number)
    } else if let Ok(flag) = text.parse::<bool>() {
        toml::Value::Boolean(flag)
    } else {
        toml::Value::String(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;

    /// Settings of every kind the file must handle.
    #[derive(Debug, Parser, PartialEq)]
    struct Settings {
        #[arg(long, default_value_t = 5)]
        limit: usize,
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: Duration,
        #[arg(long)]
        verbose: bool,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        peer: Vec<String>,
        #[arg(long)]
        api_token: Option<String>,
        #[arg(long, env = "EVENTSTREAM_TEST_UNSET_SECRET", hide_env_values = true)]
        signing_key: Option<String>,
    }

    fn load(text: &str) -> Result<ConfigFile, ConfigFileError> {
        ConfigFile::parse(&Settings::command(), Path::new("test.toml"), text)
    }

    fn parse(file: &ConfigFile, args: &[&str]) -> (Settings, ArgMatches) {
        let matches = file
            .apply(Settings::command())
            .try_get_matches_from(std::iter::once("test").chain(args.iter().copied()))
            .expect("arguments parse");
        let settings = Settings::from_arg_matches(&matches).expect("settings");
        (settings, matches)
    }

    #[test]
    fn file_values_are_defaults_that_flags_override() {
        let file = load(
            "limit = 7\ninterval = \"2m\"\nverbose = true\npeer = [\"a\", \"b\"]\naddress = \"x:1\"\n",
        )
        .expect("valid file");
        let (settings, _) = parse(&file, &["--limit", "9"]);
        assert_eq!(
            settings,
            Settings {
                limit: 9,
                interval: Duration::from_secs(120),
                verbose: true,
                address: Some("x:1".into()),
                peer: vec!["a".into(), "b".into()],
                api_token: None,
                signing_key: None,
            }
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let error = load("limit = 1\nlimits = 2\n").expect_err("unknown key");
        let message = error.to_string();
        assert!(message.contains("unknown key `limits`"), "{message}");
        assert!(message.contains("limit, interval, verbose"), "{message}");

        let error = load("interval = \"soon\"\n").expect_err("bad duration");
        assert!(
            error
                .to_string()
                .starts_with("test.toml: key `interval`: invalid value 'soon'"),
            "{error}"
        );
        let error = load("verbose = \"maybe\"\n").expect_err("bad switch");
        assert!(
            error.to_string().contains("expected true or false"),
            "{error}"
        );
        let error = load("[limit]\nx = 1\n").expect_err("table");
        assert!(error.to_string().contains("found table"), "{error}");
        assert!(matches!(
            load("limit = "),
            Err(ConfigFileError::Syntax { .. })
        ));
    }

    #[test]
    fn rendered_settings_load_back_without_secrets() {
        let (settings, matches) = parse(
            &load("interval = \"90s\"\n").expect("valid file"),
            &[
                "--verbose",
                "--peer=a b",
                "--peer=c\"d",
                "--api-token=hunter2",
                "--signing-key=hunter3",
            ],
        );
        let rendered = render_settings(&Settings::command(), &matches);
        assert!(!rendered.contains("hunter"), "{rendered}");
        assert!(rendered.contains("# address: not set"), "{rendered}");
        let (reloaded, _) = parse(&load(&rendered).expect("rendered file loads"), &[]);
        assert_eq!(
            reloaded,
            Settings {
                api_token: None,
                signing_key: None,
                ..settings
            }
        );
    }
}
