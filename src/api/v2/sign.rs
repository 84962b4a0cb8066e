//! Request signing for the legacy v2 API (HmacSHA1 / HmacSHA256 over the sorted query).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::parse_error::ParseError;

/// Which HMAC signs a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureMethod {
    #[default]
    HmacSha1,
    HmacSha256,
}

impl SignatureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HmacSHA1",
            SignatureMethod::HmacSha256 => "HmacSHA256",
        }
    }
}

impl FromStr for SignatureMethod {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HmacSHA1" => Ok(SignatureMethod::HmacSha1),
            "HmacSHA256" => Ok(SignatureMethod::HmacSha256),
            other => Err(ParseError::new(
                other,
                "a signature method (expected HmacSHA1 or HmacSHA256)",
            )),
        }
    }
}

impl fmt::Display for SignatureMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parameter name as it is signed and sent: `_` is written `.`.
pub fn normalize_name(name: &str) -> String {
    name.replace('_', ".")
}

/// `METHOD` + host + path + `?` + the parameters sorted by name in byte order, values raw.
///
/// `host` is exactly what the Host header carries (with a non-default port).
pub fn string_to_sign(
    http_method: &str,
    host: &str,
    path: &str,
    params: &[(String, String)],
) -> String {
    let mut sorted: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "Signature").collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::with_capacity(64 + params.len() * 24);
    out.push_str(http_method);
    out.push_str(host);
    out.push_str(path);
    out.push('?');
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Base64 of the HMAC of `message` keyed with the SecretKey.
pub fn signature(method: SignatureMethod, secret_key: &[u8], message: &str) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    match method {
        SignatureMethod::HmacSha1 => {
            // An HMAC accepts keys of any length, so this cannot fail.
            let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            mac.update(message.as_bytes());
            engine.encode(mac.finalize().into_bytes())
        }
        SignatureMethod::HmacSha256 => {
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret_key)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
            mac.update(message.as_bytes());
            engine.encode(mac.finalize().into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"Gu5t9xGARNpq86cd98joQYCN3Cozk1qA";
    const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA";

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (normalize_name(k), (*v).to_string()))
            .collect()
    }

    #[test]
    fn official_vector_hmac_sha1() {
        // Given out of order and with `_`, as a caller might.
        let p = params(&[
            ("offset", "0"),
            ("limit", "20"),
            ("instanceIds_0", "ins-09dx96dg"),
            ("Timestamp", "1465185768"),
            ("SecretId", ID),
            ("Region", "gz"),
            ("Nonce", "11886"),
            ("Action", "DescribeInstances"),
        ]);
        let s = string_to_sign("GET", "cvm.api.qcloud.com", "/v2/index.php", &p);
        assert_eq!(
            s,
            "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0"
        );
        assert_eq!(
            signature(SignatureMethod::HmacSha1, KEY, &s),
            "NSI3UqqD99b/UJb4tbG/xZpRW64="
        );
    }

    fn sha256_params(method: &str) -> Vec<(String, String)> {
        params(&[
            ("Action", "DescribeInstances"),
            ("InstanceIds.0", "ins-09dx96dg"),
            ("Nonce", "11886"),
            ("Region", "ap-guangzhou"),
            ("SecretId", ID),
            ("SignatureMethod", method),
            ("Timestamp", "1465185768"),
        ])
    }

    #[test]
    fn official_vector_hmac_sha256() {
        let s = string_to_sign(
            "GET",
            "cvm.api.qcloud.com",
            "/v2/index.php",
            &sha256_params("HmacSHA256"),
        );
        assert_eq!(
            s,
            "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&SignatureMethod=HmacSHA256&Timestamp=1465185768"
        );
        assert_eq!(
            signature(SignatureMethod::HmacSha256, KEY, &s),
            "0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s="
        );
    }

    #[test]
    fn official_vector_hmac_sha1_with_method_param() {
        let s = string_to_sign(
            "GET",
            "cvm.api.qcloud.com",
            "/v2/index.php",
            &sha256_params("HmacSHA1"),
        );
        assert_eq!(
            signature(SignatureMethod::HmacSha1, KEY, &s),
            "nPVnY6njQmwQ8ciqbPl5Qe+Oru4="
        );
    }

    #[test]
    fn signature_parameter_is_never_signed() {
        let mut p = sha256_params("HmacSHA1");
        let without = string_to_sign("POST", "h", "/p", &p);
        p.push(("Signature".into(), "x".into()));
        assert_eq!(string_to_sign("POST", "h", "/p", &p), without);
        assert!(without.starts_with("POSTh/p?Action="));
    }

    #[test]
    fn method_names() {
        assert_eq!("HmacSHA256".parse(), Ok(SignatureMethod::HmacSha256));
        let err = "sha1".parse::<SignatureMethod>().unwrap_err();
        assert_eq!(err.value, "sha1");
        assert!(err.to_string().contains("HmacSHA256"), "{err}");
    }
}
