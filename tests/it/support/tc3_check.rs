//! What the credential fakes share: a TC3-HMAC-SHA256 check written from Tencent's
//! description, apart from the exporter's `net::tc3`, so that a bug there cannot
//! hide itself; the keyring of the credentials the fakes know; a loopback server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::clock::now;

/// A credential a fake accepts: its key, token and expiry (Unix seconds).
#[derive(Clone, Debug)]
pub struct Known {
    pub key: String,
    pub token: Option<String>,
    pub expires: Option<i64>,
}

/// Credentials by SecretId, shared by the fake that issues them and the one that checks.
#[derive(Clone, Default)]
pub struct Keyring(Arc<Mutex<HashMap<String, Known>>>);

impl Keyring {
    pub fn insert(&self, id: &str, key: &str, token: Option<&str>, expires: Option<i64>) {
        self.0.lock().unwrap().insert(
            id.to_string(),
            Known {
                key: key.to_string(),
                token: token.map(str::to_string),
                expires,
            },
        );
    }

    pub fn get(&self, id: &str) -> Option<Known> {
        self.0.lock().unwrap().get(id).cloned()
    }

    /// New temporary credentials `{prefix}{n}`, valid for `lifetime` seconds.
    pub fn issue(&self, prefix: &str, lifetime: i64) -> (String, Known) {
        let mut map = self.0.lock().unwrap();
        let id = format!("{prefix}{}", map.len() + 1);
        let known = Known {
            key: format!("key-of-{id}"),
            token: Some(format!("token-of-{id}")),
            expires: Some(now() + lifetime),
        };
        map.insert(id.clone(), known.clone());
        (id, known)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `YYYY-MM-DD` (UTC) of a Unix time, by the civil-from-days algorithm.
fn utc_date(t: i64) -> String {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<&'a str, String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("no {name} header"))
}

/// Checks a signed API 3.0 POST for `service`: signature, scope, time, token and expiry.
/// Returns the SecretId.
pub fn verify(h: &HeaderMap, body: &[u8], service: &str, keys: &Keyring) -> Result<String, String> {
    let auth = header(h, "authorization")?;
    let rest = auth
        .strip_prefix("TC3-HMAC-SHA256 ")
        .ok_or("not TC3-HMAC-SHA256")?;
    let mut parts = HashMap::new();
    for p in rest.split(", ") {
        let (k, v) = p.split_once('=').ok_or("bad Authorization")?;
        parts.insert(k, v);
    }
    let (cred, signed, signature) = (
        parts.get("Credential").ok_or("no Credential")?,
        parts.get("SignedHeaders").ok_or("no SignedHeaders")?,
        parts.get("Signature").ok_or("no Signature")?,
    );
    let scope: Vec<&str> = cred.split('/').collect();
    let [id, date, svc, "tc3_request"] = scope[..] else {
        return Err(format!("bad credential scope {cred}"));
    };
    let ts: i64 = header(h, "x-tc-timestamp")?
        .parse()
        .map_err(|_| "bad timestamp")?;
    if (now() - ts).abs() > 300 || date != utc_date(ts) || svc != service {
        return Err(format!("stale or wrong scope {cred} at {ts}"));
    }
    let known = keys
        .get(id)
        .ok_or_else(|| format!("unknown SecretId {id}"))?;
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let value = header(h, name)?.trim().to_lowercase();
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(body))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{ts}\n{date}/{service}/tc3_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = mac(format!("TC3{}", known.key).as_bytes(), date.as_bytes());
    let k = mac(&k, service.as_bytes());
    let k = mac(&k, b"tc3_request");
    if hex(&mac(&k, to_sign.as_bytes())) != *signature {
        return Err(format!("signature mismatch for {id}"));
    }
    let sent_token = h.get("x-tc-token").and_then(|v| v.to_str().ok());
    if sent_token != known.token.as_deref() {
        return Err(format!("wrong or missing X-TC-Token for {id}"));
    }
    if known.expires.is_some_and(|e| e <= now()) {
        return Err(format!("{id} has expired"));
    }
    Ok(id.to_string())
}

/// An API 3.0 error answer.
pub fn error_answer(code: &str, message: &str) -> String {
    serde_json::json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake"}})
        .to_string()
}

#[test]
fn utc_dates() {
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(1_795_831_200), "2026-11-28");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
}
