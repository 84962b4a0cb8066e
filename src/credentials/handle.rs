//! Credentials as the client sees them: the current set, swapped whole when a provider
//! refreshes or rotates them, and never shown in `Debug` or `Display`.

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::net::tc3::Keys;

/// A secret that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// API credentials. `Debug` shows the SecretId only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: Secret,
    /// The session token of temporary credentials.
    pub token: Option<Secret>,
}

impl Credentials {
    /// The keys a request is signed with.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            secret_id: &self.secret_id,
            secret_key: self.secret_key.expose(),
            token: self.token.as_ref().map(Secret::expose),
        }
    }
}

/// The credentials every request signs with. Cloned handles share one current set, so a
/// refresher swaps it for all requests at once; a request reads it when it is signed.
#[derive(Clone)]
pub struct CredentialsHandle(Arc<RwLock<Arc<Credentials>>>);

impl CredentialsHandle {
    pub fn new(creds: Credentials) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(creds))))
    }

    pub fn current(&self) -> Arc<Credentials> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn replace(&self, creds: Credentials) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(creds);
    }
}

impl fmt::Debug for CredentialsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CredentialsHandle")
            .field(&self.current().secret_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets_and_handles_share_one_set() {
        let h = CredentialsHandle::new(Credentials {
            secret_id: "AKIDa".into(),
            secret_key: Secret::new("key-one"),
            token: Some(Secret::new("token-one")),
        });
        let other = h.clone();
        other.replace(Credentials {
            secret_id: "AKIDb".into(),
            secret_key: Secret::new("key-two"),
            token: None,
        });
        assert_eq!(h.current().secret_id, "AKIDb");
        let text = format!("{h:?} {:?}", h.current());
        assert!(text.contains("AKIDb"), "{text}");
        assert!(!text.contains("key-"), "{text}");
    }
}
