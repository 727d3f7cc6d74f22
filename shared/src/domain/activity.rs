//! A user's activity history: one entry per domain event about them ([`super::event`]),
//! newest first, kept for a retention period, for admins (`GET /users/{user_id}/activity`) and
//! the user themselves (`GET /me/activity`).

use super::end_reason::EndedBy;
use super::event::Actor;
use super::ids::UserId;
use super::time::rfc3339;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One item of the activity table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Partition key.
    pub user_id: UserId,
    /// Sort key: the event's time (ten digits) and id, so entries sort by time, and an event
    /// delivered twice writes the same item.
    pub at_id: String,
    /// The event's id.
    pub id: String,
    /// The event's type (`session.created`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// When, Unix seconds.
    pub time: i64,
    /// The session it happened to, for `session.*` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `user`, `admin` or `system`.
    pub actor_type: EndedBy,
    /// The acting user, where one acted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_user_id: Option<u64>,
    /// The event's own fields.
    #[serde(default)]
    pub data: Value,
    /// DynamoDB TTL (Unix seconds).
    pub ttl: i64,
}

/// The sort key of an event at `time` with id `id`.
pub fn at_id(time: i64, id: &str) -> String {
    format!("{:010}#{id}", time.max(0))
}

/// An activity entry as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityResponse {
    /// The event's id.
    pub id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC 3339.
    pub time: String,
    /// The session it happened to, or null.
    pub session_id: Option<String>,
    /// Who did it.
    pub actor: Actor,
    /// The event's own fields (`docs/events.md`).
    pub data: Value,
}

impl From<&Activity> for ActivityResponse {
    fn from(a: &Activity) -> Self {
        Self {
            id: a.id.clone(),
            kind: a.kind.clone(),
            time: rfc3339(a.time),
            session_id: a.session_id.clone(),
            actor: Actor {
                kind: a.actor_type,
                user_id: a.actor_user_id.and_then(UserId::new),
            },
            data: a.data.clone(),
        }
    }
}
