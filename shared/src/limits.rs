//! The concurrent session limit (`SESSION_LIMIT`): a user has at most that many active sessions.
//!
//! Each session started under the limit holds one of the user's numbered slots, recorded on the
//! user item. A sign-in takes a free slot (empty, or held by a session that has ended) or, under
//! the `evict` action, the slot of the least recently active session, which it ends in the same
//! transaction. The transaction only commits if the slot still has the holder the sign-in read,
//! so concurrent sign-ins can never share a slot: at most `SESSION_LIMIT` slot holders are active
//! at any moment. Sessions that hold no slot (started before the limit was switched on or
//! lowered) count too and are ended, least recently active first, by the next sign-in.

use crate::audit;
use crate::config::{AuthPolicy, SessionLimitAction, SessionPolicy};
use crate::error::ApiError;
use crate::model::{EndReason, Session};
use crate::store::{ActiveSession, SlotClaim, Store, StoreError};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Sign-in attempts at a slot before giving up with 503 (each lost race means another sign-in
/// of the same user committed).
const MAX_ATTEMPTS: usize = 12;

/// What a sign-in read about the user's slots and active sessions.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The user's credential epoch as read with the slots.
    pub credential_epoch: u64,
    /// Slot number → the session id holding it.
    pub slots: HashMap<u32, String>,
    /// The user's active sessions.
    pub active: Vec<ActiveSession>,
}

/// How a new session gets its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The slot it takes.
    pub claim: SlotClaim,
    /// Further sessions to end (reason `evicted`) to get down to the limit.
    pub also_end: Vec<String>,
}

/// 409: the `refuse` action at the limit.
pub fn limit_reached() -> ApiError {
    ApiError::Conflict {
        detail: "The account has reached its limit of active sessions; end one and sign in again.",
        code: "session_limit_reached",
    }
}

/// Decides where a new session goes. `spread` picks among free slots so that concurrent
/// sign-ins rarely race for the same one.
pub fn plan(
    snapshot: &Snapshot,
    limit: u32,
    action: SessionLimitAction,
    spread: usize,
) -> Result<Plan, ApiError> {
    let active_ids: HashSet<&str> = snapshot
        .active
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    let mut oldest_first: Vec<&ActiveSession> = snapshot.active.iter().collect();
    oldest_first
        .sort_by(|a, b| (a.last_activity, &a.session_id).cmp(&(b.last_activity, &b.session_id)));
    let excess = (snapshot.active.len() + 1).saturating_sub(limit as usize);
    if excess > 0 && action == SessionLimitAction::Refuse {
        return Err(limit_reached());
    }
    let victims: Vec<&str> = oldest_first[..excess.min(oldest_first.len())]
        .iter()
        .map(|s| s.session_id.as_str())
        .collect();
    let holder = |slot: u32| snapshot.slots.get(&slot);
    let free = (0..limit)
        .map(|i| (i + (spread % limit.max(1) as usize) as u32) % limit)
        .find(|&slot| holder(slot).is_none_or(|h| !active_ids.contains(h.as_str())));
    if let Some(slot) = free {
        return Ok(Plan {
            claim: SlotClaim::Free {
                slot,
                previous: holder(slot).cloned(),
            },
            also_end: victims.iter().map(|v| (*v).to_owned()).collect(),
        });
    }
    // Every slot is held by an active session, so at least one victim holds a slot (there are
    // `limit` holders and only `active - limit` non-holders, fewer than `excess`).
    let slot_of: HashMap<&str, u32> = (0..limit)
        .filter_map(|i| holder(i).map(|h| (h.as_str(), i)))
        .collect();
    let (victim, slot) = victims
        .iter()
        .copied()
        .chain(oldest_first.iter().map(|s| s.session_id.as_str()))
        .find_map(|v| slot_of.get(v).map(|slot| (v, *slot)))
        .ok_or_else(|| ApiError::internal("no slot to evict from"))?;
    Ok(Plan {
        claim: SlotClaim::Evict {
            slot,
            victim: victim.to_owned(),
        },
        also_end: victims
            .iter()
            .filter(|v| **v != victim)
            .map(|v| (*v).to_owned())
            .collect(),
    })
}

/// Reads the user's slots and active sessions (two reads, concurrently).
pub async fn snapshot(
    store: &Store,
    user_id: u64,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Snapshot, StoreError> {
    let (user, active) = tokio::try_join!(
        store.get_user_with_slots(user_id),
        store.active_sessions(user_id, now, policy)
    )?;
    let (credential_epoch, slots) = user
        .map(|(user, slots)| (user.credential_epoch, slots))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn active(ids: &[(&str, i64)]) -> Vec<ActiveSession> {
        ids.iter()
            .map(|(id, at)| ActiveSession {
                session_id: (*id).to_owned(),
                last_activity: *at,
            })
            .collect()
    }

    fn slots(pairs: &[(u32, &str)]) -> HashMap<u32, String> {
        pairs.iter().map(|(i, s)| (*i, (*s).to_owned())).collect()
    }

    #[test]
    fn below_the_limit_takes_an_empty_or_ended_slot() {
        let snap = Snapshot {
            credential_epoch: 0,
            slots: slots(&[(0, "a"), (1, "gone")]),
            active: active(&[("a", 10)]),
        };
        let p = plan(&snap, 3, SessionLimitAction::Refuse, 1).unwrap();
        assert_eq!(
            p.claim,
            SlotClaim::Free {
                slot: 1,
                previous: Some("gone".into())
            }
        );
        assert!(p.also_end.is_empty());
        let p = plan(&snap, 3, SessionLimitAction::Refuse, 2).unwrap();
        assert_eq!(
            p.claim,
            SlotClaim::Free {
                slot: 2,
                previous: None
            }
        );
    }

    #[test]
    fn at_the_limit_refuse_says_409_and_evict_ends_the_least_recently_active() {
        let snap = Snapshot {
            credential_epoch: 0,
            slots: slots(&[(0, "a"), (1, "b")]),
            active: active(&[("a", 20), ("b", 10)]),
        };
        let err = plan(&snap, 2, SessionLimitAction::Refuse, 0).unwrap_err();
        assert_eq!(err.code(), "session_limit_reached");
        let p = plan(&snap, 2, SessionLimitAction::Evict, 0).unwrap();
        assert_eq!(
            p.claim,
            SlotClaim::Evict {
                slot: 1,
                victim: "b".into()
            }
        );
        assert!(p.also_end.is_empty());
    }

    #[test]
    fn sessions_without_a_slot_count_and_are_ended_first_when_least_recent() {
        // The limit was switched on with four sessions already active.
        let snap = Snapshot {
            credential_epoch: 0,
            slots: HashMap::new(),
            active: active(&[("a", 40), ("b", 30), ("c", 20), ("d", 10)]),
        };
        let p = plan(&snap, 2, SessionLimitAction::Evict, 0).unwrap();
        assert_eq!(
            p.claim,
            SlotClaim::Free {
                slot: 0,
                previous: None
            }
        );
        assert_eq!(
            p.also_end,
            vec!["d".to_owned(), "c".to_owned(), "b".to_owned()]
        );
        assert!(plan(&snap, 2, SessionLimitAction::Refuse, 0).is_err());
    }

    #[test]
    fn a_full_set_of_slots_with_an_older_unslotted_session_evicts_a_holder() {
        let snap = Snapshot {
            credential_epoch: 0,
            slots: slots(&[(0, "a"), (1, "b")]),
            active: active(&[("a", 40), ("b", 30), ("old", 5)]),
        };
        let p = plan(&snap, 2, SessionLimitAction::Evict, 0).unwrap();
        // Two must go: the unslotted "old" and "b", whose slot the new session takes.
        assert_eq!(
            p.claim,
            SlotClaim::Evict {
                slot: 1,
                victim: "b".into()
            }
        );
        assert_eq!(p.also_end, vec!["old".to_owned()]);
    }
}
