//! Who is calling: the bearer token in a call's `authorization` metadata, checked before any
//! handler runs, so a call without a valid token never reaches the engine.

use std::sync::Arc;

use tonic::metadata::MetadataMap;
use tonic::service::Interceptor;
use tonic::{Request, Status};

use crate::auth::{Caller, Tokens};

/// Puts the [`Caller`] of every call into its extensions, or refuses the call with
/// UNAUTHENTICATED. Without tokens, every caller is [`Caller::Anyone`].
#[derive(Clone)]
pub struct Authenticator {
    tokens: Option<Arc<Tokens>>,
}

impl Authenticator {
    /// Checks calls against `tokens`; `None` lets everyone in.
    pub fn new(tokens: Option<Arc<Tokens>>) -> Self {
        Self { tokens }
    }
}

impl Interceptor for Authenticator {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = match &self.tokens {
            None => Caller::Anyone,
            Some(tokens) => identify(tokens, request.metadata())?,
        };
        if let Some(name) = caller.name() {
            tracing::Span::current().record("caller", name);
        }
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The holder of the token in `metadata`. The messages never repeat what was sent.
fn identify(tokens: &Tokens, metadata: &MetadataMap) -> Result<Caller, Status> {
    let value = metadata.get("authorization").ok_or_else(|| {
        Status::unauthenticated("no token: send the metadata `authorization: Bearer <token>`")
    })?;
    let token = value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        Status::unauthenticated("malformed authorization metadata: expected `Bearer <token>`")
    })?;
    tokens
        .identify(token)
        .ok_or_else(|| Status::unauthenticated("unknown token"))
}

/// The token of a `Bearer <token>` value (the scheme is case-insensitive, as in RFC 6750).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller the [`Authenticator`] found for `request`. Missing means the service was served
/// without it: refused rather than let through.
pub(super) fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::internal("the call was not authenticated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_are_parsed_leniently_about_case_and_spaces() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
