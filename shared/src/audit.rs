//! Audit events: one JSON log line per security-relevant action, with the actor, the target,
//! the source IP and (from the log line) the time. Session ids appear only hashed; tokens,
//! secrets and passwords never. The events that operators count also become metrics
//! ([`crate::metrics`]).

use crate::domain::UserId;
use crate::domain::ids::hash_for_log;
use crate::domain::{EndReason, RiskFlag};
use crate::metrics::{Metric, emit};

/// An admin listed a user's sessions.
pub fn admin_listing(
    actor_user_id: UserId,
    actor_session_id: &str,
    target_user_id: UserId,
    returned: usize,
    include_inactive: bool,
    ip: &str,
) {
    tracing::info!(
        audit = "admin_listing",
        actor_user_id = actor_user_id.get(),
        actor_session = %hash_for_log(actor_session_id),
        target_user_id = target_user_id.get(),
        returned,
        include_inactive,
        ip,
        "admin listed a user's sessions"
    );
}

/// An administrator read a user's activity history.
pub fn admin_activity_listing(
    actor_user_id: UserId,
    actor_session_id: &str,
    target_user_id: UserId,
    returned: usize,
    ip: &str,
) {
    tracing::info!(
        audit = "admin_activity_listing",
        actor_user_id = actor_user_id.get(),
        actor_session = %hash_for_log(actor_session_id),
        target_user_id = target_user_id.get(),
        returned,
        ip,
        "admin read a user's activity"
    );
}

/// A session was created.
pub fn session_created(user_id: UserId, session_id: &str, device_name: &str, ip: &str, via: &str) {
    emit(Metric::SignIn);
    tracing::info!(
        audit = "session_created",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        device_name,
        ip,
        via,
        "session created"
    );
}

/// A sign-in failed (unknown email or wrong password: the log does not say which, nor the email).
pub fn login_failed(email: &str, ip: &str, reason: &str) {
    emit(match reason {
        r if r.starts_with("throttled") => Metric::Throttled,
        _ => Metric::SignInFailure,
    });
    tracing::info!(
        audit = "login_failed",
        email = %hash_for_log(email),
        reason,
        ip,
        "sign-in failed"
    );
}

/// A right password for a user with a second factor: a challenge was handed out.
pub fn second_factor_challenged(user_id: UserId, ip: &str) {
    tracing::info!(
        audit = "second_factor_challenged",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        ip,
        "password right; second factor asked for"
    );
}

/// A second step of a sign-in failed: `user_id` when the challenge was known.
pub fn second_factor_failed(user_id: Option<UserId>, ip: &str, reason: &str) {
    emit(match reason {
        r if r.starts_with("throttled") => Metric::Throttled,
        _ => Metric::SignInFailure,
    });
    tracing::info!(
        audit = "second_factor_failed",
        target_user_id = user_id.map(UserId::get),
        reason,
        ip,
        "second factor refused"
    );
}

/// A second factor (TOTP, with recovery codes) was enrolled for `user_id`.
pub fn second_factor_enrolled(user_id: UserId) {
    tracing::warn!(
        audit = "second_factor_enrolled",
        target_user_id = user_id.get(),
        "second factor enrolled"
    );
}

/// `actor` removed the second factor of `user_id`: an administrator (the user lost it), or
/// the user themselves.
pub fn second_factor_removed(actor: UserId, user_id: UserId, ip: &str) {
    tracing::warn!(
        audit = "second_factor_removed",
        actor_user_id = actor.get(),
        target_user_id = user_id.get(),
        ip,
        "second factor removed"
    );
}

/// `user_id` replaced their recovery codes with a new set (the old ones no longer work).
pub fn recovery_codes_regenerated(user_id: UserId, ip: &str) {
    tracing::warn!(
        audit = "recovery_codes_regenerated",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        ip,
        "recovery codes regenerated"
    );
}

/// A recovery code was used (it is spent); `left` are still unused.
pub fn recovery_code_used(user_id: UserId, left: usize, ip: &str) {
    tracing::warn!(
        audit = "recovery_code_used",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        left,
        ip,
        "recovery code used"
    );
}

/// A refresh showed something its session's sign-in did not (`flags`: `location_changed`,
/// `browser_changed`, `impossible_travel`); the session carries them from now on.
pub fn session_risk_flagged(user_id: UserId, session_id: &str, flags: &[RiskFlag], ip: &str) {
    let flags: Vec<&str> = flags.iter().map(|f| f.as_str()).collect();
    tracing::warn!(
        audit = "session_risk_flagged",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        flags = %flags.join(","),
        ip,
        "session flagged"
    );
}

/// A refresh token was rotated.
pub fn session_refreshed(user_id: UserId, session_id: &str, ip: &str) {
    emit(Metric::Refresh);
    tracing::info!(
        audit = "session_refreshed",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        ip,
        "session refreshed"
    );
}

/// A rotated-out refresh token (generation `presented`, the session being at `current`) was
/// used after the grace window: the session was ended.
pub fn refresh_reuse_detected(
    user_id: UserId,
    session_id: &str,
    presented: u64,
    current: u64,
    ip: &str,
) {
    emit(Metric::TheftDetected);
    tracing::warn!(
        audit = "refresh_token_reuse_detected",
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        presented_generation = presented,
        current_generation = current,
        ip,
        "refresh token reuse detected; session ended"
    );
}

/// A refresh token was refused without ending anything: `forged` (its MAC does not verify, or
/// names no session), `rotated` (the predecessor within the grace window: 409),
/// `session_ended` or `account_disabled`; `malformed` without a user (logged as user 0).
pub fn refresh_refused(
    user_id: Option<UserId>,
    session_id: &str,
    generation: u64,
    ip: &str,
    reason: &str,
) {
    tracing::warn!(
        audit = "refresh_refused",
        target_user_id = user_id.map_or(0, UserId::get),
        session = %hash_for_log(session_id),
        presented_generation = generation,
        reason,
        ip,
        "refresh token refused"
    );
}

/// A password change failed: `invalid_current_password` or a throttle.
pub fn password_change_failed(user_id: UserId, session_id: &str, ip: &str, reason: &str) {
    if reason.starts_with("throttled") {
        emit(Metric::Throttled);
    }
    tracing::warn!(
        audit = "password_change_failed",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        reason,
        ip,
        "password change failed"
    );
}

/// Sessions were ended (one, or `count` of a user's).
pub fn sessions_ended(
    actor_user_id: UserId,
    target_user_id: UserId,
    session_id: Option<&str>,
    count: usize,
    reason: EndReason,
    ip: &str,
) {
    emit(Metric::SessionsEnded(reason, count));
    tracing::info!(
        audit = "session_ended",
        actor_user_id = actor_user_id.get(),
        target_user_id = target_user_id.get(),
        session = session_id.map(hash_for_log).unwrap_or_default(),
        count,
        reason = reason.as_str(),
        ip,
        "sessions ended"
    );
}

/// A user registered.
pub fn user_registered(user_id: UserId, ip: &str) {
    tracing::info!(
        audit = "user_registered",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        ip,
        "user registered"
    );
}

/// An admin changed a user.
pub fn user_updated(
    actor_user_id: UserId,
    target_user_id: UserId,
    role: Option<&str>,
    disabled: Option<bool>,
    ip: &str,
) {
    tracing::info!(
        audit = "user_updated",
        actor_user_id = actor_user_id.get(),
        target_user_id = target_user_id.get(),
        role = role.unwrap_or_default(),
        disabled = disabled.map(|d| d.to_string()).unwrap_or_default(),
        ip,
        "user updated"
    );
}

/// A user changed their password.
pub fn password_changed(user_id: UserId, ended_others: usize, ip: &str) {
    tracing::info!(
        audit = "password_changed",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        ended_others,
        ip,
        "password changed"
    );
}

/// The user proved their password again in a session.
pub fn reauthenticated(user_id: UserId, session_id: &str, ip: &str) {
    tracing::info!(
        audit = "reauthenticated",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        ip,
        "password confirmed in an existing session"
    );
}

/// A re-authentication failed (wrong password or throttled).
pub fn reauthentication_failed(user_id: UserId, session_id: &str, ip: &str, reason: &str) {
    if reason.starts_with("throttled") {
        emit(Metric::Throttled);
    }
    tracing::warn!(
        audit = "reauthentication_failed",
        actor_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        ip,
        reason,
        "re-authentication failed"
    );
}

/// A user renamed one of their sessions.
pub fn session_renamed(user_id: UserId, session_id: &str, labelled: bool, ip: &str) {
    tracing::info!(
        audit = "session_renamed",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        labelled,
        ip,
        "session label changed"
    );
}

/// A user reported one of their sessions as not theirs (the "This wasn't me" link), from `ip`;
/// `ended` when this request ended it (else it had already ended).
pub fn session_reported(user_id: UserId, session_id: &str, ended: bool, ip: &str) {
    tracing::info!(
        audit = "session_reported",
        actor_user_id = user_id.get(),
        target_user_id = user_id.get(),
        session = %hash_for_log(session_id),
        ended,
        ip,
        "sign-in reported as not the user's"
    );
}
