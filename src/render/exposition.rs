//! The Prometheus text format's small pieces: label values escaped, label sets joined.
//! `store` renders label sets with these once per poll; `render` writes the lines.

/// Writes `value` as a label value: backslash, quote and newline escaped.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `name="value"` to a label set, with a comma when it is not the first.
pub fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    escape_into(out, value);
    out.push('"');
}

/// Appends `account="<name>"`, only with `accounts:` (a non-empty name), so that a single
/// account's series read as they did before accounts.
pub fn push_account(out: &mut String, account: &str) {
    if !account.is_empty() {
        push_label(out, "account", account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_joined() {
        let mut l = String::new();
        push_label(&mut l, "a", "x");
        push_label(&mut l, "b", "q\"b\\s\nn");
        assert_eq!(l, r#"a="x",b="q\"b\\s\nn""#);
    }
}
