//! A user's activity history (the domain events about them, `docs/events.md`): the user's own,
//! and any user's for an administrator.

use crate::AppState;
use crate::audit;
use crate::auth::Caller;
use crate::cursor::Position;
use crate::domain::UserId;
use crate::domain::activity::ActivityResponse;
use crate::domain::end_reason::EndedBy;
use crate::error::ApiError;
use crate::store::ActivityPage;
use crate::tokens::Bearer;

/// A page of a history as the API returns it, and where the next one starts.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Newest first.
    pub entries: Vec<ActivityResponse>,
    /// The last entry's position, when there may be more.
    pub next: Option<Position>,
}

impl From<ActivityPage> for Listed {
    fn from(page: ActivityPage) -> Self {
        let next = match (&page.next, page.entries.last()) {
            (Some(at_id), Some(last)) => Some(Position {
                last_activity: last.time,
                session_id: at_id.clone(),
            }),
            _ => None,
        };
        Self {
            entries: page.entries.iter().map(ActivityResponse::from).collect(),
            next,
        }
    }
}

/// A page of `user_id`'s history for an administrator. The admin's session and user and the
/// target user are read in one consistent batch, concurrently with the page: one round trip of
/// latency; an unknown user is 404 whatever the page holds.
pub async fn for_admin(
    state: &AppState,
    bearer: &Bearer,
    user_id: UserId,
    (limit, after): (usize, Option<&str>),
    ip: &str,
    now: i64,
) -> Result<Listed, ApiError> {
    let (admin, page) = tokio::join!(
        Caller::admin(state, bearer, Some(user_id), now),
        state.store.activity_page(user_id, limit, after, now),
    );
    let admin = admin?;
    if admin.other.is_none() {
        return Err(ApiError::user_not_found());
    }
    let listed = Listed::from(page?);
    audit::admin_activity_listing(
        admin.user.user_id,
        &admin.session.session_id,
        user_id,
        listed.entries.len(),
        ip,
    );
    Ok(listed)
}

/// A page of the caller's own history: the caller checked, concurrently with the page. An
/// administrator who acted is shown as one, without their id (as the session listings say
/// `ended_by: admin`): a user's history is no directory of admin accounts.
pub async fn own(
    state: &AppState,
    bearer: &Bearer,
    (limit, after): (usize, Option<&str>),
    now: i64,
) -> Result<Listed, ApiError> {
    let (caller, page) = tokio::join!(
        Caller::user(state, bearer, now),
        state.store.activity_page(bearer.user_id, limit, after, now),
    );
    caller?;
    let mut listed = Listed::from(page?);
    for entry in &mut listed.entries {
        if entry.actor.kind == EndedBy::Admin {
            entry.actor.user_id = None;
        }
    }
    Ok(listed)
}
