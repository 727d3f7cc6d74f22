//! Refresh tokens: opaque to clients, never stored, rotated on every use, and every generation
//! recognisable for as long as its session lives (RFC 9700 §4.14.2).
//!
//! A token is `rt2.<user_id>.<session_id>.<generation>.<mac>`: the ids locate the session item
//! with a key lookup (no scan); the MAC is HMAC-SHA256, under a server key read from Secrets
//! Manager, over the user, the session, the generation and the session's secret family nonce.
//! The session stores only the nonce and the current generation, so:
//!
//! - any earlier generation of a session's token can be told apart from a made-up one without
//!   storing old hashes: presented after the grace window it ends the session as stolen;
//! - a token whose MAC does not verify is refused and never ends anything, although user and
//!   session ids are readable in every access token: forging a generation needs both the key
//!   and the nonce;
//! - a leaked key alone forges nothing: the nonce never leaves DynamoDB.

use crate::domain::UserId;
use crate::domain::ids::{is_session_id, random_bytes};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

const PREFIX: &str = "rt2";

/// Shortest MAC key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The dev-only MAC key: used only where `APP_ENV=local` and no key is configured.
const DEV_ONLY_KEY: &[u8] = b"dev-only-refresh-token-key-not-for-production";

/// The server key refresh-token MACs are made with.
#[derive(Clone)]
pub struct RefreshKey(hmac::Key);

impl std::fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshKey(..)")
    }
}

/// A new family nonce: 256 random bits, base64url. Stored on the session, never sent.
pub fn new_family() -> Result<String, ring::error::Unspecified> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

impl RefreshKey {
    /// A key from its bytes; `None` when shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= MIN_KEY_BYTES).then(|| Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// The dev-only key (local stack and tests).
    pub fn dev() -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, DEV_ONLY_KEY))
    }

    /// Whether `bytes` are the dev-only key (refused by a deployed stack).
    pub fn is_dev(bytes: &[u8]) -> bool {
        bytes == DEV_ONLY_KEY
    }

    fn message(user_id: UserId, session_id: &str, generation: u64, family: &str) -> String {
        format!("{PREFIX}\n{user_id}\n{session_id}\n{generation}\n{family}")
    }

    /// The token of generation `generation` of the family `family` of a session.
    pub fn issue(
        &self,
        user_id: UserId,
        session_id: &str,
        family: &str,
        generation: u64,
    ) -> RefreshToken {
        let tag = hmac::sign(
            &self.0,
            Self::message(user_id, session_id, generation, family).as_bytes(),
        );
        RefreshToken {
            user_id,
            session_id: session_id.to_owned(),
            generation,
            mac: URL_SAFE_NO_PAD.encode(tag.as_ref()),
        }
    }

    /// Whether `token` was issued for the family `family` (constant-time comparison).
    pub fn verify(&self, token: &RefreshToken, family: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(&token.mac) else {
            return false;
        };
        let message = Self::message(token.user_id, &token.session_id, token.generation, family);
        hmac::verify(&self.0, message.as_bytes(), &tag).is_ok()
    }
}

/// A parsed refresh token: where its session is and which generation it claims to be. Nothing
/// about it is trusted before [`RefreshKey::verify`].
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The session's user.
    pub user_id: UserId,
    /// The session.
    pub session_id: String,
    /// The generation: 0 at sign-in, one more at each rotation.
    pub generation: u64,
    mac: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user_id", &self.user_id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// Parses a token string; `None` for anything this service could not have issued.
    pub fn parse(token: &str) -> Option<Self> {
        if token.len() > 160 {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(user), Some(session), Some(generation), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let user_id = UserId::parse(user)?;
        let generation_ok = !generation.is_empty()
            && generation.len() <= 19
            && generation.bytes().all(|b| b.is_ascii_digit())
            && (generation == "0" || !generation.starts_with('0'));
        if !is_session_id(session) || !generation_ok || mac.len() != 43 {
            return None;
        }
        URL_SAFE_NO_PAD.decode(mac).ok()?;
        Some(Self {
            user_id,
            session_id: session.to_owned(),
            generation: generation.parse().ok()?,
            mac: mac.to_owned(),
        })
    }

    /// The string handed to the client.
    pub fn expose(&self) -> String {
        format!(
            "{PREFIX}.{}.{}.{}.{}",
            self.user_id, self.session_id, self.generation, self.mac
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "abcdefghijklmnopqrstuvwxyz0";

    #[test]
    fn round_trips_verifies_and_hides_the_mac_in_debug() {
        let key = RefreshKey::dev();
        let family = new_family().unwrap();
        let t = key.issue(UserId::of(74), SID, &family, 3);
        let parsed = RefreshToken::parse(&t.expose()).unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.generation, 3);
        assert!(key.verify(&parsed, &family));
        assert!(!format!("{t:?}").contains(&t.mac));
    }

    #[test]
    fn a_token_verifies_only_for_its_family_generation_session_and_key() {
        let key = RefreshKey::dev();
        let family = new_family().unwrap();
        let t = key.issue(UserId::of(74), SID, &family, 1);
        assert!(!key.verify(&t, &new_family().unwrap()), "other family");
        let mut other_generation = t.clone();
        other_generation.generation = 2;
        assert!(!key.verify(&other_generation, &family), "other generation");
        let mut other_user = t.clone();
        other_user.user_id = UserId::of(75);
        assert!(!key.verify(&other_user, &family), "other user");
        let mut other_session = t.clone();
        other_session.session_id = "bbcdefghijklmnopqrstuvwxyz0".into();
        assert!(!key.verify(&other_session, &family), "other session");
        let other_key = RefreshKey::new(&[7u8; 32]).unwrap();
        assert!(!other_key.verify(&t, &family), "other key");
        assert!(RefreshKey::new(&[7u8; 31]).is_none(), "short key");
    }

    #[test]
    fn refuses_foreign_shapes() {
        let good = RefreshKey::dev()
            .issue(UserId::of(74), SID, "f", 0)
            .expose();
        let mac = good.rsplit('.').next().unwrap().to_owned();
        for bad in [
            String::new(),
            "rt2".into(),
            format!("rt1.74.{SID}.{mac}"),
            format!("rt2.0.{SID}.0.{mac}"),
            format!("rt2.74.short.0.{mac}"),
            format!("rt2.74.{SID}.0.short"),
            format!("rt2.74.{SID}.01.{mac}"),
            format!("rt2.74.{SID}.-1.{mac}"),
            format!("rt2.74.{SID}.x.{mac}"),
            format!("rt2.74.{SID}.99999999999999999999.{mac}"),
            format!("{good}.extra"),
            "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2ln".into(),
        ] {
            assert!(RefreshToken::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn families_are_unique() {
        let set: std::collections::HashSet<String> =
            (0..1000).map(|_| new_family().unwrap()).collect();
        assert_eq!(set.len(), 1000);
    }
}
