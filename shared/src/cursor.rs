//! Opaque, tamper-evident paging cursors.
//!
//! A cursor names the last item of a page (its `last_activity` and `session_id`) together with
//! what it pages through (the route's scope, the listed user, the filter). It is base64url JSON
//! followed by an HMAC-SHA256 tag, so a client can neither forge a position nor carry a cursor
//! to another user, route or filter: any of those is a 400.

use crate::domain::UserId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

/// Longest cursor accepted before any decoding work.
const MAX_CURSOR_LEN: usize = 512;

/// The position a cursor encodes. In an activity history, `last_activity` is the last entry's
/// time and `session_id` its `at_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// `last_activity` of the last item returned.
    #[serde(rename = "a")]
    pub last_activity: i64,
    /// `session_id` of the last item returned.
    #[serde(rename = "s")]
    pub session_id: String,
}

/// What a cursor is bound to: a cursor only works for the listing that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Which listing: `admin` or `self`.
    #[serde(rename = "r")]
    pub scope: String,
    /// The user whose sessions are listed.
    #[serde(rename = "u")]
    pub user_id: UserId,
    /// Whether inactive sessions are included.
    #[serde(rename = "i")]
    pub include_inactive: bool,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "v")]
    version: u8,
    #[serde(flatten)]
    binding: Binding,
    #[serde(flatten)]
    position: Position,
}

/// Why a cursor was refused. All cases answer 400 `invalid_cursor`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CursorError {
    /// Not a cursor this service could have issued.
    #[error("malformed cursor")]
    Malformed,
    /// The tag does not match: tampered or from another deployment.
    #[error("cursor signature mismatch")]
    BadSignature,
    /// A genuine cursor, but for another user, route or filter.
    #[error("cursor belongs to another listing")]
    Foreign,
}

/// Signs and checks cursors with one HMAC key.
pub struct CursorCodec {
    key: hmac::Key,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec")
    }
}

impl CursorCodec {
    /// A codec with the configured secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// Encodes a position within a listing.
    pub fn encode(&self, binding: &Binding, position: &Position) -> String {
        let payload = Payload {
            version: 1,
            binding: binding.clone(),
            position: position.clone(),
        };
        // Serialising plain strings and integers cannot fail.
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Decodes a cursor and checks that it belongs to `expected`.
    pub fn decode(&self, cursor: &str, expected: &Binding) -> Result<Position, CursorError> {
        if cursor.is_empty() || cursor.len() > MAX_CURSOR_LEN {
            return Err(CursorError::Malformed);
        }
        let (body, tag) = cursor.split_once('.').ok_or(CursorError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| CursorError::Malformed)?;
        hmac::verify(&self.key, body.as_bytes(), &tag).map_err(|_| CursorError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CursorError::Malformed)?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| CursorError::Malformed)?;
        if payload.version != 1 {
            return Err(CursorError::Malformed);
        }
        if &payload.binding != expected {
            return Err(CursorError::Foreign);
        }
        Ok(payload.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(user_id: u64) -> Binding {
        Binding {
            scope: "admin".into(),
            user_id: UserId::of(user_id),
            include_inactive: false,
        }
    }

    fn position() -> Position {
        Position {
            last_activity: 1_739_029_500,
            session_id: "abcdefghijklmnopqrstuvwxyz0".into(),
        }
    }

    #[test]
    fn round_trips() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let c = codec.encode(&binding(74), &position());
        assert_eq!(codec.decode(&c, &binding(74)), Ok(position()));
    }

    #[test]
    fn tampering_is_detected() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let c = codec.encode(&binding(74), &position());
        // Flip one character of the body.
        let mut bytes = c.clone().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            codec.decode(&tampered, &binding(74)),
            Err(CursorError::BadSignature)
        );
        // A body re-encoded by a client with another position but the old tag.
        let (_, tag) = c.split_once('.').unwrap();
        let forged_body =
            URL_SAFE_NO_PAD.encode(br#"{"v":1,"r":"admin","u":74,"i":false,"a":0,"s":"x"}"#);
        assert_eq!(
            codec.decode(&format!("{forged_body}.{tag}"), &binding(74)),
            Err(CursorError::BadSignature)
        );
        for junk in ["", "abc", "a.b", "!!!.???", &"a".repeat(600)] {
            assert!(codec.decode(junk, &binding(74)).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn foreign_cursors_are_refused() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let c = codec.encode(&binding(74), &position());
        assert_eq!(codec.decode(&c, &binding(75)), Err(CursorError::Foreign));
        let mut other_filter = binding(74);
        other_filter.include_inactive = true;
        assert_eq!(codec.decode(&c, &other_filter), Err(CursorError::Foreign));
        let mut other_scope = binding(74);
        other_scope.scope = "self".into();
        assert_eq!(codec.decode(&c, &other_scope), Err(CursorError::Foreign));
        let other_key = CursorCodec::new(b"another key of thirty-two bytes!");
        assert_eq!(
            other_key.decode(&c, &binding(74)),
            Err(CursorError::BadSignature)
        );
    }
}
