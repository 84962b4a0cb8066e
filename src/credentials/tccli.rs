//! tccli's own credential file, `~/.tccli/<profile>.credential`: JSON written by
//! `tccli configure`, with `secretId`, `secretKey` and, for temporary keys, `token`
//! (names from tccli's `options_define.py`). Its `type` says how tccli gets the keys:
//! absent or `default` for keys written there; `sso` and `oauth` files hold keys that only
//! tccli itself renews, and `cvm-role` files hold none, so those are not used.

use std::path::Path;

use serde_json::Value;

use super::Lack;
use crate::api::{Credentials, Secret};

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
