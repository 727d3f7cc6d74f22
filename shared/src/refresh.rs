//! Refresh tokens: opaque to clients, stored only as a hash, rotated on every use.
//!
//! A token is `rt1.<user_id>.<session_id>.<secret>`: the ids locate the session item with a
//! key lookup (no scan), the 256-bit secret proves possession. The session keeps the SHA-256
//! of the current secret and of the one it replaced, so a rotated-out token can be recognised
//! (RFC 9700 §4.14): within a short grace window it is refused (409) without harm, after it the
//! session is ended as compromised.

use crate::ids::{is_session_id, parse_user_id, random_bytes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;

const PREFIX: &str = "rt1";

/// A parsed refresh token.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The session's user.
    pub user_id: u64,
    /// The session.
    pub session_id: String,
    secret: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a secret, base64url: what the session item stores. A fast hash suffices: the
/// secret has 256 random bits.
pub fn hash_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

impl RefreshToken {
    /// A new token for a session.
    pub fn issue(user_id: u64, session_id: &str) -> Result<Self, ring::error::Unspecified> {
        Ok(Self {
            user_id,
            session_id: session_id.to_owned(),
            secret: URL_SAFE_NO_PAD.encode(random_bytes::<32>()?),
        })
    }

    /// Parses a token string; `None` for anything this service could not have issued.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() > 128 {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(user), Some(session), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let user_id = parse_user_id(user)?;
        if !is_session_id(session) || secret.len() != 43 {
            return None;
        }
        URL_SAFE_NO_PAD.decode(secret).ok()?;
        Some(Self {
            user_id,
            session_id: session.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The hash stored for this token.
    pub fn hash(&self) -> String {
        hash_secret(&self.secret)
    }

    /// The string handed to the client.
    pub fn expose(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}",
            self.user_id, self.session_id, self.secret
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn round_trips_and_hides_the_secret_in_debug() {
        let t = RefreshToken::issue(74, "abcdefghijklmnopqrstuvwxyz0").unwrap();
        let parsed = RefreshToken::parse(&t.expose()).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.hash(), t.hash());
        assert!(!format!("{t:?}").contains(&t.secret));
    }

    #[test]
    fn refuses_foreign_shapes() {
        let good = RefreshToken::issue(74, "abcdefghijklmnopqrstuvwxyz0")
            .unwrap()
            .expose();
        for bad in [
            "",
            "rt1",
            "rt2.74.abcdefghijklmnopqrstuvwxyz0.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "rt1.0.abcdefghijklmnopqrstuvwxyz0.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "rt1.74.short.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "rt1.74.abcdefghijklmnopqrstuvwxyz0.short",
            &format!("{good}.extra"),
            "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln",
        ] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_unique() {
        let set: HashSet<String> = (0..1000)
            .map(|_| {
                RefreshToken::issue(1, "abcdefghijklmnopqrstuvwxyz0")
                    .unwrap()
                    .hash()
            })
            .collect();
        assert_eq!(set.len(), 1000);
    }
}
