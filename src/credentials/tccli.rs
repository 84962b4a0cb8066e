//! tccli's own credential file, `~/.tccli/<profile>.credential`: JSON written by
//! `tccli configure`, with `secretId`, `secretKey` and, for temporary keys, `token`
//! (names from tccli's `options_define.py`). Its `type` says how tccli gets the keys:
//! absent or `default` for keys written there; `sso` and `oauth` files hold keys that only
//! tccli itself renews, and `cvm-role` files hold none, so those are not used.

use std::path::Path;

use serde_json::Value;

use super::Lack;
use super::{Credentials, Secret};

/// The file's credentials; `Absent` when it is missing or of a type the exporter cannot
/// keep fresh. Errors name the file and field, never a value.
pub fn read(path: &Path) -> Result<Credentials, Lack> {
    let shown = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Lack::Absent(format!("{shown} not found")));
        }
        Err(e) => return Err(Lack::Misconfigured(format!("cannot read {shown}: {e}"))),
    };
    // serde_json's messages can quote a value: only the position is kept.
    let json: Value = serde_json::from_str(&text).map_err(|e| {
        Lack::Misconfigured(format!(
            "{shown}: not JSON (line {} column {})",
            e.line(),
            e.column()
        ))
    })?;
    match json.get("type").and_then(Value::as_str) {
        None | Some("default") => {}
        Some(kind @ ("sso" | "oauth")) => {
            return Err(Lack::Absent(format!(
                "{shown} holds tccli {kind} keys, which only tccli renews"
            )));
        }
        Some("cvm-role") => {
            return Err(Lack::Absent(format!(
                "{shown} says to use the CVM role (source cvm_role)"
            )));
        }
        Some(other) => {
            return Err(Lack::Misconfigured(format!(
                "{shown}: type `{other}` is not one tccli writes (default, sso, oauth, cvm-role)"
            )));
        }
    }
    let field = |name: &str| {
        json.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let missing = |name: &str| Lack::Misconfigured(format!("{shown}: {name} is missing"));
    Ok(Credentials {
        secret_id: field("secretId")
            .ok_or_else(|| missing("secretId"))?
            .to_string(),
        secret_key: Secret::new(field("secretKey").ok_or_else(|| missing("secretKey"))?),
        token: field("token").map(Secret::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Credentials, Lack> {
        let dir = std::env::temp_dir().join(format!("cdb-tccli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.credential", text.len()));
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn fields_types_and_errors_without_values() {
        let c = read_text(r#"{"secretId": "AKID1", "secretKey": "k", "token": null}"#).unwrap();
        assert_eq!((c.secret_id.as_str(), c.token), ("AKID1", None));
        let cases = [
            (r#"{"type": "cvm-role"}"#, "use the CVM role"),
            (
                r#"{"type": "oauth", "secretId": "a", "secretKey": "b"}"#,
                "only tccli renews",
            ),
            (
                r#"{"type": "vault"}"#,
                "type `vault` is not one tccli writes",
            ),
            (
                r#"{"secretId": "AKID1", "secretKey": 12345678}"#,
                "secretKey is missing",
            ),
            (
                r#"{"secretId": "AKID1", "secretKey": "leaked-key",}"#,
                "not JSON (line 1",
            ),
        ];
        for (text, expected) in cases {
            let err = read_text(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
            assert!(
                !err.contains("leaked-key") && !err.contains("12345678"),
                "{err}"
            );
        }
    }
}
