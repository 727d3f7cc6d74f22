//! Starting a session within the concurrent session limit (`SESSION_LIMIT`); the plan of
//! which slot it takes and what it ends is the pure rule in [`crate::domain::limits`].

use crate::audit;
use crate::config::AuthPolicy;
use crate::domain::UserId;
use crate::domain::limits::{SlotClaim, Snapshot, plan};
use crate::domain::{EndReason, Session, SessionPolicy};
use crate::error::ApiError;
use crate::store::{Store, StoreError};
use std::time::Duration;

/// Sign-in attempts at a slot before giving up with 503 (each lost race means another sign-in
/// of the same user committed).
const MAX_ATTEMPTS: usize = 12;

/// Reads the user's slots and active sessions (two reads, concurrently).
pub async fn snapshot(
    store: &Store,
    user_id: UserId,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Snapshot, StoreError> {
    let (user, active) = tokio::try_join!(
        store.get_account(user_id),
        store.active_sessions(user_id, now, policy)
    )?;
    let (credential_epoch, slots) = user
        .map(|a| (a.user.credential_epoch, a.slots))
        .unwrap_or_default();
    Ok(Snapshot {
        credential_epoch,
        slots,
        active,
    })
}

/// Stores `session` within the user's session limit, starting from `first` (read by the
/// caller) and re-reading after each lost race. Returns the sessions it ended, or `None` when
/// the user's credential epoch has moved past the session's (the caller decides again).
pub async fn put_within_limit(
    store: &Store,
    session: &Session,
    first: Snapshot,
    auth: &AuthPolicy,
    ip: &str,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Option<Vec<String>>, ApiError> {
    let spread = session.session_id.bytes().fold(0usize, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(b as usize)
    });
    let mut snap = first;
    for attempt in 0..MAX_ATTEMPTS {
        if snap.credential_epoch != session.credential_epoch {
            return Ok(None);
        }
        let plan = plan(
            &snap,
            auth.session_limit,
            auth.session_limit_action,
            spread.wrapping_add(attempt),
        )?;
        if store
            .put_session_in_slot(session, &plan.claim, now, policy)
            .await?
        {
            let mut ended = Vec::new();
            if let SlotClaim::Evict { victim, .. } = &plan.claim {
                ended.push(victim.clone());
            }
            for id in &plan.also_end {
                let by = session.user_id;
                store
                    .end_session(by, id, by, EndReason::Evicted, now, policy)
                    .await?;
                ended.push(id.clone());
            }
            for id in &ended {
                audit::sessions_ended(
                    session.user_id,
                    session.user_id,
                    Some(id),
                    1,
                    EndReason::Evicted,
                    ip,
                );
            }
            return Ok(Some(ended));
        }
        // Another sign-in of this user committed first: back off a little, read again.
        let jitter = (spread.wrapping_add(attempt * 7) % 20) as u64;
        tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
        snap = snapshot(store, session.user_id, now, policy).await?;
    }
    Err(ApiError::Unavailable(StoreError::Transient {
        operation: "TransactWriteItems",
        source: "too many concurrent sign-ins for one user".into(),
    }))
}
