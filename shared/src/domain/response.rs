//! A session as the API shows it: the admin panel's contract and the fields added since.

use super::end_reason::EndedBy;
use super::ids::UserId;
use super::session::{Cutoffs, Location, Session, SessionPolicy, SessionStatus};
use super::time::rfc3339;
use super::{Aal, Amr, DeviceNameSource, DeviceType, EndReason, RiskFlag};
use serde::Serialize;

impl Session {
    /// The wire shape of this session at `now` under the cut-offs. `current_session` marks the
    /// caller's own.
    pub fn to_response(
        &self,
        now: i64,
        policy: &SessionPolicy,
        cut: &Cutoffs,
        current_session: Option<&str>,
    ) -> SessionResponse {
        let status = self.status_under(now, policy, cut);
        let superseded = match self.status(now, policy) {
            SessionStatus::Active => self.superseded(cut),
            _ => None,
        };
        let ended_at = match status {
            SessionStatus::Active => None,
            // When the epoch moved is not on the session: unknown until the sweep marks it.
            SessionStatus::Revoked if superseded.is_some() => None,
            SessionStatus::Revoked => self.revoked_at,
            SessionStatus::Expired => Some(self.expires_at),
            SessionStatus::Idle => Some(self.last_activity + policy.idle_timeout_seconds),
        };
        let ended_by = match status {
            SessionStatus::Active => None,
            SessionStatus::Expired | SessionStatus::Idle => Some(EndedBy::System),
            SessionStatus::Revoked => match superseded {
                Some(EndReason::AllSessionsEnded) => Some(EndedBy::System),
                // Who moved the epoch is not on the session until the sweep marks it.
                Some(_) => None,
                None => Some(EndedBy::of(
                    self.user_id.get(),
                    self.revoked_reason,
                    self.revoked_by,
                )),
            },
        };
        SessionResponse {
            id: self.session_id.clone(),
            user_id: self.user_id,
            device_name: self.device_name.clone(),
            device_name_source: self.device_name_source,
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
            ended_reason: superseded.or(self.revoked_reason),
            ended_by,
            label: self.label.clone(),
            location: self.location.clone(),
            aal: self.aal(),
            amr: self.amr.clone(),
            risk_flags: self.risk_flags.clone(),
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
    pub user_id: UserId,
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
    /// `user_agent` when the service parsed `device_name` from the User-Agent, `client` when
    /// the client sent it at sign-in (its own claim).
    pub device_name_source: DeviceNameSource,
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
    pub ended_reason: Option<EndReason>,
    /// Who ended it, for inactive ones: `user`, `admin` or `system` (expiry and idleness
    /// included); unknown (null) for the moment between an epoch moving and the sweep marking
    /// the session.
    pub ended_by: Option<EndedBy>,
    /// The user's own name for the session, if they gave one.
    pub label: Option<String>,
    /// Where the latest sign-in or refresh came from (CloudFront viewer headers), if known.
    pub location: Option<Location>,
    /// The assurance level the session reached: `aal1` (password) or `aal2` (password and a
    /// second factor).
    pub aal: Aal,
    /// How the session was authenticated: `pwd`, `otp`, `recovery`.
    pub amr: Vec<Amr>,
    /// What refreshes saw that the sign-in did not: `location_changed`, `browser_changed`,
    /// `impossible_travel` (empty for most sessions).
    pub risk_flags: Vec<RiskFlag>,
}
