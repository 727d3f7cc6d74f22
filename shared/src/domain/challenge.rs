//! The second step of a sign-in: after the right password, a user with a second factor gets a
//! challenge instead of tokens, and completes the sign-in with it and a code.
//!
//! The challenge is 256 random bits handed to the client once; only its SHA-256 is stored, so
//! a read of the table does not yield one that works. It is bound to the password step's
//! address and User-Agent, lives [`CHALLENGE_TTL_SECONDS`], takes at most
//! [`MAX_CHALLENGE_ATTEMPTS`] codes, and completes one sign-in.

use super::device::DeviceType;
use super::ids::{UserId, random_bytes};
use super::session::Location;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use serde::{Deserialize, Serialize};

/// How long a challenge can be completed, in seconds.
pub const CHALLENGE_TTL_SECONDS: i64 = 300;

/// How many codes one challenge takes (right or wrong) before it is spent.
pub const MAX_CHALLENGE_ATTEMPTS: u32 = 5;

/// Prefix of the challenge items' keys in the user-emails table.
pub const KEY_PREFIX: &str = "mfa ";

/// A new challenge as handed to the client: 256 random bits, base64url (43 characters).
pub fn new_challenge() -> Result<String, ring::error::Unspecified> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// The key a challenge is stored under: [`KEY_PREFIX`] and its SHA-256, base64url. `None` for
/// what cannot be a challenge (refused without a read).
pub fn challenge_key(challenge: &str) -> Option<String> {
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return None;
    }
    let d = digest::digest(&digest::SHA256, challenge.as_bytes());
    Some(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(d)))
}

/// What a challenge keeps of a User-Agent: a hash of it as sessions store it (never empty).
pub fn user_agent_hash(raw_user_agent: &str) -> String {
    super::ids::hash_for_log(&super::device::sanitise(raw_user_agent))
}

/// A pending second step: what the password step learnt, kept until the code comes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The item's key: [`challenge_key`] of the challenge.
    pub email: String,
    /// Whose password was right.
    pub user_id: UserId,
    /// The normalised email signed in with: the throttle's key for the code attempts.
    pub login_email: String,
    /// The password step's address: the second step must come from it.
    pub ip: String,
    /// A hash of the password step's User-Agent ([`user_agent_hash`]): the second step must
    /// send the same.
    pub user_agent_hash: String,
    /// The device name the client sent at the password step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// The device type the client stated at the password step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    /// Where the password step came from, when CloudFront said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The user's credential epoch at the password step: a password change in between ends it.
    pub credential_epoch: u64,
    /// Unix seconds; checked on every use.
    pub expires_at: i64,
    /// DynamoDB TTL: the item goes some time after it expires. Never trusted on reads.
    pub ttl: i64,
    /// Codes tried with it so far.
    #[serde(default)]
    pub attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_random_and_stored_only_as_their_hash() {
        let (a, b) = (new_challenge().unwrap(), new_challenge().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let key = challenge_key(&a).unwrap();
        assert!(key.starts_with(KEY_PREFIX) && !key.contains(&a));
        assert_eq!(challenge_key(&a), Some(key));
        assert_ne!(challenge_key(&a), challenge_key(&b));
    }

    #[test]
    fn what_cannot_be_a_challenge_has_no_key() {
        assert_eq!(challenge_key(""), None);
        assert_eq!(challenge_key(&"a".repeat(42)), None);
        assert_eq!(challenge_key(&"a".repeat(44)), None);
        assert_eq!(challenge_key(&format!("{}=", "a".repeat(42))), None);
        assert_eq!(challenge_key(&format!("throttle {}", "a".repeat(34))), None);
    }
}
