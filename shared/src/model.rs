//! Stored items (DynamoDB, via serde_dynamo) and the wire shapes the API returns.

use crate::config::SessionPolicy;
use crate::time::rfc3339;
use serde::{Deserialize, Serialize};

/// The kind of device a session runs on, as the admin panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// A browser or anything not recognised as a phone or tablet.
    Web,
    /// A phone or tablet (browser or native app).
    Mobile,
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and ends anyone's sessions.
    Admin,
    /// Sees and ends their own sessions.
    User,
}

/// Where a session's latest sign-in or refresh came from, as CloudFront's viewer headers said.
/// Only recorded from requests that prove they came through the configured CloudFront
/// distribution; never guessed from an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, e.g. `DE`.
    pub country: String,
    /// ISO 3166-2 subdivision code without the country, e.g. `BE`, where CloudFront knows it.
    #[serde(default)]
    pub region: Option<String>,
    /// City name, where CloudFront knows it.
    #[serde(default)]
    pub city: Option<String>,
}

/// One item of the users table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Positive integer below 2^53, never reused.
    pub user_id: u64,
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
}

impl User {
    /// Whether this user may use the admin routes right now.
    pub fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && !self.disabled
    }
}

/// One item of the sessions table. Timestamps are Unix seconds so that DynamoDB filters and
/// TTL can compare them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Partition key.
    pub user_id: u64,
    /// Sort key: opaque, 160 random bits.
    pub session_id: String,
    /// `web` or `mobile`.
    pub device_type: DeviceType,
    /// e.g. "Chrome on Windows 10".
    pub device_name: String,
    /// e.g. "Chrome".
    pub browser: String,
    /// e.g. "Windows 10".
    pub os: String,
    /// The raw User-Agent, truncated and stripped of control characters.
    pub user_agent: String,
    /// Source IP from the API Gateway request context.
    pub ip_address: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; also the sort key of the `by_activity` index.
    pub last_activity: i64,
    /// Unix seconds: the absolute end of the session.
    pub expires_at: i64,
    /// Set when the session was ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Who ended it (a user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<u64>,
    /// Why it ended: `logout`, `admin`, `refresh_token_reuse`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<String>,
    /// SHA-256 of the current refresh secret, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_hash: Option<String>,
    /// SHA-256 of the refresh secret the last rotation replaced (reuse detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_prev_hash: Option<String>,
    /// When the refresh token was last rotated (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rotated_at: Option<i64>,
    /// DynamoDB TTL (Unix seconds): when the item may be deleted. Never trusted on reads.
    pub ttl: i64,
    /// When the user last proved their password in this session (sign-in or
    /// re-authentication), Unix seconds. Absent on sessions older than the field: `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The user's own name for the session ("work laptop").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Where the latest sign-in or refresh came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Where a session stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Usable.
    Active,
    /// Ended by someone.
    Revoked,
    /// Past its absolute lifetime.
    Expired,
    /// Unused for longer than the idle timeout.
    Idle,
}

impl Session {
    /// A new active session for a device, started at `now`.
    pub fn start(
        user_id: u64,
        session_id: String,
        device: crate::device::DeviceInfo,
        ip_address: &str,
        now: i64,
        policy: &SessionPolicy,
    ) -> Self {
        let expires_at = now + policy.absolute_lifetime_seconds;
        Self {
            user_id,
            session_id,
            device_type: device.device_type,
            device_name: device.device_name,
            browser: device.browser,
            os: device.os,
            user_agent: device.user_agent,
            ip_address: ip_address.to_owned(),
            created_at: now,
            last_activity: now,
            expires_at,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            refresh_hash: None,
            refresh_prev_hash: None,
            refresh_rotated_at: None,
            ttl: Self::ttl_for(expires_at, policy),
            auth_time: Some(now),
            label: None,
            location: None,
        }
    }

    /// When the user last proved their password in this session.
    pub fn auth_time(&self) -> i64 {
        self.auth_time.unwrap_or(self.created_at)
    }

    /// The session's status at `now` under `policy`. Checked in code on every read: TTL
    /// deletion is lazy and never relied on.
    pub fn status(&self, now: i64, policy: &SessionPolicy) -> SessionStatus {
        if self.revoked_at.is_some() {
            SessionStatus::Revoked
        } else if now >= self.expires_at {
            SessionStatus::Expired
        } else if now >= self.last_activity + policy.idle_timeout_seconds {
            SessionStatus::Idle
        } else {
            SessionStatus::Active
        }
    }

    /// The TTL for a session that ends (or expires) at `end`: the end plus the retention.
    pub fn ttl_for(end: i64, policy: &SessionPolicy) -> i64 {
        end + policy.retention_seconds
    }

    /// The wire shape of this session at `now`. `current_session` marks the caller's own.
    pub fn to_response(
        &self,
        now: i64,
        policy: &SessionPolicy,
        current_session: Option<&str>,
    ) -> SessionResponse {
        let status = self.status(now, policy);
        let ended_at = match status {
            SessionStatus::Active => None,
            SessionStatus::Revoked => self.revoked_at,
            SessionStatus::Expired => Some(self.expires_at),
            SessionStatus::Idle => Some(self.last_activity + policy.idle_timeout_seconds),
        };
        SessionResponse {
            id: self.session_id.clone(),
            user_id: self.user_id,
            device_name: self.device_name.clone(),
            device_type: self.device_type,
            browser: self.browser.clone(),
            os: self.os.clone(),
            ip_address: self.ip_address.clone(),
            user_agent: self.user_agent.clone(),
            created_at: rfc3339(self.created_at),
            last_activity: rfc3339(self.last_activity),
            expires_at: rfc3339(self.expires_at),
            is_active: status == SessionStatus::Active,
            is_current: current_session == Some(self.session_id.as_str()),
            status,
            ended_at: ended_at.map(rfc3339),
            ended_reason: self.revoked_reason.clone(),
            label: self.label.clone(),
            location: self.location.clone(),
        }
    }
}

/// A session as the API returns it. The first nine fields are the admin panel's contract and
/// must not change name or type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionResponse {
    /// Opaque session id.
    pub id: String,
    /// JSON integer.
    pub user_id: u64,
    /// e.g. "Chrome on Windows 10".
    pub device_name: String,
    /// `web` or `mobile`.
    pub device_type: DeviceType,
    /// e.g. "Chrome".
    pub browser: String,
    /// Source IP at sign-in or last refresh.
    pub ip_address: String,
    /// RFC 3339 UTC, whole seconds, `Z`.
    pub created_at: String,
    /// RFC 3339 UTC, whole seconds, `Z`.
    pub last_activity: String,
    /// Whether the session is usable now.
    pub is_active: bool,
    /// e.g. "Windows 10".
    pub os: String,
    /// The raw (sanitised) User-Agent.
    pub user_agent: String,
    /// RFC 3339: the absolute end of the session.
    pub expires_at: String,
    /// Whether this is the session of the token making the request.
    pub is_current: bool,
    /// `active`, `revoked`, `expired` or `idle`.
    pub status: SessionStatus,
    /// When the session ended, for inactive ones.
    pub ended_at: Option<String>,
    /// Why it was ended, when someone ended it.
    pub ended_reason: Option<String>,
    /// The user's own name for the session, if they gave one.
    pub label: Option<String>,
    /// Where the latest sign-in or refresh came from (CloudFront viewer headers), if known.
    pub location: Option<Location>,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout_seconds: 1000,
            absolute_lifetime_seconds: 10_000,
            retention_seconds: 500,
            activity_write_interval_seconds: 60,
        }
    }

    fn session() -> Session {
        Session {
            user_id: 74,
            session_id: "s".repeat(27),
            device_type: DeviceType::Web,
            device_name: "Chrome on Windows 10".into(),
            browser: "Chrome".into(),
            os: "Windows 10".into(),
            user_agent: "Mozilla/5.0".into(),
            ip_address: "192.168.1.1".into(),
            created_at: 1_739_010_600,
            last_activity: 1_739_029_500,
            expires_at: 1_739_030_000,
            revoked_at: None,
            revoked_by: None,
            revoked_reason: None,
            refresh_hash: None,
            refresh_prev_hash: None,
            refresh_rotated_at: None,
            ttl: 1_739_030_500,
            auth_time: None,
            label: None,
            location: None,
        }
    }

    #[test]
    fn status_follows_revocation_expiry_and_idleness() {
        let p = policy();
        let s = session();
        assert_eq!(s.status(1_739_029_600, &p), SessionStatus::Active);
        assert_eq!(s.status(1_739_030_000, &p), SessionStatus::Expired);
        let mut idle = s.clone();
        idle.expires_at = i64::MAX;
        assert_eq!(idle.status(1_739_029_500 + 1000, &p), SessionStatus::Idle);
        let mut revoked = s.clone();
        revoked.revoked_at = Some(1_739_029_550);
        assert_eq!(revoked.status(1_739_029_600, &p), SessionStatus::Revoked);
    }

    #[test]
    fn response_has_the_admin_panel_contract() {
        let s = session();
        let json = serde_json::to_value(s.to_response(1_739_029_600, &policy(), None)).unwrap();
        assert_eq!(json["id"], "s".repeat(27));
        assert_eq!(json["user_id"], 74);
        assert!(json["user_id"].is_u64());
        assert_eq!(json["device_name"], "Chrome on Windows 10");
        assert_eq!(json["device_type"], "web");
        assert_eq!(json["browser"], "Chrome");
        assert_eq!(json["ip_address"], "192.168.1.1");
        assert_eq!(json["created_at"], "2025-02-08T10:30:00Z");
        assert_eq!(json["last_activity"], "2025-02-08T15:45:00Z");
        assert_eq!(json["is_active"], true);
        assert_eq!(json["is_current"], false);
        assert!(json["ended_at"].is_null());
    }
}

/// A user as the API returns it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserResponse {
    /// JSON integer.
    pub user_id: u64,
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
        }
    }
}
