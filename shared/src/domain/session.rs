//! Sessions: the stored item (DynamoDB, via serde_dynamo), its lifetimes, how its status is
//! decided at a moment, and the wire shape the API returns.

use super::assurance::{Aal, Amr};
use super::device::{DeviceInfo, DeviceNameSource, DeviceType};
use super::end_reason::EndReason;
use super::ids::UserId;
use super::risk::RiskFlag;
use super::user::User;
use serde::{Deserialize, Serialize};

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long is over.
    pub idle_timeout_seconds: i64,
    /// A session is over this long after it started, however active.
    pub absolute_lifetime_seconds: i64,
    /// How long an ended or expired session stays visible to admins before TTL removes it.
    pub retention_seconds: i64,
    /// `last_activity` is written at most once per this many seconds per session.
    pub activity_write_interval_seconds: i64,
}

/// What ends sessions without touching their items, read with every session check: the
/// user's credential epoch (strongly consistent) and the operator's global epoch (see
/// the store's `GLOBAL_EPOCH_MAX_AGE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// The user's current credential epoch: a session stamped with another one is over.
    pub credential_epoch: u64,
    /// The current global epoch: a session started under another one is over.
    pub global_epoch: u64,
}

impl Cutoffs {
    /// The cut-offs for `user` under the global epoch `global_epoch`.
    pub fn of(user: &User, global_epoch: u64) -> Self {
        Self {
            credential_epoch: user.credential_epoch,
            global_epoch,
        }
    }
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
    /// Latitude in degrees (CloudFront's viewer latitude, a city's), as CloudFront sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    /// Longitude in degrees, as CloudFront sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
}

impl Location {
    /// The coordinates, where both are known and in range.
    pub fn point(&self) -> Option<(f64, f64)> {
        let lat: f64 = self.latitude.as_deref()?.parse().ok()?;
        let lon: f64 = self.longitude.as_deref()?.parse().ok()?;
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }
}

/// One item of the sessions table. Timestamps are Unix seconds so that DynamoDB filters and
/// TTL can compare them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Partition key.
    pub user_id: UserId,
    /// Sort key: opaque, 160 random bits.
    pub session_id: String,
    /// `web` or `mobile`.
    pub device_type: DeviceType,
    /// e.g. "Chrome on Windows 10".
    pub device_name: String,
    /// Whether `device_name` was parsed from the User-Agent or sent by the client.
    #[serde(default)]
    pub device_name_source: DeviceNameSource,
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
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_reason: Option<EndReason>,
    /// The refresh-token family's secret nonce (base64url, 256 bits): every generation's token
    /// is a MAC over it (see [`crate::tokens::refresh`]). Never leaves the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_family: Option<String>,
    /// The generation of the current refresh token; every earlier one is rotated out.
    #[serde(default)]
    pub refresh_generation: u64,
    /// When the current generation was issued by a rotation (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rotated_at: Option<i64>,
    /// The user's credential epoch when the session started (see [`User::credential_epoch`]).
    #[serde(default)]
    pub credential_epoch: u64,
    /// The global epoch when the session started (see [`Cutoffs`]).
    #[serde(default)]
    pub global_epoch: u64,
    /// DynamoDB TTL (Unix seconds): when the item may be deleted. Never trusted on reads.
    pub ttl: i64,
    /// When the user last proved their password in this session (sign-in or
    /// re-authentication), Unix seconds. Absent on sessions older than the field: `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The refresh generation that the latest re-authentication started: tokens of earlier
    /// generations do not count as a recent sign-in.
    #[serde(default)]
    pub auth_generation: u64,
    /// The user's own name for the session ("work laptop").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Where the latest sign-in or refresh came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// How the session was authenticated, in order: `pwd`, then `otp` or `recovery` when a
    /// second factor completed the sign-in or a re-authentication.
    #[serde(default = "super::assurance::password_only")]
    pub amr: Vec<Amr>,
    /// When `location` was recorded (the sign-in, then each refresh), Unix seconds: where
    /// impossible travel is timed from. Absent on sessions older than the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub located_at: Option<i64>,
    /// Where the session signed in from, when CloudFront said (`location` follows refreshes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin_location: Option<Location>,
    /// What refreshes saw that the sign-in did not ([`super::risk`]); sticky.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_flags: Vec<RiskFlag>,
    /// When its user reported it as not theirs (the "This wasn't me" link of a new-sign-in
    /// alert), Unix seconds: set once, which makes the link single-use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<i64>,
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
        user_id: UserId,
        session_id: String,
        device: DeviceInfo,
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
            device_name_source: DeviceNameSource::UserAgent,
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
            refresh_family: None,
            refresh_generation: 0,
            refresh_rotated_at: None,
            credential_epoch: 0,
            global_epoch: 0,
            ttl: Self::ttl_for(expires_at, policy),
            auth_time: Some(now),
            auth_generation: 0,
            label: None,
            location: None,
            amr: super::assurance::password_only(),
            located_at: Some(now),
            signin_location: None,
            risk_flags: Vec::new(),
            reported_at: None,
        }
    }

    /// The assurance level the session reached.
    pub fn aal(&self) -> Aal {
        super::assurance::level(&self.amr)
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

    /// Whether the user's credentials or the operator's cut-off ended this session without its
    /// item saying so (yet), and why.
    pub fn superseded(&self, cut: &Cutoffs) -> Option<EndReason> {
        if self.global_epoch != cut.global_epoch {
            Some(EndReason::AllSessionsEnded)
        } else if self.credential_epoch != cut.credential_epoch {
            Some(EndReason::CredentialsChanged)
        } else {
            None
        }
    }

    /// The session's status at `now`, its item and the cut-offs together: what every check
    /// of a session decides on.
    pub fn status_under(&self, now: i64, policy: &SessionPolicy, cut: &Cutoffs) -> SessionStatus {
        match self.status(now, policy) {
            SessionStatus::Active if self.superseded(cut).is_some() => SessionStatus::Revoked,
            status => status,
        }
    }

    /// Whether the session can be used at `now`.
    pub fn is_usable(&self, now: i64, policy: &SessionPolicy, cut: &Cutoffs) -> bool {
        self.status_under(now, policy, cut) == SessionStatus::Active
    }

    /// The TTL for a session that ends (or expires) at `end`: the end plus the retention.
    pub fn ttl_for(end: i64, policy: &SessionPolicy) -> i64 {
        end + policy.retention_seconds
    }
}

/// Longest session label kept, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

/// The label to store for what the user typed: cleaned (see [`super::text::clean`]), `None`
/// to clear; `Err(MAX_LABEL_CHARS)` when it is too long.
pub fn clean_label(raw: Option<&str>) -> Result<Option<String>, usize> {
    let Some(raw) = raw else { return Ok(None) };
    // Bounds the work on absurd input before cleaning.
    if raw.chars().filter(|c| !c.is_control()).count() > MAX_LABEL_CHARS * 4 {
        return Err(MAX_LABEL_CHARS);
    }
    match super::text::clean(Some(raw), usize::MAX) {
        Some(label) if label.chars().count() > MAX_LABEL_CHARS => Err(MAX_LABEL_CHARS),
        other => Ok(other),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::end_reason::EndedBy;

    pub(crate) fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout_seconds: 1000,
            absolute_lifetime_seconds: 10_000,
            retention_seconds: 500,
            activity_write_interval_seconds: 60,
        }
    }

    #[test]
    fn labels_are_cleaned_limited_and_clearable() {
        assert_eq!(
            clean_label(Some("  work\u{0007} laptop \n")),
            Ok(Some("work laptop".to_owned()))
        );
        assert_eq!(clean_label(Some("   ")), Ok(None));
        assert_eq!(clean_label(None), Ok(None));
        let max = "ä".repeat(MAX_LABEL_CHARS);
        assert_eq!(clean_label(Some(&max)), Ok(Some(max.clone())));
        assert_eq!(clean_label(Some(&format!("{max}x"))), Err(MAX_LABEL_CHARS));
    }

    pub(crate) fn session() -> Session {
        Session {
            user_id: UserId::of(74),
            session_id: "s".repeat(27),
            device_type: DeviceType::Web,
            device_name: "Chrome on Windows 10".into(),
            device_name_source: DeviceNameSource::UserAgent,
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
            refresh_family: None,
            refresh_generation: 0,
            refresh_rotated_at: None,
            credential_epoch: 0,
            global_epoch: 0,
            ttl: 1_739_030_500,
            auth_time: None,
            auth_generation: 0,
            label: None,
            location: None,
            amr: vec![Amr::Pwd],
            located_at: None,
            signin_location: None,
            risk_flags: Vec::new(),
            reported_at: None,
        }
    }

    #[test]
    fn a_session_stored_before_amr_existed_reads_as_a_password_sign_in() {
        let mut item = serde_json::to_value(session()).unwrap();
        item.as_object_mut().unwrap().remove("amr");
        let old: Session = serde_json::from_value(item).unwrap();
        assert_eq!((old.aal(), old.amr), (Aal::Aal1, vec![Amr::Pwd]));
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
    fn the_users_epoch_and_the_global_cut_off_end_sessions_without_their_items() {
        let p = policy();
        let s = session();
        let now = 1_739_029_600;
        let same = Cutoffs::default();
        assert!(s.is_usable(now, &p, &same));
        let changed = Cutoffs {
            credential_epoch: 1,
            global_epoch: 0,
        };
        assert_eq!(s.status_under(now, &p, &changed), SessionStatus::Revoked);
        let r = s.to_response(now, &p, &changed, None);
        assert!(!r.is_active);
        assert_eq!(r.ended_reason, Some(EndReason::CredentialsChanged));
        assert_eq!(
            r.ended_by, None,
            "who moved the epoch is not on the session"
        );
        let global = Cutoffs {
            credential_epoch: 0,
            global_epoch: 1,
        };
        let r = s.to_response(now, &p, &global, None);
        assert_eq!(r.ended_reason, Some(EndReason::AllSessionsEnded));
        assert_eq!(r.ended_by, Some(EndedBy::System));
        assert_eq!(r.ended_at, None);
        let mut later = s.clone();
        later.global_epoch = 1;
        assert!(later.is_usable(now, &p, &global));
        // An item that says why wins over the cut-offs.
        let mut ended = s.clone();
        ended.revoked_at = Some(now - 10);
        ended.revoked_reason = Some(EndReason::Logout);
        ended.revoked_by = Some(ended.user_id.get());
        let r = ended.to_response(now, &p, &changed, None);
        assert_eq!(r.ended_reason, Some(EndReason::Logout));
        assert_eq!(r.ended_by, Some(EndedBy::User));
        // Expiry and idleness are the service's doing; an active session has no one.
        let r = s.to_response(now + p.idle_timeout_seconds + 1, &p, &same, None);
        assert!(matches!(
            r.status,
            SessionStatus::Idle | SessionStatus::Expired
        ));
        assert_eq!(r.ended_by, Some(EndedBy::System));
        assert_eq!(s.to_response(now, &p, &same, None).ended_by, None);
    }

    #[test]
    fn response_has_the_admin_panel_contract() {
        let s = session();
        let json = serde_json::to_value(s.to_response(
            1_739_029_600,
            &policy(),
            &Cutoffs::default(),
            None,
        ))
        .unwrap();
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
