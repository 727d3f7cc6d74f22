//! Audit events: one JSON log line per security-relevant action, with the actor, the target,
//! the source IP and (from the log line) the time. Session ids appear only hashed; tokens,
//! secrets and passwords never.

use crate::ids::hash_for_log;

/// An admin listed a user's sessions.
pub fn admin_listing(
    actor_user_id: u64,
    actor_session_id: &str,
    target_user_id: u64,
    returned: usize,
    include_inactive: bool,
    ip: &str,
) {
    tracing::info!(
        audit = "admin_listing",
        actor_user_id,
        actor_session = %hash_for_log(actor_session_id),
        target_user_id,
        returned,
        include_inactive,
        ip,
        "admin listed a user's sessions"
    );
}

/// A session was created.
pub fn session_created(user_id: u64, session_id: &str, device_name: &str, ip: &str, via: &str) {
    tracing::info!(
        audit = "session_created",
        actor_user_id = user_id,
        target_user_id = user_id,
        session = %hash_for_log(session_id),
        device_name,
        ip,
        via,
        "session created"
    );
}
