//! TC3-HMAC-SHA256, the signature of Tencent Cloud API 3.0 (JSON over POST), and the
//! signed request every 3.0 service takes: CDB's calls and STS's alike.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::time::format_utc;

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// What the Go SDK sends; it is signed, so it must be sent exactly so.
pub const CONTENT_TYPE: &str = "application/json";
/// The only headers signed: the two a proxy cannot change without breaking the request.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What one signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// `cdb`, `sts`: the first label of the host.
    pub service: &'a str,
    /// Exactly what the Host header carries (with a non-default port).
    pub host: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
    pub timestamp: u64,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The UTC date of the timestamp, `YYYY-MM-DD`: part of the credential scope.
pub fn date(timestamp: u64) -> String {
    let t = i64::try_from(timestamp).unwrap_or(i64::MAX);
    format_utc(t)[..10].to_string()
}

pub fn canonical_request(r: &Request<'_>) -> String {
    format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{SIGNED_HEADERS}\n{}",
        r.content_type.trim().to_ascii_lowercase(),
        r.host.trim().to_ascii_lowercase(),
        sha256_hex(r.body)
    )
}

pub fn scope(r: &Request<'_>) -> String {
    format!("{}/{}/tc3_request", date(r.timestamp), r.service)
}

pub fn string_to_sign(r: &Request<'_>) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        r.timestamp,
        scope(r),
        sha256_hex(canonical_request(r).as_bytes())
    )
}

/// The hex signature of `r` with `secret_key`.
pub fn signature(secret_key: &str, r: &Request<'_>) -> String {
    let k_date = hmac(format!("TC3{secret_key}").as_bytes(), &date(r.timestamp));
    let k_service = hmac(&k_date, r.service);
    let k_signing = hmac(&k_service, "tc3_request");
    hex(&hmac(&k_signing, &string_to_sign(r)))
}

/// The `Authorization` header value.
pub fn authorization(secret_id: &str, secret_key: &str, r: &Request<'_>) -> String {
    format!(
        "{ALGORITHM} Credential={secret_id}/{}, SignedHeaders={SIGNED_HEADERS}, Signature={}",
        scope(r),
        signature(secret_key, r)
    )
}

/// Which service, version and host a signed request is for.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// `cdb`, `sts`: the signature's scope.
    pub service: &'a str,
    pub version: &'a str,
    /// Exactly what the Host header carries.
    pub host: &'a str,
}

/// The keys one request is signed with, borrowed from the credentials in use. No `Debug`:
/// it holds the secret key.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The session token of temporary credentials.
    pub token: Option<&'a str>,
}

/// A signed API 3.0 request. Without keys it is sent unsigned (`Authorization: SKIP`),
/// as STS `AssumeRoleWithWebIdentity` wants.
#[allow(clippy::too_many_arguments)]
pub fn request(
    http: &reqwest::Client,
    url: reqwest::Url,
    target: Target<'_>,
    action: &str,
    region: &str,
    body: Vec<u8>,
    keys: Option<Keys<'_>>,
    timestamp: u64,
) -> reqwest::RequestBuilder {
    let authorization = match keys {
        Some(k) => authorization(
            k.secret_id,
            k.secret_key,
            &Request {
                service: target.service,
                host: target.host,
                content_type: CONTENT_TYPE,
                body: &body,
                timestamp,
            },
        ),
        None => "SKIP".to_string(),
    };
    let mut r = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .header("X-TC-Action", action)
        .header("X-TC-Version", target.version)
        .header("X-TC-Timestamp", timestamp.to_string())
        .header("X-TC-Region", region);
    if let Some(token) = keys.and_then(|k| k.token) {
        r = r.header("X-TC-Token", token);
    }
    r.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn official(body: &str) -> Request<'_> {
        Request {
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            body: body.as_bytes(),
            timestamp: 1_551_113_065,
        }
    }

    #[test]
    fn official_vector() {
        let r = official(BODY);
        assert_eq!(
            sha256_hex(r.body),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            canonical_request(&r),
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            sha256_hex(canonical_request(&r).as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(date(r.timestamp), "2019-02-25");
        assert_eq!(
            string_to_sign(&r),
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        assert_eq!(
            signature(key, &r),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", key, &r),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        // The masked key of the Chinese page, taken literally.
        assert_eq!(
            signature("Gu5t9xGARNpq86cd98joQYCN3*******", &r),
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn every_input_is_signed() {
        let base = official(BODY);
        let sig = signature("k", &base);
        let other_body = official("{}");
        let later = Request {
            timestamp: base.timestamp + 86_400,
            ..base
        };
        let other_host = Request {
            host: "cdb.tencentcloudapi.com",
            ..base
        };
        for changed in [other_body, later, other_host] {
            assert_ne!(signature("k", &changed), sig);
        }
        assert_ne!(signature("k2", &base), sig);
    }
}
