//! "This wasn't me" links: what a new-sign-in alert carries so its user can end that one
//! session without signing in.
//!
//! A link token is `nm1.<user_id>.<session_id>.<expires>.<mac>`, the MAC HMAC-SHA256 under a
//! key derived (HKDF) from a server secret read from Secrets Manager. It names exactly one
//! session and when it stops working; it is single-use because using it marks the session
//! (`reported_at`, a conditional write), and it grants nothing else: no token, no data.

use crate::domain::UserId;
use crate::domain::ids::is_session_id;
use crate::error::StartupError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{hkdf, hmac};

const PREFIX: &str = "nm1";

/// How long a link works after its alert is sent: a day, long enough to read the mail the
/// next morning, short enough that an old mailbox holds no live links.
pub const LINK_LIFETIME_SECONDS: i64 = 24 * 3600;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The dev-only secret: used only where `APP_ENV=local` and none is configured.
const DEV_ONLY_SECRET: &[u8] = b"dev-only-alert-link-secret-not-for-production";

/// The key link tokens are made and checked with.
#[derive(Clone)]
pub struct LinkKey(hmac::Key);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

/// What a valid link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The session's user.
    pub user_id: UserId,
    /// The session to end.
    pub session_id: String,
    /// When the link stops working, Unix seconds.
    pub expires_at: i64,
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link this service issued (malformed, altered, or under another key).
    #[error("not a valid link")]
    Invalid,
    /// Issued here, but past its lifetime.
    #[error("the link has expired")]
    Expired,
}

impl LinkKey {
    /// The key derived from `secret`; `None` when it is shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Option<Self> {
        if secret.len() < MIN_SECRET_BYTES {
            return None;
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"device-sessions alert link").extract(secret);
        let key = hmac::Key::from(prk.expand(&[b"link v1"], hmac::HMAC_SHA256).ok()?);
        Some(Self(key))
    }

    /// The dev-only key (local stack and tests).
    pub fn dev() -> Self {
        Self::new(DEV_ONLY_SECRET).unwrap_or_else(|| unreachable!("the dev secret is long enough"))
    }

    /// Whether `secret` is the dev-only one (refused by a deployed stack).
    pub fn is_dev(secret: &[u8]) -> bool {
        secret == DEV_ONLY_SECRET
    }

    /// The key from its secret text as configured (`None`: nothing set, the dev-only key),
    /// refusing a short secret anywhere, and a missing or dev-only one where `deployed`.
    pub fn from_secret(secret: Option<&str>, deployed: bool) -> Result<Self, StartupError> {
        let invalid = |reason: &str| StartupError::Invalid {
            name: "ALERT_LINK_KEY",
            reason: reason.to_owned(),
        };
        match secret {
            None if deployed => Err(StartupError::Missing("ALERT_LINK_KEY_SECRET_ARN")),
            None => Ok(Self::dev()),
            Some(s) if deployed && Self::is_dev(s.as_bytes()) => {
                Err(invalid("the dev-only key is refused outside APP_ENV=local"))
            }
            Some(s) => Self::new(s.as_bytes()).ok_or_else(|| invalid("at least 32 bytes")),
        }
    }

    fn tag(&self, user_id: UserId, session_id: &str, expires_at: i64) -> hmac::Tag {
        let message = format!("{PREFIX}\n{user_id}\n{session_id}\n{expires_at}");
        hmac::sign(&self.0, message.as_bytes())
    }

    /// A link token for the session `session_id` of `user_id`, working until `expires_at`.
    pub fn issue(&self, user_id: UserId, session_id: &str, expires_at: i64) -> String {
        let tag = self.tag(user_id, session_id, expires_at);
        let mac = URL_SAFE_NO_PAD.encode(tag.as_ref());
        format!("{PREFIX}.{user_id}.{session_id}.{expires_at}.{mac}")
    }

    /// The session a token names, if this key issued it and it has not expired at `now`.
    /// The MAC is checked (in constant time) before the expiry, so an altered token is
    /// `Invalid` whatever its date says.
    pub fn verify(&self, token: &str, now: i64) -> Result<Link, LinkError> {
        if token.len() > 160 {
            return Err(LinkError::Invalid);
        }
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(user), Some(session), Some(expires), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(LinkError::Invalid);
        };
        let user_id = UserId::parse(user).ok_or(LinkError::Invalid)?;
        let digits = !expires.is_empty()
            && expires.len() <= 12
            && expires.bytes().all(|b| b.is_ascii_digit())
            && !expires.starts_with('0');
        let expires_at: i64 = match expires.parse() {
            Ok(at) if digits => at,
            _ => return Err(LinkError::Invalid),
        };
        if !is_session_id(session) {
            return Err(LinkError::Invalid);
        }
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| LinkError::Invalid)?;
        let message = format!("{PREFIX}\n{user_id}\n{session}\n{expires_at}");
        hmac::verify(&self.0, message.as_bytes(), &mac).map_err(|_| LinkError::Invalid)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(Link {
            user_id,
            session_id: session.to_owned(),
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "abcdefghijklmnopqrstuvwxyz0";
    const OTHER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ1";

    fn user(n: u64) -> UserId {
        UserId::new(n).unwrap()
    }

    #[test]
    fn a_link_names_one_session_until_it_expires() {
        let key = LinkKey::dev();
        let token = key.issue(user(74), SESSION, 2_000);
        let link = key.verify(&token, 1_999).unwrap();
        assert_eq!(link.user_id, user(74));
        assert_eq!(link.session_id, SESSION);
        assert_eq!(key.verify(&token, 2_000), Err(LinkError::Expired));
    }

    #[test]
    fn an_altered_or_foreign_link_is_invalid_whatever_its_date() {
        let key = LinkKey::dev();
        let token = key.issue(user(74), SESSION, 2_000);
        // Another session, another user, a later expiry: each breaks the MAC.
        for altered in [
            token.replace(SESSION, OTHER),
            token.replacen(".74.", ".75.", 1),
            token.replace(".2000.", ".9000."),
        ] {
            assert_eq!(
                key.verify(&altered, 1_000),
                Err(LinkError::Invalid),
                "{altered}"
            );
        }
        // Expired and altered: invalid, not expired (nothing is told about a forgery).
        assert_eq!(
            key.verify(&token.replace(SESSION, OTHER), 5_000),
            Err(LinkError::Invalid)
        );
        let other_key = LinkKey::new(&[7; 32]).unwrap();
        assert_eq!(other_key.verify(&token, 1_000), Err(LinkError::Invalid));
        let (trailing, long) = (format!("{token}."), "a".repeat(200));
        for junk in [
            "",
            "nm1",
            "nm1.74.x.2000.y",
            trailing.as_str(),
            long.as_str(),
        ] {
            assert_eq!(key.verify(junk, 1_000), Err(LinkError::Invalid), "{junk}");
        }
    }

    #[test]
    fn a_deployed_stack_refuses_a_missing_short_or_dev_only_key() {
        let dev = std::str::from_utf8(DEV_ONLY_SECRET).unwrap();
        let good = "0123456789abcdef0123456789abcdef";
        assert!(LinkKey::from_secret(None, true).is_err());
        assert!(LinkKey::from_secret(Some(dev), true).is_err());
        assert!(LinkKey::from_secret(Some("short"), false).is_err());
        assert!(LinkKey::from_secret(Some(good), true).is_ok());
        // Locally, nothing set is the dev-only key, which makes the same links.
        let local = LinkKey::from_secret(None, false).unwrap();
        let token = local.issue(user(74), SESSION, 10);
        let same = LinkKey::from_secret(Some(dev), false).unwrap();
        assert!(same.verify(&token, 1).is_ok());
    }

    #[test]
    fn short_secrets_are_refused_and_the_dev_secret_is_known() {
        assert!(LinkKey::new(&[7; 31]).is_none());
        assert!(LinkKey::is_dev(DEV_ONLY_SECRET));
        assert!(!LinkKey::is_dev(&[7; 32]));
    }
}
