//! INI as Python's `configparser` reads it, and so as Tencent's Python SDK reads the profile
//! file: `key = value` or `key: value`, split at the first `=` or `:`; keys lower-cased,
//! section names as written; `#` and `;` lines are comments; a line indented deeper than its
//! key continues the value; a section or key given twice is an error (configparser's strict
//! mode). Errors name the file and line, never a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Sections, each a map of (lower-case) keys to values.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// A line of the file that configparser would refuse; the line is named, never quoted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} line {line}: {problem}", path.display())]
pub struct IniError {
    pub path: PathBuf,
    pub line: usize,
    pub problem: String,
}

/// Where the parser is: the section, and the key whose value a deeper line continues.
#[derive(Default)]
struct Cursor {
    section: Option<String>,
    open: Option<(String, usize)>,
}

/// Parses INI text; `path` is only for the errors.
pub fn parse(text: &str, path: &Path) -> Result<Ini, IniError> {
    let mut ini = Ini::new();
    let mut at = Cursor::default();
    // A UTF-8 byte order mark, as Windows editors write it, is not part of the first line.
    for (i, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        line(&mut ini, &mut at, raw).map_err(|problem| IniError {
            path: path.to_path_buf(),
            line: i + 1,
            problem,
        })?;
    }
    Ok(ini)
}

fn line(ini: &mut Ini, at: &mut Cursor, raw: &str) -> Result<(), String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        at.open = None;
        return Ok(());
    }
    let indent = raw.len() - raw.trim_start().len();
    if let (Some(name), Some((key, key_indent))) = (&at.section, &at.open) {
        if indent > *key_indent {
            if let Some(value) = ini.get_mut(name).and_then(|s| s.get_mut(key)) {
                value.push('\n');
                value.push_str(line);
            }
            return Ok(());
        }
    }
    if let Some(rest) = line.strip_prefix('[') {
        let name = rest
            .strip_suffix(']')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or("a section header must read [name]")?;
        if ini.insert(name.to_string(), BTreeMap::new()).is_some() {
            return Err(format!("section [{name}] is given twice"));
        }
        *at = Cursor {
            section: Some(name.to_string()),
            open: None,
        };
        return Ok(());
    }
    let Some((key, value)) = line.split_once(['=', ':']) else {
        return Err("expected `key = value`, `key: value` or [section]".into());
    };
    let Some(name) = &at.section else {
        return Err("a key before the first [section]".into());
    };
    let key = key.trim().to_lowercase();
    if key.is_empty() {
        return Err("a value without a key".into());
    }
    let keys = ini.entry(name.clone()).or_default();
    if keys.insert(key.clone(), value.trim().to_string()).is_some() {
        return Err(format!("key {key} is given twice in [{name}]"));
    }
    at.open = Some((key, indent));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_configparser_reads() {
        let p = Path::new("/h/.tencentcloud/credentials");
        let text = "\u{feff}# comment\n[default]\nsecret_id = AKID1\nSECRET_KEY: k1\n  more\n\n; other\n[ci]\n  Secret_Id=AKID2:x\n  token = t\n";
        let ini = parse(text, p).unwrap();
        assert_eq!(ini["default"]["secret_id"], "AKID1");
        // Upper-case keys are lower-cased; a deeper line continues the value.
        assert_eq!(ini["default"]["secret_key"], "k1\nmore");
        // Split at the first delimiter; keys at the same depth are keys, not continuations.
        assert_eq!(ini["ci"]["secret_id"], "AKID2:x");
        assert_eq!(ini["ci"]["token"], "t");
        // Section names keep their case, as in configparser.
        assert!(
            parse("[Default]\na=1\n", p)
                .unwrap()
                .contains_key("Default")
        );
    }

    #[test]
    fn names_file_and_line_never_the_value() {
        let p = Path::new("/h/.tencentcloud/credentials");
        for (text, line, problem) in [
            ("[default\nsecret_id=a\n", 1, "a section header"),
            (
                "[default]\nsecret_key super-secret\n",
                2,
                "expected `key = value`",
            ),
            ("secret_key=super-secret\n", 1, "before the first [section]"),
            ("[a]\n= super-secret\n", 2, "a value without a key"),
            (
                "[a]\nk=super-secret\nK: super-secret\n",
                3,
                "key k is given twice in [a]",
            ),
            ("[a]\n[b]\n[a]\n", 3, "section [a] is given twice"),
        ] {
            let err = parse(text, p).unwrap_err();
            assert_eq!((err.path.as_path(), err.line), (p, line), "{err}");
            assert!(err.problem.contains(problem), "{err}");
            assert!(!err.to_string().contains("super-secret"), "{err}");
        }
    }
}
