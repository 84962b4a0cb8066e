//! Credentials from the environment, as Tencent's SDKs and tools read them.

use super::{Credentials, Secret};
use super::{Env, Lack};

pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";
/// Terraform's name for the same token.
pub const ENV_SECURITY_TOKEN: &str = "TENCENTCLOUD_SECURITY_TOKEN";
/// tccli's name for it (`tccli/options_define.py`).
pub const ENV_TOKEN: &str = "TENCENTCLOUD_TOKEN";
/// The names of the session token, the first set winning: the generic name, then
/// Terraform's, then tccli's, so that a setup that worked before tccli's name was read
/// keeps the token it had.
pub const TOKEN_NAMES: [&str; 3] = [ENV_SESSION_TOKEN, ENV_SECURITY_TOKEN, ENV_TOKEN];

/// The session token under the first of [`TOKEN_NAMES`] that is set. Names set to another
/// value are ignored, with a warning that names them (never their values).
pub fn token(env: &Env) -> Option<Secret> {
    let mut set = TOKEN_NAMES
        .iter()
        .filter_map(|&name| env.get(name).map(|v| (name, v)));
    let (used, value) = set.next()?;
    let ignored: Vec<&str> = set.filter(|(_, v)| v != &value).map(|(n, _)| n).collect();
    if !ignored.is_empty() {
        tracing::warn!(used, ignored = %ignored.join(", "), "several session token variables are set, to different values; using the first");
    }
    Some(Secret::new(value))
}

/// Both SecretId and key, or neither: half a pair is a mistake, not an absence.
pub fn find(env: &Env) -> Result<Credentials, Lack> {
    match (env.get(ENV_SECRET_ID), env.get(ENV_SECRET_KEY)) {
        (Some(id), Some(key)) => Ok(Credentials {
            secret_id: id.to_string(),
            secret_key: Secret::new(key),
            token: token(env),
        }),
        (None, None) => Err(Lack::Absent(format!("{ENV_SECRET_ID} not set"))),
        (None, Some(_)) => Err(Lack::Misconfigured(format!(
            "missing SecretId: {ENV_SECRET_KEY} is set but {ENV_SECRET_ID} is not"
        ))),
        (Some(_), None) => Err(Lack::Misconfigured(format!(
            "missing secret key: {ENV_SECRET_ID} is set but {ENV_SECRET_KEY} is not"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::capture(&|n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn pairs_and_tokens() {
        let c = find(&env(&[(ENV_SECRET_ID, "AKID1"), (ENV_SECRET_KEY, "k")])).unwrap();
        assert_eq!((c.secret_id.as_str(), c.token), ("AKID1", None));
        for name in TOKEN_NAMES {
            let c = find(&env(&[
                (ENV_SECRET_ID, "AKID1"),
                (ENV_SECRET_KEY, "k"),
                (name, "tok"),
            ]))
            .unwrap();
            assert_eq!(c.token.as_ref().map(Secret::expose), Some("tok"), "{name}");
        }
        // When several are set, the first of TOKEN_NAMES wins.
        let c = find(&env(&[
            (ENV_SECRET_ID, "AKID1"),
            (ENV_SECRET_KEY, "k"),
            (ENV_TOKEN, "tccli-tok"),
            (ENV_SECURITY_TOKEN, "terraform-tok"),
        ]))
        .unwrap();
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("terraform-tok"));
        assert!(
            matches!(find(&env(&[])), Err(Lack::Absent(why)) if why == "TENCENTCLOUD_SECRET_ID not set")
        );
        let Err(Lack::Misconfigured(why)) = find(&env(&[(ENV_SECRET_KEY, "very-secret")])) else {
            panic!("half a pair must stop the chain");
        };
        assert!(why.contains("missing SecretId") && !why.contains("very-secret"));
    }
}
