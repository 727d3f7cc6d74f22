//! Identifiers: [`UserId`] and [`SessionId`], parsed once where they enter (a path, a token)
//! so that what is past that point cannot be malformed; random session ids and secrets;
//! hashed ids for logs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::SecureRandom;
use std::fmt;

/// User ids are positive integers below 2^53 so that every JSON client reads them exactly.
pub const MAX_USER_ID: u64 = (1 << 53) - 1;

/// Bytes of randomness in a session id: 160 bits, above the 128 OWASP asks for.
const SESSION_ID_BYTES: usize = 20;

/// Fills a buffer from the operating system's CSPRNG (`getrandom`, via ring).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ring::error::Unspecified> {
    let mut buf = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut buf)?;
    Ok(buf)
}

/// A new opaque session id: 160 random bits, base64url without padding (27 characters).
pub fn new_session_id() -> Result<String, ring::error::Unspecified> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<SESSION_ID_BYTES>()?))
}

/// Whether a string has the shape of a session id this service issues. Anything else can be
/// refused without a DynamoDB read.
pub fn is_session_id(s: &str) -> bool {
    s.len() == 27
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses a user id exactly: ASCII digits only, no sign, no leading zero, no whitespace,
/// between 1 and 2^53 - 1. `"abc"`, `"0"`, `"-1"`, `"1.5"`, `"+7"`, `" 7"` and 30 digits are all
/// refused.
pub fn parse_user_id(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 16 || bytes[0] == b'0' {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = s.parse().ok()?;
    (1..=MAX_USER_ID).contains(&n).then_some(n)
}

/// A user id as a request names it: a positive integer below 2^53 (see [`parse_user_id`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(u64);

impl UserId {
    /// Parses a user id exactly: ASCII digits, no sign, no leading zero, 1 to 2^53 - 1.
    pub fn parse(s: &str) -> Option<Self> {
        parse_user_id(s).map(Self)
    }

    /// A user id from a number, if it is one (1 to 2^53 - 1).
    pub fn new(n: u64) -> Option<Self> {
        (1..=MAX_USER_ID).contains(&n).then_some(Self(n))
    }

    /// A user id known to be one (a constant, a test's literal): panics otherwise, at compile
    /// time in a `const`.
    pub const fn of(n: u64) -> Self {
        assert!(n >= 1 && n <= MAX_USER_ID, "not a user id");
        Self(n)
    }

    /// The number, as the tables key it.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A session id of the shape this service issues (27 base64url characters: 160 random bits).
/// Anything else names no session, and is refused without a read.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// A session id, if `s` has the shape of one.
    pub fn parse(s: &str) -> Option<Self> {
        is_session_id(s).then(|| Self(s.to_owned()))
    }

    /// A new random session id.
    pub fn random() -> Result<Self, ring::error::Unspecified> {
        new_session_id().map(Self)
    }

    /// The id, as the tables key it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A short, stable, one-way label for an id in logs: the first 12 bytes of SHA-256, hex.
/// Lets an operator correlate events without the log holding anything usable as a credential.
pub fn hash_for_log(value: &str) -> String {
    let d = digest::digest(&digest::SHA256, value.as_bytes());
    d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn user_id_accepts_plain_positive_integers() {
        assert_eq!(parse_user_id("74"), Some(74));
        assert_eq!(parse_user_id("1"), Some(1));
        assert_eq!(parse_user_id("9007199254740991"), Some(MAX_USER_ID));
    }

    #[test]
    fn user_id_refuses_everything_else() {
        for bad in [
            "",
            "abc",
            "0",
            "00",
            "074",
            "-1",
            "1.5",
            "+7",
            " 7",
            "7 ",
            "%20 7",
            "1e3",
            "0x10",
            "٧٤", // Arabic-Indic digits
            "9007199254740992",
            "123456789012345678901234567890",
        ] {
            assert_eq!(parse_user_id(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn session_ids_are_unique_and_well_formed() {
        let ids: HashSet<String> = (0..1000).map(|_| new_session_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| is_session_id(id)));
    }

    #[test]
    fn session_id_shape_check() {
        assert!(!is_session_id("short"));
        assert!(!is_session_id("aaaaaaaaaaaaaaaaaaaaaaaaaa/"));
        assert!(is_session_id("aaaaaaaaaaaaaaaaaaaaaaaaaa_"));
    }

    #[test]
    fn the_newtypes_parse_exactly_what_the_checks_accept() {
        assert_eq!(UserId::parse("74").map(UserId::get), Some(74));
        assert_eq!(UserId::parse("074"), None);
        assert_eq!(UserId::new(0), None);
        assert_eq!(UserId::new(MAX_USER_ID + 1), None);
        assert_eq!(
            UserId::new(74).map(|u| u.to_string()).as_deref(),
            Some("74")
        );
        let id = SessionId::random().unwrap();
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse(&format!("{id}/")[1..]), None);
    }

    #[test]
    fn log_hash_is_stable_and_not_the_input() {
        let h = hash_for_log("secret-session");
        assert_eq!(h, hash_for_log("secret-session"));
        assert_eq!(h.len(), 24);
        assert!(!h.contains("secret"));
    }
}
