//! Why a session ended: one name, stored on the session, returned and audited.

use serde::{Deserialize, Serialize};

/// Why a session ended. Stored on the session, returned as `ended_reason` and written to the
/// audit log under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Its user signed out of it (from that session).
    Logout,
    /// Its user ended it from another session (one session, or "all others").
    User,
    /// An administrator ended it (one session, or all of the user's).
    Admin,
    /// Its user changed the password.
    PasswordChanged,
    /// An administrator disabled its user.
    UserDisabled,
    /// A rotated-out refresh token was presented: the token family is treated as stolen.
    #[serde(rename = "refresh_token_reuse")]
    RefreshTokenReuse,
    /// A sign-in at the session limit made room.
    Evicted,
    /// Shown, never stored: the user's credentials changed (password change, disable, "end all
    /// sessions") after the session started, and the sweep has not marked it yet.
    CredentialsChanged,
    /// Shown, never stored: an operator ended every session of every user.
    AllSessionsEnded,
}

impl EndReason {
    /// The name stored and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::User => "user",
            Self::Admin => "admin",
            Self::PasswordChanged => "password_changed",
            Self::UserDisabled => "user_disabled",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::Evicted => "evicted",
            Self::CredentialsChanged => "credentials_changed",
            Self::AllSessionsEnded => "all_sessions_ended",
        }
    }
}
