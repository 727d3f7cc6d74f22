//! Why a session ended: one name, stored on the session, returned and audited.

use serde::{Deserialize, Serialize};

/// Why a session ended. Stored on the session, returned as `ended_reason` and written to the
/// audit log under the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Its user signed out of it (from that session, or everywhere at once).
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
    /// A refresh came from another browser family than the sign-in, and the stack ends such
    /// sessions (`END_SESSION_ON_BROWSER_CHANGE`).
    BrowserChanged,
    /// Its user followed the "This wasn't me" link of a new-sign-in alert.
    Reported,
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
            Self::BrowserChanged => "browser_changed",
            Self::Reported => "reported",
            Self::CredentialsChanged => "credentials_changed",
            Self::AllSessionsEnded => "all_sessions_ended",
        }
    }
}

/// Who ended a session, as the listings say it next to [`EndReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndedBy {
    /// The session's own user (signing out, ending it or all others, changing the password,
    /// reporting a sign-in as not theirs).
    User,
    /// An administrator (ending it or all of the user's, disabling the user).
    Admin,
    /// The service: expiry, idleness, a stolen refresh token caught, an eviction at the
    /// session limit, a browser change the stack ends sessions for, an operator ending every
    /// session.
    System,
}

impl EndedBy {
    /// Who ended a session of `user_id` that was marked ended for `reason` by the user id `by`
    /// (as stored; none for the service's own writes).
    pub fn of(user_id: u64, reason: Option<EndReason>, by: Option<u64>) -> Self {
        match (reason, by) {
            (
                Some(
                    EndReason::RefreshTokenReuse
                    | EndReason::Evicted
                    | EndReason::BrowserChanged
                    | EndReason::AllSessionsEnded,
                ),
                _,
            ) => Self::System,
            (_, Some(by)) if by == user_id => Self::User,
            (_, None) => Self::System,
            (_, Some(_)) => Self::Admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_ended_a_session_follows_the_reason_then_the_recorded_user() {
        let user = 75;
        let cases = [
            (Some(EndReason::Logout), Some(75), EndedBy::User),
            (Some(EndReason::User), Some(75), EndedBy::User),
            (Some(EndReason::PasswordChanged), Some(75), EndedBy::User),
            (Some(EndReason::Admin), Some(1), EndedBy::Admin),
            (Some(EndReason::UserDisabled), Some(1), EndedBy::Admin),
            // The service's own decisions, whoever's request made them.
            (
                Some(EndReason::RefreshTokenReuse),
                Some(75),
                EndedBy::System,
            ),
            (Some(EndReason::Evicted), Some(75), EndedBy::System),
            (Some(EndReason::BrowserChanged), Some(75), EndedBy::System),
            (Some(EndReason::Reported), Some(75), EndedBy::User),
            (Some(EndReason::AllSessionsEnded), None, EndedBy::System),
            // Nothing recorded: the service's.
            (None, None, EndedBy::System),
        ];
        for (reason, by, want) in cases {
            assert_eq!(EndedBy::of(user, reason, by), want, "{reason:?} by {by:?}");
        }
    }
}
