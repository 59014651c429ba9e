//! Who may do what: bearer tokens, each with a name and permissions on topic name patterns,
//! loaded from a TOML auth file that holds only the tokens' SHA-256 hashes.
//!
//! ```toml
//! [[token]]
//! name = "billing"
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! subscribe = ["orders.*"]
//! publish = ["billing"]
//! admin = []
//! ```
//!
//! This module knows nothing of gRPC: the API layer reads the token from the call's metadata,
//! asks [`Tokens::identify`] for the [`Caller`], and asks the caller for each topic it touches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::TopicName;

/// Random bytes in a token made by [`new_token`]: 256 bits, so a plain SHA-256 of the token is
/// as good as a slow password hash (there is nothing to guess).
const TOKEN_BYTES: usize = 32;
/// Marks a string as an eventstream token, so a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "es_";

/// What a token may do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Publish and PublishStream.
    Publish,
    /// Subscribe (and GetCursor).
    Subscribe,
    /// CreateTopic and DeleteTopic.
    Admin,
}

/// Every permission.
const PERMISSIONS: [Permission; 3] = [
    Permission::Publish,
    Permission::Subscribe,
    Permission::Admin,
];

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Permission::Publish => "publish",
            Permission::Subscribe => "subscribe",
            Permission::Admin => "admin",
        })
    }
}

/// The topics a permission covers: `*` (all), `prefix*` (names starting with `prefix`, so
/// `orders.*` covers `orders.eu` but not `orders`), or one exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPattern {
    /// Every topic.
    Any,
    /// Topics whose name starts with this text.
    Prefix(String),
    /// The topic of exactly this name.
    Exact(TopicName),
}

/// Why a string is not a [`TopicPattern`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid topic pattern {pattern:?}: use `*`, a topic name, or a topic name prefix followed by `*` (like `orders.*`)"
)]
pub struct InvalidPattern {
    /// The pattern as written.
    pub pattern: String,
}

impl TopicPattern {
    /// Parses `*`, `prefix*` or a topic name.
    pub fn parse(pattern: &str) -> Result<Self, InvalidPattern> {
        let invalid = || InvalidPattern {
            pattern: pattern.to_string(),
        };
        if pattern == "*" {
            return Ok(Self::Any);
        }
        match pattern.strip_suffix('*') {
            // A prefix must itself be a valid name: then some topic can start with it.
            Some(prefix) => TopicName::new(prefix)
                .map(|_| Self::Prefix(prefix.to_string()))
                .map_err(|_| invalid()),
            None => TopicName::new(pattern)
                .map(Self::Exact)
                .map_err(|_| invalid()),
        }
    }

    /// Whether `topic` is covered.
    pub fn matches(&self, topic: &TopicName) -> bool {
        match self {
            TopicPattern::Any => true,
            TopicPattern::Prefix(prefix) => topic.as_str().starts_with(prefix.as_str()),
            TopicPattern::Exact(name) => name == topic,
        }
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicPattern::Any => f.write_str("*"),
            TopicPattern::Prefix(prefix) => write!(f, "{prefix}*"),
            TopicPattern::Exact(name) => f.write_str(name.as_str()),
        }
    }
}

/// The topics on which a token has each permission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Where it may publish.
    pub publish: Vec<TopicPattern>,
    /// Where it may subscribe.
    pub subscribe: Vec<TopicPattern>,
    /// Which topics it may create and delete.
    pub admin: Vec<TopicPattern>,
}

impl Grants {
    fn patterns(&self, permission: Permission) -> &[TopicPattern] {
        match permission {
            Permission::Publish => &self.publish,
            Permission::Subscribe => &self.subscribe,
            Permission::Admin => &self.admin,
        }
    }

    /// Whether these grants allow `permission` on `topic`.
    pub fn allows(&self, permission: Permission, topic: &TopicName) -> bool {
        self.patterns(permission)
            .iter()
            .any(|pattern| pattern.matches(topic))
    }
}

/// The SHA-256 of a token: all the server keeps of it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `token` (its UTF-8 bytes).
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Lowercase hex, as the auth file holds it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

// Never print a hash by accident either: it is not secret, but it identifies a token.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// One token of the auth file.
#[derive(Debug)]
pub struct Token {
    /// Who holds it; appears in logs and errors instead of the token.
    pub name: String,
    hash: TokenHash,
    /// What it may do.
    pub grants: Grants,
}

/// Who is making a call.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Anyone: the server runs without an auth file and allows everything.
    Anyone,
    /// The holder of a token from the auth file.
    Token(Arc<Token>),
}

/// A caller lacks a permission on a topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Denied {
    /// The token's name.
    pub caller: String,
    /// The permission needed; `None` when any would have done.
    pub permission: Option<Permission>,
    /// The topic.
    pub topic: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {:?} has no ", self.caller)?;
        if let Some(permission) = self.permission {
            write!(f, "{permission} ")?;
        }
        write!(f, "permission on topic {:?}", self.topic)
    }
}

impl Caller {
    /// The token's name, if any: for logs.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Anyone => None,
            Caller::Token(token) => Some(&token.name),
        }
    }

    /// Allows `permission` on `topic`, or says why not.
    pub fn authorize(&self, permission: Permission, topic: &TopicName) -> Result<(), Denied> {
        self.allow_if(topic, Some(permission), |grants| {
            grants.allows(permission, topic)
        })
    }

    /// Allows learning that `topic` exists and how it is configured, or says why not: any
    /// permission on it will do (a publisher checking its topic's settings needs no more).
    pub fn authorize_any(&self, topic: &TopicName) -> Result<(), Denied> {
        self.allow_if(topic, None, |grants| {
            PERMISSIONS
                .into_iter()
                .any(|permission| grants.allows(permission, topic))
        })
    }

    /// Whether [`Caller::authorize_any`] allows `topic`.
    pub fn may_see(&self, topic: &TopicName) -> bool {
        self.authorize_any(topic).is_ok()
    }

    fn allow_if(
        &self,
        topic: &TopicName,
        permission: Option<Permission>,
        allowed: impl FnOnce(&Grants) -> bool,
    ) -> Result<(), Denied> {
        match self {
            Caller::Anyone => Ok(()),
            Caller::Token(token) if allowed(&token.grants) => Ok(()),
            Caller::Token(token) => Err(Denied {
                caller: token.name.clone(),
                permission,
                topic: topic.to_string(),
            }),
        }
    }
}

/// The tokens of an auth file.
#[derive(Debug)]
pub struct Tokens {
    tokens: Vec<Arc<Token>>,
}

impl Tokens {
    /// Reads and checks the auth file at `path`.
    pub fn load(path: &Path) -> Result<Self, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|problem| AuthFileError::Invalid {
            path: path.to_path_buf(),
            problem,
        })
    }

    /// Parses and checks the text of an auth file.
    pub fn parse(text: &str) -> Result<Self, InvalidAuthFile> {
        let file: AuthFile = toml::from_str(text).map_err(|error| {
            // toml's message spans several lines with a source excerpt; one line reads better
            // in a log.
            InvalidAuthFile::Syntax(
                error
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        if file.token.is_empty() {
            return Err(InvalidAuthFile::NoTokens);
        }
        let mut tokens: Vec<Arc<Token>> = Vec::with_capacity(file.token.len());
        for entry in file.token {
            let token = entry.check()?;
            if let Some(other) = tokens.iter().find(|other| other.name == token.name) {
                return Err(InvalidAuthFile::DuplicateName(other.name.clone()));
            }
            if let Some(other) = tokens.iter().find(|other| other.hash == token.hash) {
                return Err(InvalidAuthFile::DuplicateHash {
                    first: other.name.clone(),
                    second: token.name,
                });
            }
            tokens.push(Arc::new(token));
        }
        Ok(Self { tokens })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are none (never true of a loaded file).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The caller holding `token`, if it is one of these.
    pub fn identify(&self, token: &str) -> Option<Caller> {
        let presented = TokenHash::of(token);
        // Every hash is compared, in constant time, so how long this takes says nothing about
        // how close the token came to one of them.
        let mut found = None;
        for candidate in &self.tokens {
            if bool::from(candidate.hash.0.ct_eq(&presented.0)) {
                found = Some(Arc::clone(candidate));
            }
        }
        found.map(Caller::Token)
    }
}

/// Why the auth file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    /// It could not be read.
    #[error("cannot read the auth file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Its content is wrong.
    #[error("invalid auth file {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: InvalidAuthFile,
    },
}

/// What is wrong with an auth file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAuthFile {
    /// Not TOML, or not the expected keys (unknown keys are refused, so typos do not silently
    /// drop a permission).
    #[error("{0}")]
    Syntax(String),
    /// No `[[token]]` entries: every call would be refused.
    #[error("no [[token]] entries; every call would be refused")]
    NoTokens,
    /// A token without a name.
    #[error("a token has an empty name")]
    EmptyName,
    /// A `sha256` that is not 64 hex digits.
    #[error(
        "token {0:?}: sha256 must be 64 hex digits, the SHA-256 of the token (not the token itself)"
    )]
    BadHash(String),
    /// Two tokens with one name.
    #[error("two tokens are named {0:?}")]
    DuplicateName(String),
    /// Two entries for the same token.
    #[error("tokens {first:?} and {second:?} have the same sha256")]
    DuplicateHash {
        /// The earlier entry.
        first: String,
        /// The later one.
        second: String,
    },
    /// A topic pattern that cannot be parsed.
    #[error("token {name:?}: {error}")]
    BadPattern {
        /// The token.
        name: String,
        /// The pattern's problem.
        error: InvalidPattern,
    },
}

/// The auth file as written.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// The tokens.
    #[serde(default)]
    pub token: Vec<TokenEntry>,
}

/// One `[[token]]` entry as written.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds the token.
    pub name: String,
    /// The SHA-256 of the token, in hex.
    pub sha256: String,
    /// Topic patterns it may publish to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// Topic patterns it may subscribe to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    /// Topic patterns it may create and delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin: Vec<String>,
}

impl TokenEntry {
    /// Checks the entry: a name, a well-formed hash and valid patterns.
    pub fn check(self) -> Result<Token, InvalidAuthFile> {
        if self.name.trim().is_empty() {
            return Err(InvalidAuthFile::EmptyName);
        }
        let Some(hash) = TokenHash::from_hex(self.sha256.trim()) else {
            return Err(InvalidAuthFile::BadHash(self.name));
        };
        let patterns = |patterns: &[String]| {
            patterns
                .iter()
                .map(|pattern| TopicPattern::parse(pattern))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| InvalidAuthFile::BadPattern {
                    name: self.name.clone(),
                    error,
                })
        };
        let grants = Grants {
            publish: patterns(&self.publish)?,
            subscribe: patterns(&self.subscribe)?,
            admin: patterns(&self.admin)?,
        };
        Ok(Token {
            name: self.name,
            hash,
            grants,
        })
    }
}

/// A new random token: `es_` and 256 bits from the operating system's generator, base64url.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).expect("valid name")
    }

    fn entry(name: &str, token: &str, grants: &str) -> String {
        format!(
            "[[token]]\nname = {name:?}\nsha256 = {:?}\n{grants}\n",
            TokenHash::of(token).to_hex()
        )
    }

    #[test]
    fn patterns_match_all_a_prefix_or_one_name() {
        let orders = TopicPattern::parse("orders.*").expect("prefix");
        assert!(orders.matches(&topic("orders.eu")));
        assert!(!orders.matches(&topic("orders")));
        assert!(!orders.matches(&topic("payments")));
        assert!(TopicPattern::parse("*").expect("any").matches(&topic("x")));
        let exact = TopicPattern::parse("payments").expect("exact");
        assert!(exact.matches(&topic("payments")));
        assert!(!exact.matches(&topic("payments.eu")));
        for bad in ["", "*.eu", "or*ders", "orders.**", "a b", "**"] {
            assert!(TopicPattern::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn tokens_are_identified_by_their_hash_and_authorized_per_topic() {
        let text = entry("reader", "secret-1", "subscribe = [\"orders.*\"]")
            + &entry("ops", "secret-2", "admin = [\"*\"]\npublish = [\"*\"]");
        let tokens = Tokens::parse(&text).expect("valid file");
        assert!(tokens.identify("secret-3").is_none());
        assert!(tokens.identify("").is_none());
        let reader = tokens.identify("secret-1").expect("reader");
        assert_eq!(reader.name(), Some("reader"));
        assert!(
            reader
                .authorize(Permission::Subscribe, &topic("orders.eu"))
                .is_ok()
        );
        let denied = reader
            .authorize(Permission::Publish, &topic("orders.eu"))
            .expect_err("no publish");
        assert_eq!(
            denied.to_string(),
            "token \"reader\" has no publish permission on topic \"orders.eu\""
        );
        assert!(reader.may_see(&topic("orders.eu")));
        assert!(!reader.may_see(&topic("payments")));
        let ops = tokens.identify("secret-2").expect("ops");
        assert!(ops.authorize(Permission::Admin, &topic("payments")).is_ok());
        assert!(
            ops.authorize(Permission::Subscribe, &topic("payments"))
                .is_err()
        );
        assert!(
            Caller::Anyone
                .authorize(Permission::Admin, &topic("x"))
                .is_ok()
        );
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        let refused = |text: &str| Tokens::parse(text).expect_err("refused");
        assert_eq!(refused(""), InvalidAuthFile::NoTokens);
        assert!(matches!(
            refused("[[token]]\nname = 1"),
            InvalidAuthFile::Syntax(_)
        ));
        let typo = entry("a", "t", "subscrbe = [\"*\"]");
        assert!(
            matches!(refused(&typo), InvalidAuthFile::Syntax(message) if message.contains("subscrbe"))
        );
        assert_eq!(
            refused("[[token]]\nname = \"a\"\nsha256 = \"the-token\""),
            InvalidAuthFile::BadHash("a".to_string())
        );
        assert!(matches!(
            refused(&entry("a", "t", "publish = [\"*.eu\"]")),
            InvalidAuthFile::BadPattern { .. }
        ));
        assert_eq!(
            refused(&(entry("a", "t1", "") + &entry("a", "t2", ""))),
            InvalidAuthFile::DuplicateName("a".to_string())
        );
        assert!(matches!(
            refused(&(entry("a", "t", "") + &entry("b", "t", ""))),
            InvalidAuthFile::DuplicateHash { .. }
        ));
        assert_eq!(refused(&entry(" ", "t", "")), InvalidAuthFile::EmptyName);
    }

    #[test]
    fn new_tokens_are_random_and_recognisable() {
        let first = new_token().expect("token");
        let second = new_token().expect("token");
        assert_ne!(first, second);
        assert!(first.starts_with(TOKEN_PREFIX));
        assert_eq!(first.len(), TOKEN_PREFIX.len() + 43);
    }
}
