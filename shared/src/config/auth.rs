//! The settings of the routes that create users, sessions and tokens.

use super::env::Env;
use crate::domain::limits::SessionLimitAction;
use crate::error::StartupError;

/// Settings of the routes that create users, sessions and tokens.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy {
    /// Whether `POST /auth/register` is open.
    pub registration_enabled: bool,
    /// Access-token lifetime in seconds (15 minutes by default).
    pub access_token_ttl_seconds: i64,
    /// A rotated-out refresh token reused within this many seconds is refused (409) without
    /// ending the session: two tabs refreshing at once. After it, reuse ends the session.
    pub refresh_reuse_grace_seconds: i64,
    /// Password attempts per email and client network within the window before 429.
    pub login_max_failures: u32,
    /// Password attempts per email, all clients together, within the window before clients on
    /// networks the account has never signed in from get 429 too.
    pub login_max_failures_per_account: u32,
    /// The failed sign-in window in seconds.
    pub login_failure_window_seconds: i64,
    /// argon2id memory in KiB.
    pub password_hash_memory_kib: u32,
    /// argon2id passes.
    pub password_hash_iterations: u32,
    /// Sensitive actions need a password proved in the session within this many seconds.
    pub reauth_max_age_seconds: i64,
    /// Active sessions a user may have at once; 0 = no limit.
    pub session_limit: u32,
    /// What a sign-in at the limit does.
    pub session_limit_action: SessionLimitAction,
    /// Whether the admin routes need a session signed in with a second factor (`aal2`).
    pub admin_requires_aal2: bool,
    /// Whether a refresh from another browser family than the sign-in's ends the session
    /// (else it is only flagged `browser_changed`).
    pub end_session_on_browser_change: bool,
}

impl AuthPolicy {
    /// The password throttle's settings.
    pub fn throttle(&self) -> crate::domain::throttle::ThrottlePolicy {
        crate::domain::throttle::ThrottlePolicy {
            per_client: self.login_max_failures,
            per_account: self.login_max_failures_per_account,
            window_seconds: self.login_failure_window_seconds,
        }
    }
}

impl AuthPolicy {
    pub(super) fn read(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Self, StartupError> {
        let actions = [
            ("evict", SessionLimitAction::Evict),
            ("refuse", SessionLimitAction::Refuse),
        ];
        let seconds = |name| Ok::<_, StartupError>(env.number(name)? as i64);
        let count = |name| Ok::<_, StartupError>(env.number(name)? as u32);
        Ok(Self {
            registration_enabled: env.boolean("REGISTRATION_ENABLED", true)?,
            access_token_ttl_seconds: seconds("ACCESS_TOKEN_TTL_SECONDS")?,
            refresh_reuse_grace_seconds: seconds("REFRESH_REUSE_GRACE_SECONDS")?,
            login_max_failures: count("LOGIN_MAX_FAILURES")?,
            login_max_failures_per_account: count("LOGIN_MAX_FAILURES_PER_ACCOUNT")?,
            login_failure_window_seconds: seconds("LOGIN_FAILURE_WINDOW_SECONDS")?,
            password_hash_memory_kib: count("PASSWORD_HASH_MEMORY_KIB")?,
            password_hash_iterations: count("PASSWORD_HASH_ITERATIONS")?,
            reauth_max_age_seconds: seconds("REAUTH_MAX_AGE_SECONDS")?,
            session_limit: count("SESSION_LIMIT")?,
            session_limit_action: env.choice(
                "SESSION_LIMIT_ACTION",
                &actions,
                SessionLimitAction::Evict,
            )?,
            admin_requires_aal2: env.boolean("ADMIN_REQUIRES_AAL2", false)?,
            end_session_on_browser_change: env.boolean("END_SESSION_ON_BROWSER_CHANGE", false)?,
        })
    }
}
