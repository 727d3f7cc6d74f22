//! Users: the stored item, the role that authorisation reads, and the wire shape.

use super::ids::UserId;
use super::time::rfc3339;
use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and ends anyone's sessions.
    Admin,
    /// Sees and ends their own sessions.
    User,
}

/// One item of the users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Positive integer below 2^53, never reused.
    pub user_id: UserId,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Current role: authorisation reads this, not the token claim.
    pub role: Role,
    /// argon2id PHC string; absent for users who cannot sign in with a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// A disabled user cannot sign in or use any session.
    #[serde(default)]
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Moves forward whenever every session of the user must end at once (password change,
    /// disable, "end all sessions"). Each session records the epoch it was created in; one of
    /// an earlier epoch is over, whether or not its item says so yet.
    #[serde(default)]
    pub credential_epoch: u64,
    /// Networks (hashed) this user has signed in from: the sign-in throttle's per-account
    /// ceiling does not lock these out (see [`super::throttle`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_networks: Vec<String>,
    /// Whether the user has a confirmed second factor: read from the presence of the sealed
    /// TOTP secret (`crate::store::SecondFactor` holds the factor itself), never written with
    /// the user.
    #[serde(
        rename = "totp_secret",
        default,
        deserialize_with = "present",
        skip_serializing
    )]
    pub mfa_enabled: bool,
    /// The user id whose request made the latest change that events report (an epoch move,
    /// an administrator's change, a second factor added or removed): the user, or an admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<u64>,
    /// Why the credential epoch last moved (see [`super::event::of_user`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch_reason: Option<super::end_reason::EndReason>,
}

/// `true` for an attribute that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl User {
    /// Whether this user may use the admin routes right now.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

/// A user as the API returns it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserResponse {
    /// JSON integer.
    pub user_id: UserId,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// `admin` or `user`.
    pub role: Role,
    /// Whether the user is disabled.
    pub disabled: bool,
    /// RFC 3339.
    pub created_at: String,
    /// Whether the user has a second factor (TOTP).
    pub mfa_enabled: bool,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id,
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            mfa_enabled: u.mfa_enabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_enabled_is_read_from_the_sealed_secret_and_never_written() {
        let item = serde_json::json!({
            "user_id": 74, "email": "a@example.com", "display_name": "A", "role": "user",
            "created_at": 0,
        });
        let user: User = serde_json::from_value(item.clone()).unwrap();
        assert!(!user.mfa_enabled);
        let mut with_factor = item;
        with_factor["totp_secret"] = serde_json::json!("v1.sealed");
        let user: User = serde_json::from_value(with_factor).unwrap();
        assert!(user.mfa_enabled);
        let written = serde_json::to_value(&user).unwrap();
        assert!(written.get("totp_secret").is_none() && written.get("mfa_enabled").is_none());
        assert!(UserResponse::from(&user).mfa_enabled);
    }
}
