//! Where a function's secrets come from, and the checks on their values.

use super::env::Env;
use crate::error::StartupError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The dev-only cursor secret: used only where `APP_ENV=local` and `CURSOR_SECRET` is unset.
pub(super) const DEV_ONLY_CURSOR_SECRET: &[u8] = b"dev-only-cursor-secret-not-for-production";

/// Where a function's secrets come from: each is read once, at cold start
/// ([`crate::AppState::from_env`]), from Secrets Manager by ARN, or (outside AWS) from the
/// environment, or, only where `APP_ENV=local`, is the dev-only one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretSources {
    /// `SIGNING_KEY_SECRET_ARN`: the token-signing key.
    pub signing_key_arn: Option<String>,
    /// `SIGNING_KEY` (PKCS#8, base64) and `SIGNING_KEY_ID`, outside AWS.
    pub signing_key: Option<(String, Option<String>)>,
    /// `REFRESH_TOKEN_KEY_SECRET_ARN`: the refresh-token MAC key.
    pub refresh_key_arn: Option<String>,
    /// `REFRESH_TOKEN_KEY`, outside AWS.
    pub refresh_key: Option<String>,
    /// `MFA_KEY_SECRET_ARN`: the second factor's key (TOTP secrets sealed, recovery codes
    /// hashed).
    pub factor_key_arn: Option<String>,
    /// `MFA_KEY`, outside AWS.
    pub factor_key: Option<String>,
    /// `ALERT_LINK_KEY_SECRET_ARN`: the key of the "This wasn't me" links of new-sign-in
    /// alerts.
    pub link_key_arn: Option<String>,
    /// `ALERT_LINK_KEY`, outside AWS.
    pub link_key: Option<String>,
    /// `CURSOR_SECRET_ARN`: the paging-cursor key (base64).
    pub cursor_arn: Option<String>,
    /// `ORIGIN_VERIFY_SECRET_ARN`: CloudFront's origin secret.
    pub origin_verify_arn: Option<String>,
}

impl SecretSources {
    pub(super) fn read(env: &Env<impl Fn(&str) -> Option<String>>) -> Self {
        Self {
            signing_key_arn: env.text("SIGNING_KEY_SECRET_ARN"),
            signing_key: env
                .text("SIGNING_KEY")
                .map(|key| (key, env.text("SIGNING_KEY_ID"))),
            refresh_key_arn: env.text("REFRESH_TOKEN_KEY_SECRET_ARN"),
            refresh_key: env.text("REFRESH_TOKEN_KEY"),
            factor_key_arn: env.text("MFA_KEY_SECRET_ARN"),
            factor_key: env.text("MFA_KEY"),
            link_key_arn: env.text("ALERT_LINK_KEY_SECRET_ARN"),
            link_key: env.text("ALERT_LINK_KEY"),
            cursor_arn: env.text("CURSOR_SECRET_ARN"),
            origin_verify_arn: env.text("ORIGIN_VERIFY_SECRET_ARN"),
        }
    }
}

/// A paging-cursor key from its base64 text: at least 32 bytes.
pub fn cursor_key(b64: &str, setting: &'static str) -> Result<Vec<u8>, StartupError> {
    let key = STANDARD
        .decode(b64.trim())
        .map_err(|e| StartupError::Invalid {
            name: setting,
            reason: format!("not base64: {e}"),
        })?;
    if key.len() < 32 {
        return Err(StartupError::Invalid {
            name: setting,
            reason: "must decode to at least 32 bytes".to_owned(),
        });
    }
    Ok(key)
}

/// CloudFront's origin secret: at least 16 characters.
pub fn origin_secret(secret: String, setting: &'static str) -> Result<String, StartupError> {
    if secret.trim().len() < 16 {
        return Err(StartupError::Invalid {
            name: setting,
            reason: "must be at least 16 characters".to_owned(),
        });
    }
    Ok(secret.trim().to_owned())
}
