//! Domain events: what a change to a stored session, user or sign-in counter means, decided
//! from the item before and after the change (a DynamoDB stream record's two images), never
//! from the request that made it. So an event cannot be lost between a write and a publish:
//! the write is the event. `docs/events.md` is the published schema (version
//! [`SCHEMA_VERSION`]).

use super::end_reason::{EndReason, EndedBy};
use super::ids::UserId;
use super::risk::RiskFlag;
use super::session::{Location, Session};
use super::user::User;
use serde::Serialize;
use serde_json::{Value, json};

/// The version of every event's shape; bumped on any change that is not a new optional field.
pub const SCHEMA_VERSION: u32 = 1;

/// Who made a change, as events say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The user themselves, an administrator, or the service.
    #[serde(rename = "type")]
    pub kind: EndedBy,
    /// The acting user's id; none for the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
}

impl Actor {
    /// The service itself.
    pub const SYSTEM: Self = Self {
        kind: EndedBy::System,
        user_id: None,
    };

    /// The actor recorded as user id `by` on a change to `user_id`'s data.
    fn recorded(user_id: u64, by: Option<u64>) -> Self {
        match by.and_then(UserId::new) {
            Some(b) if b.get() == user_id => Self {
                kind: EndedBy::User,
                user_id: Some(b),
            },
            Some(b) => Self {
                kind: EndedBy::Admin,
                user_id: Some(b),
            },
            None => Self::SYSTEM,
        }
    }
}

/// One thing that happened, before it gets its id and time (see the `events` module).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// `session.created`, `session.ended`, ... (see `docs/events.md`).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The user it happened to, where known (a throttled sign-in names only an email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The session it happened to, for `session.*` events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Who did it.
    pub actor: Actor,
    /// The type's own fields.
    pub data: Value,
}

impl Occurrence {
    fn session(kind: &'static str, s: &Session, actor: Actor, data: Value) -> Self {
        Self {
            kind,
            user_id: Some(s.user_id),
            session_id: Some(s.session_id.clone()),
            actor,
            data,
        }
    }

    fn user(kind: &'static str, u: &User, actor: Actor, data: Value) -> Self {
        Self {
            kind,
            user_id: Some(u.user_id),
            session_id: None,
            actor,
            data,
        }
    }
}

fn location(l: &Option<Location>) -> Value {
    match l {
        Some(l) => json!({"country": l.country, "region": l.region, "city": l.city}),
        None => Value::Null,
    }
}

/// The events of one change to a session item (`old` before, `new` after; none for a
/// creation or a deletion).
pub fn of_session(old: Option<&Session>, new: Option<&Session>) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let Some(new) = new else {
        // Removed by TTL after retention: it ended long ago and said so then.
        return out;
    };
    let Some(old) = old else {
        // An item that arrives ended (copied from an older table) started nothing now.
        if new.revoked_at.is_some() {
            return out;
        }
        out.push(Occurrence::session(
            "session.created",
            new,
            Actor::recorded(new.user_id.get(), Some(new.user_id.get())),
            json!({
                "device_type": new.device_type,
                "device_name": new.device_name,
                "browser": new.browser,
                "os": new.os,
                "ip_address": new.ip_address,
                "location": location(&new.location),
                "amr": new.amr,
            }),
        ));
        return out;
    };
    if old.revoked_at.is_none()
        && let Some(at) = new.revoked_at
    {
        let reason = new.revoked_reason;
        let ended_by = EndedBy::of(new.user_id.get(), reason, new.revoked_by);
        let actor = match ended_by {
            EndedBy::System => Actor::SYSTEM,
            kind => Actor {
                kind,
                user_id: new.revoked_by.and_then(UserId::new),
            },
        };
        let reason = reason.map(EndReason::as_str);
        out.push(Occurrence::session(
            "session.ended",
            new,
            actor,
            json!({"reason": reason, "ended_by": ended_by, "ended_at": super::time::rfc3339(at)}),
        ));
        if new.revoked_reason == Some(EndReason::RefreshTokenReuse) {
            out.push(Occurrence::session(
                "session.theft_detected",
                new,
                Actor::SYSTEM,
                json!({"ip_address": new.ip_address, "location": location(&new.location)}),
            ));
        }
    }
    if old.reported_at.is_none()
        && let Some(at) = new.reported_at
    {
        out.push(Occurrence::session(
            "session.reported",
            new,
            Actor::recorded(new.user_id.get(), Some(new.user_id.get())),
            json!({
                "reported_at": super::time::rfc3339(at),
                "ip_address": new.ip_address,
                "device_type": new.device_type,
                "browser": new.browser,
                "os": new.os,
                // Where it signed in (what its alert said), not where it last refreshed.
                "location": location(&new.signin_location.clone().or_else(|| new.location.clone())),
            }),
        ));
    }
    let added: Vec<RiskFlag> = new
        .risk_flags
        .iter()
        .filter(|f| !old.risk_flags.contains(f))
        .copied()
        .collect();
    if added.contains(&RiskFlag::LocationChanged) {
        out.push(Occurrence::session(
            "session.location_changed",
            new,
            Actor::SYSTEM,
            json!({
                "from": location(&new.signin_location),
                "to": location(&new.location),
                "ip_address": new.ip_address,
            }),
        ));
    }
    if !added.is_empty() {
        out.push(Occurrence::session(
            "session.risk_flagged",
            new,
            Actor::SYSTEM,
            json!({"added": added, "flags": new.risk_flags}),
        ));
    }
    out
}

/// The events of one change to a user item.
pub fn of_user(old: Option<&User>, new: Option<&User>) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let Some(new) = new else {
        return out;
    };
    let actor = Actor::recorded(new.user_id.get(), new.changed_by);
    let Some(old) = old else {
        // A sign-up records the user; the operator's CLI and demo data record no one.
        out.push(Occurrence::user(
            "user.created",
            new,
            actor,
            json!({"role": new.role}),
        ));
        return out;
    };
    if old.password_hash.is_some()
        && old.password_hash != new.password_hash
        && new.password_hash.is_some()
    {
        out.push(Occurrence::user(
            "user.password_changed",
            new,
            actor,
            json!({}),
        ));
    }
    if old.disabled != new.disabled {
        let kind = if new.disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        out.push(Occurrence::user(kind, new, actor, json!({})));
    }
    if old.role != new.role {
        out.push(Occurrence::user(
            "user.role_changed",
            new,
            actor,
            json!({"from": old.role, "to": new.role}),
        ));
    }
    if old.mfa_enabled != new.mfa_enabled {
        let kind = if new.mfa_enabled {
            "user.mfa_enabled"
        } else {
            "user.mfa_disabled"
        };
        out.push(Occurrence::user(kind, new, actor, json!({})));
    }
    if new.credential_epoch > old.credential_epoch {
        let reason = new.epoch_reason.map(EndReason::as_str);
        out.push(Occurrence::user(
            "user.sessions_ended",
            new,
            actor,
            json!({"reason": reason, "ended_by": actor.kind}),
        ));
    }
    out
}

/// One of the sign-in throttle's counters (an item of the emails table whose key starts
/// `throttle `), as far as events read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ThrottleCounter {
    /// `throttle <email>` (per account) or `throttle <email> <network>` (per client).
    pub email: String,
    /// Attempts counted in the current window.
    #[serde(default)]
    pub attempts: u32,
    /// When the counter first refused an attempt in its current window (Unix seconds); absent
    /// until it does.
    #[serde(default)]
    pub blocked_at: Option<i64>,
}

/// The events of one change to a throttle counter: `signin.throttled` when it refuses its first
/// attempt of a window (a full counter whose owner then signs in, clearing it, was never
/// throttled).
pub fn of_throttle(
    old: Option<&ThrottleCounter>,
    new: Option<&ThrottleCounter>,
) -> Vec<Occurrence> {
    let Some(new) = new else {
        return Vec::new();
    };
    if new.blocked_at.is_none() || old.is_some_and(|o| o.blocked_at.is_some()) {
        return Vec::new();
    }
    let Some(rest) = new.email.strip_prefix("throttle ") else {
        return Vec::new();
    };
    let (email, scope) = match rest.split_once(' ') {
        Some((email, _network)) => (email, "client"),
        None => (rest, "account"),
    };
    vec![Occurrence {
        kind: "signin.throttled",
        user_id: None,
        session_id: None,
        actor: Actor::SYSTEM,
        data: json!({"email": email, "scope": scope, "attempts": new.attempts}),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::session::tests::session;
    use crate::domain::user::Role;

    fn kinds(events: &[Occurrence]) -> Vec<&'static str> {
        events.iter().map(|e| e.kind).collect()
    }

    fn user() -> User {
        serde_json::from_value(json!({
            "user_id": 74, "email": "jane@example.com", "display_name": "Jane", "role": "user",
            "password_hash": "old", "created_at": 0,
        }))
        .unwrap()
    }

    #[test]
    fn a_session_ends_once_and_a_refresh_or_a_label_is_no_event() {
        let live = session();
        let mut refreshed = live.clone();
        refreshed.refresh_generation = 1;
        refreshed.last_activity += 60;
        refreshed.label = Some("work".into());
        assert!(of_session(Some(&live), Some(&refreshed)).is_empty());
        let mut ended = refreshed.clone();
        ended.revoked_at = Some(ended.last_activity);
        ended.revoked_by = Some(1);
        ended.revoked_reason = Some(EndReason::Admin);
        let events = of_session(Some(&refreshed), Some(&ended));
        assert_eq!(kinds(&events), ["session.ended"]);
        assert_eq!(events[0].actor.kind, EndedBy::Admin);
        assert_eq!(events[0].actor.user_id, UserId::new(1));
        // Marked again (the sweep after an admin's end): no second event.
        assert!(of_session(Some(&ended), Some(&ended)).is_empty());
        // Deleted by TTL: no event.
        assert!(of_session(Some(&ended), None).is_empty());
    }

    #[test]
    fn a_sign_in_reported_as_not_theirs_ends_by_the_user_and_is_told_once() {
        let live = session();
        let mut reported = live.clone();
        reported.revoked_at = Some(live.last_activity);
        reported.revoked_by = Some(live.user_id.get());
        reported.revoked_reason = Some(EndReason::Reported);
        reported.reported_at = Some(live.last_activity);
        let events = of_session(Some(&live), Some(&reported));
        assert_eq!(kinds(&events), ["session.ended", "session.reported"]);
        assert_eq!(events[0].data["reason"], "reported");
        assert_eq!(events[1].actor.kind, EndedBy::User);
        // Reported after another end: only the report is new.
        let mut ended = live.clone();
        ended.revoked_at = Some(live.last_activity);
        ended.revoked_reason = Some(EndReason::Logout);
        let mut later = ended.clone();
        later.reported_at = Some(live.last_activity + 5);
        assert_eq!(
            kinds(&of_session(Some(&ended), Some(&later))),
            ["session.reported"]
        );
        assert!(of_session(Some(&later), Some(&later)).is_empty());
    }

    #[test]
    fn a_report_names_where_the_session_signed_in_not_where_it_refreshed() {
        let place = |country: &str| Location {
            country: country.to_owned(),
            region: None,
            city: None,
            latitude: None,
            longitude: None,
        };
        let mut live = session();
        live.signin_location = Some(place("DE"));
        live.location = Some(place("FR"));
        let mut reported = live.clone();
        reported.reported_at = Some(live.last_activity);
        let events = of_session(Some(&live), Some(&reported));
        assert_eq!(events[0].data["location"]["country"], "DE");
        // A session from before signin_location: its only place.
        live.signin_location = None;
        reported.signin_location = None;
        let events = of_session(Some(&live), Some(&reported));
        assert_eq!(events[0].data["location"]["country"], "FR");
    }

    #[test]
    fn only_flags_a_refresh_adds_are_told() {
        let mut before = session();
        before.risk_flags = vec![RiskFlag::BrowserChanged];
        let mut after = before.clone();
        after.risk_flags = vec![RiskFlag::BrowserChanged, RiskFlag::LocationChanged];
        let events = of_session(Some(&before), Some(&after));
        assert_eq!(
            kinds(&events),
            ["session.location_changed", "session.risk_flagged"]
        );
        assert_eq!(events[1].data["added"], json!(["location_changed"]));
        assert!(of_session(Some(&after), Some(&after)).is_empty());
    }

    #[test]
    fn user_changes_name_their_actor_and_a_sign_in_alone_is_no_event() {
        let old = user();
        let mut signed_in = old.clone();
        signed_in.known_networks = vec!["n".into()];
        assert!(of_user(Some(&old), Some(&signed_in)).is_empty());

        let mut changed = old.clone();
        changed.password_hash = Some("new".into());
        changed.credential_epoch = 1;
        changed.changed_by = Some(74);
        changed.epoch_reason = Some(EndReason::PasswordChanged);
        let events = of_user(Some(&old), Some(&changed));
        assert_eq!(
            kinds(&events),
            ["user.password_changed", "user.sessions_ended"]
        );
        assert!(events.iter().all(|e| e.actor.kind == EndedBy::User));
        assert_eq!(events[1].data["reason"], "password_changed");

        let mut promoted = old.clone();
        promoted.role = Role::Admin;
        promoted.changed_by = Some(1);
        let events = of_user(Some(&old), Some(&promoted));
        assert_eq!(kinds(&events), ["user.role_changed"]);
        assert_eq!(events[0].actor.kind, EndedBy::Admin);
        assert_eq!(events[0].data, json!({"from": "user", "to": "admin"}));
    }

    #[test]
    fn a_throttle_counter_is_told_when_it_first_refuses_not_when_it_fills() {
        let counter = |key: &str, attempts, blocked_at| ThrottleCounter {
            email: key.into(),
            attempts,
            blocked_at,
        };
        let client = "throttle jane@example.com 192.0.2.1";
        assert!(of_throttle(None, Some(&counter(client, 1, None))).is_empty());
        // Full, but nothing refused yet (the last attempt may be the right one).
        let full = counter(client, 5, None);
        assert!(of_throttle(Some(&counter(client, 4, None)), Some(&full)).is_empty());
        let refused = counter(client, 5, Some(100));
        let events = of_throttle(Some(&full), Some(&refused));
        assert_eq!(kinds(&events), ["signin.throttled"]);
        assert_eq!(
            events[0].data,
            json!({"email": "jane@example.com", "scope": "client", "attempts": 5})
        );
        assert_eq!(events[0].user_id, None);
        // Once per window: later refusals, and a new window's reset, are quiet.
        assert!(of_throttle(Some(&refused), Some(&refused)).is_empty());
        assert!(of_throttle(Some(&refused), Some(&counter(client, 1, None))).is_empty());
        let account = "throttle jane@example.com";
        let events = of_throttle(
            Some(&counter(account, 50, None)),
            Some(&counter(account, 50, Some(100))),
        );
        assert_eq!(events[0].data["scope"], "account");
    }
}
