//! The error of every `FromStr` of a configuration value: the text as written, and what it
//! should have been. Shared by the layers so that config errors read the same everywhere.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not {expected}{}", because.as_deref().map(|b| format!(" ({b})")).unwrap_or_default())]
pub struct ParseError {
    pub value: String,
    pub expected: &'static str,
    /// The parser's own reason, where it says more than `expected`.
    pub because: Option<String>,
}

impl ParseError {
    pub fn new(value: &str, expected: &'static str) -> ParseError {
        ParseError {
            value: value.trim().to_string(),
            expected,
            because: None,
        }
    }

    pub fn because(mut self, reason: impl ToString) -> ParseError {
        self.because = Some(reason.to_string());
        self
    }
}
