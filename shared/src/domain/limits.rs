//! The concurrent session limit (`SESSION_LIMIT`): a user has at most that many active sessions.
//!
//! Each session started under the limit holds one of the user's numbered slots, recorded on the
//! user item. A sign-in takes a free slot (empty, or held by a session that has ended) or, under
//! the `evict` action, the slot of the least recently active session, which it ends in the same
//! transaction. The transaction only commits if the slot still has the holder the sign-in read,
//! so concurrent sign-ins can never share a slot: at most `SESSION_LIMIT` slot holders are active
//! at any moment. Sessions that hold no slot (started before the limit was switched on or
//! lowered) count too and are ended, least recently active first, by the next sign-in.

use std::collections::{HashMap, HashSet};

/// What a sign-in does when the user already has `SESSION_LIMIT` active sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLimitAction {
    /// End the least recently active session (reason `evicted`) and sign in.
    Evict,
    /// Refuse the sign-in with 409 `session_limit_reached`.
    Refuse,
}

/// An active session as the session limit sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// The session id.
    pub session_id: String,
    /// Unix seconds.
    pub last_activity: i64,
}

/// How a new session takes its slot under the session limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotClaim {
    /// The slot is empty, or its holder has ended (checked again inside the transaction).
    Free {
        /// The slot number.
        slot: u32,
        /// The session that held it, if any.
        previous: Option<String>,
    },
    /// The slot's holder is active and is ended (reason `evicted`) in the same transaction.
    Evict {
        /// The slot number.
        slot: u32,
        /// The session ended to make room.
        victim: String,
    },
}

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

/// Why no plan could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
    /// The `refuse` action at the limit.
    LimitReached,
    /// The snapshot contradicts itself (every slot held by an active session, yet none of
    /// them to end): a bug, never the caller's fault.
    NoSlotToEvict,
}

/// Decides where a new session goes. `spread` picks among free slots so that concurrent
/// sign-ins rarely race for the same one.
pub fn plan(
    snapshot: &Snapshot,
    limit: u32,
    action: SessionLimitAction,
    spread: usize,
) -> Result<Plan, PlanError> {
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
        return Err(PlanError::LimitReached);
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
        .ok_or(PlanError::NoSlotToEvict)?;
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
        assert_eq!(err, PlanError::LimitReached);
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
