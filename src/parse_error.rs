//! The error of every `FromStr` of a configuration value: the text as written, and what it
//! should have been. Shared by the layers so that config errors read the same everywhere.

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not {expected}")]
pub struct ParseError {
    pub value: String,
    pub expected: &'static str,
}

impl ParseError {
    pub fn new(value: &str, expected: &'static str) -> ParseError {
        ParseError {
            value: value.trim().to_string(),
            expected,
        }
    }
}
