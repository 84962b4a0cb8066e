//! Small pieces of the HTML pages: escaping, links, and the way times and amounts read.

use std::fmt::Write as _;

use crate::time::format_utc;

/// Escapes text for HTML, in element content and in quoted attribute values alike.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes one path segment: everything but unreserved characters.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The page's head and the start of its body: one stylesheet inline, nothing external.
pub fn head(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>",
        esc(title)
    );
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
    table{border-collapse:collapse;margin-bottom:1em}\
    td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;white-space:nowrap}\
    td.msg{white-space:normal}\
    th{background:#f4f4f4}.counts{display:flex;gap:.6em;padding:0;list-style:none;flex-wrap:wrap}\
    .counts li{border:1px solid #ccc;border-radius:4px;padding:.4em .8em}\
    .counts b{font-size:1.4em;margin-right:.3em}\
    .failed,.killed{color:#b00020}.stalled{color:#b35c00}.running{color:#0b5394}\
    .success{color:#1e7b34}.muted{color:#777}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}\
    dt{font-weight:bold}dd{margin:0}";

pub fn foot(h: &mut String) {
    h.push_str("</body></html>\n");
}

/// A Unix time as RFC 3339 UTC, or a dash.
pub fn time(t: Option<f64>) -> String {
    t.filter(|t| t.is_finite())
        .map_or_else(|| "–".to_string(), |t| format_utc(t.floor() as i64))
}

/// A 0–1 ratio as a whole percentage, or a dash.
pub fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "–".to_string(), |p| format!("{:.0} %", p * 100.0))
}

/// Seconds as `2 h 05 min`, `5 min 10 s` or `42 s`.
pub fn span(seconds: Option<f64>) -> String {
    let Some(s) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return "–".to_string();
    };
    let s = s.round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec} s"),
        (0, m, sec) => format!("{m} min {sec:02} s"),
        (h, m, _) => format!("{h} h {m:02} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_segments_are_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(segment("ap-shanghai"), "ap-shanghai");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn amounts_read_well() {
        assert_eq!(span(Some(42.0)), "42 s");
        assert_eq!(span(Some(310.0)), "5 min 10 s");
        assert_eq!(span(Some(7500.0)), "2 h 05 min");
        assert_eq!(span(Some(-1.0)), "–");
        assert_eq!(percent(Some(0.421)), "42 %");
        assert_eq!(time(Some(1_462_960_709.7)), "2016-05-11T09:58:29Z");
    }
}
