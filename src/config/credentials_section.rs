//! The `credentials:` section: which source, and how, as a spec resolved at start.

use super::raw::RawCredentials;
use super::{ENV_SECRET_ID, ENV_SECRET_KEY, Invalid, Overrides, url_key};
use crate::credentials::{
    self, Env, Origin, RoleSpec, SecretValue, SourceKind, Spec, StaticSpec, static_files::Static,
};

/// SecretId and key from the file, else from the environment; the files are read once
/// here so that a wrong path is found by check-config.
pub(super) fn static_spec(raw: &RawCredentials, env: &Env) -> Result<StaticSpec, Invalid> {
    let secret_id = raw
        .secret_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| env.get(ENV_SECRET_ID))
        .ok_or(Invalid::Missing {
            what: "SecretId",
            key: "credentials.secret_id",
            env: ENV_SECRET_ID,
        })?;
    let secret_key = match (&raw.secret_key_file, env.get(ENV_SECRET_KEY)) {
        (Some(path), _) => SecretValue::File(path.clone()),
        (None, Some(key)) => SecretValue::Given(crate::api::Secret::new(key)),
        (None, None) => {
            return Err(Invalid::Missing {
                what: "secret key",
                key: "credentials.secret_key_file",
                env: ENV_SECRET_KEY,
            });
        }
    };
    let token = match &raw.session_token_file {
        Some(path) => Some(SecretValue::File(path.clone())),
        None => credentials::env::token(env).map(SecretValue::Given),
    };
    let spec = StaticSpec {
        secret_id: secret_id.to_string(),
        secret_key,
        token,
    };
    Static::new(spec.clone()).load()?;
    Ok(spec)
}

pub(super) fn origin(raw: &RawCredentials, env: &Env) -> Result<Origin, Invalid> {
    let named_static = raw.secret_id.is_some()
        || raw.secret_key_file.is_some()
        || raw.session_token_file.is_some();
    let origin = match raw.source {
        Some(SourceKind::Static) => Origin::Static(static_spec(raw, env)?),
        None if named_static => Origin::Static(static_spec(raw, env)?),
        Some(kind) if named_static => {
            return Err(Invalid::value(
                "credentials.source",
                kind,
                "does not read secret_id, secret_key_file or session_token_file; remove them or use source: static",
            ));
        }
        Some(kind) => Origin::Only(kind),
        None => Origin::Chain,
    };
    if let Some(p) = &raw.profile {
        if !matches!(origin, Origin::Chain | Origin::Only(SourceKind::Profile)) {
            return Err(Invalid::value(
                "credentials.profile",
                p,
                "is read only by the profile source, which this configuration does not use",
            ));
        }
    }
    Ok(origin)
}

pub(super) fn role(raw: &RawCredentials) -> Result<Option<RoleSpec>, Invalid> {
    let Some(arn) = raw.role_arn.as_deref().map(str::trim) else {
        if raw.duration.is_some() || raw.role_session_name.is_some() || raw.external_id.is_some() {
            return Err(Invalid::rule(
                "credentials.role_arn",
                "not set, but credentials.duration, role_session_name and external_id need it",
            ));
        }
        return Ok(None);
    };
    if arn.is_empty() || arn.contains(char::is_whitespace) {
        return Err(Invalid::value(
            "credentials.role_arn",
            arn,
            "is not a role ARN (e.g. qcs::cam::uin/100000000001:roleName/cdb-reader)",
        ));
    }
    let session_name = raw
        .role_session_name
        .clone()
        .unwrap_or_else(|| credentials::DEFAULT_SESSION_NAME.into());
    sts_name("credentials.role_session_name", &session_name, b"_=,.@-")?;
    if let Some(id) = &raw.external_id {
        sts_name("credentials.external_id", id, b"_+=,.@:/-")?;
    }
    let duration = raw
        .duration
        .map_or(credentials::DEFAULT_ROLE_DURATION, |d| d.0);
    if duration > credentials::MAX_ROLE_DURATION || duration.as_secs() == 0 {
        return Err(Invalid::value(
            "credentials.duration",
            format!("{}s", duration.as_secs()),
            "must be from 1s to 12h",
        ));
    }
    Ok(Some(RoleSpec {
        arn: arn.to_string(),
        session_name,
        duration,
        external_id: raw.external_id.clone(),
    }))
}

/// STS's rule for `RoleSessionName` and `ExternalId`: 2 to 128 of letters, digits and `extra`.
fn sts_name(key: &str, value: &str, extra: &[u8]) -> Result<(), Invalid> {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if (2..=128).contains(&value.len()) && plain {
        return Ok(());
    }
    let chars = String::from_utf8_lossy(extra);
    Err(Invalid::value(
        key,
        value,
        format!("must be 2 to 128 letters, digits or {chars}"),
    ))
}

pub(super) fn credentials_spec(
    raw: RawCredentials,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
    region: String,
) -> Result<Spec, Invalid> {
    let env = Env::capture(env);
    let mut spec = Spec::chain(env);
    spec.origin = origin(&raw, &spec.env)?;
    spec.role = role(&raw)?;
    spec.profile = raw.profile.map(|p| p.trim().to_string());
    if let Some(text) = &flags.metadata_endpoint {
        spec.metadata_endpoint = text.clone();
    } else if let Some(text) = &raw.metadata_endpoint {
        spec.metadata_endpoint = url_key("credentials.metadata_endpoint", text)?;
    }
    if let Some(text) = &raw.sts_endpoint {
        spec.sts_endpoint = url_key("credentials.sts_endpoint", text)?;
    }
    spec.region = region;
    Ok(spec)
}
