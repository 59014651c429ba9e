//! Showing errors to people.

/// `error` and its causes on one line: tonic's own messages are often just "transport error",
/// with what went wrong in a cause.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        message = format!("{message}: {error}");
        cause = error.source();
    }
    message
}
