//! What administrators do: list a user's sessions, end one or all of them, disable, enable,
//! promote or demote a user. Every write is conditioned on the administrator still being one,
//! and every ending is audited here.

use crate::AppState;
use crate::audit;
use crate::auth::Caller;
use crate::domain::{Aal, Cutoffs, EndReason, Role, SessionId, User, UserId};
use crate::error::ApiError;
use crate::services::sessions::{Listed, PageWanted, end_one, read_page, shape};
use crate::store::{AdminToken, AdminUpdate, EndOutcome, EpochChange, EpochRefusal};
use crate::tokens::Bearer;

/// A page of `user_id`'s sessions for an administrator. The admin's session and user and the
/// target user are read in one consistent batch, concurrently with the page: one round trip of
/// latency. A session is listed as active only if its item, the target's credential epoch and
/// the global epoch all say so.
pub async fn list_sessions(
    state: &AppState,
    bearer: &Bearer,
    user_id: UserId,
    want: PageWanted<'_>,
    ip: &str,
    now: i64,
) -> Result<Listed, ApiError> {
    let (admin, page) = tokio::join!(
        Caller::admin(state, bearer, Some(user_id), now),
        read_page(state, user_id, want, now),
    );
    let admin = admin?;
    let target = admin.other.as_ref().ok_or_else(ApiError::user_not_found)?;
    let cutoffs = Cutoffs::of(target, admin.cutoffs.global_epoch);
    let listed = shape(state, page?, want, &cutoffs, None, now);
    audit::admin_listing(
        admin.user.user_id,
        &admin.session.session_id,
        user_id,
        listed.sessions.len(),
        want.include_inactive,
        ip,
    );
    Ok(listed)
}

/// Ends one session of `target` (the route's `{user_id}`, or why it is not one). The usual
/// case, valid input, is one transaction that authorises the admin (token, session, role,
/// recent sign-in, a second factor where required), records their activity and ends the session: one round trip. Otherwise the
/// reads say why, in the route's order of answers (401, 403, 401 for an old sign-in, 400, 404).
pub async fn end_session(
    state: &AppState,
    bearer: &Bearer,
    target: Result<UserId, ApiError>,
    session: Result<SessionId, ApiError>,
    ip: &str,
    now: i64,
) -> Result<(), ApiError> {
    let (store, policy) = (&state.store, &state.config.sessions);
    if let (Ok(user_id), Ok(session_id)) = (&target, &session) {
        let (user_id, session_id) = (*user_id, session_id.as_str());
        let token = AdminToken {
            user_id: bearer.user_id,
            session_id: &bearer.session_id,
            credential_epoch: bearer.credential_epoch,
            global_epoch: bearer.global_epoch,
            generation: bearer.generation,
            second_factor_required: state.config.auth.admin_requires_aal2,
        };
        let recent_since = now - state.config.auth.reauth_max_age_seconds;
        let outcome = store
            .admin_end_session(token, recent_since, user_id, session_id, now, policy)
            .await?;
        match outcome {
            Some(EndOutcome::NotFound) => return Err(ApiError::session_not_found()),
            Some(EndOutcome::AlreadyEnded) => return Ok(()),
            Some(EndOutcome::Ended) => {
                let (admin_id, reason) = (bearer.user_id, EndReason::Admin);
                audit::sessions_ended(admin_id, user_id, Some(session_id), 1, reason, ip);
                return Ok(());
            }
            None => {}
        }
    }
    let admin = Caller::admin(state, bearer, None, now).await?;
    admin.signed_in_recently(state, now)?;
    let user_id = target?;
    let session_id = session?;
    let session_id = session_id.as_str();
    let admin_id = admin.user.user_id;
    let reason = EndReason::Admin;
    match end_one(state, (user_id, session_id), admin_id, reason, ip, now).await? {
        EndOutcome::NotFound => Err(ApiError::session_not_found()),
        EndOutcome::Ended | EndOutcome::AlreadyEnded => Ok(()),
    }
}

/// Ends every session of `target` at once by moving the user's credential epoch (conditioned
/// on the caller still being an active admin), then marks them ended for the listings. Returns
/// how many were active.
pub async fn end_all_sessions(
    state: &AppState,
    bearer: &Bearer,
    target: Result<UserId, ApiError>,
    ip: &str,
    now: i64,
) -> Result<usize, ApiError> {
    let (store, policy) = (&state.store, &state.config.sessions);
    let other = target.as_ref().ok().copied();
    let admin = Caller::admin(state, bearer, other, now).await?;
    admin.signed_in_recently(state, now)?;
    let user_id = target?;
    let admin_id = admin.user.user_id;
    let mut from = admin
        .other
        .as_ref()
        .ok_or_else(ApiError::user_not_found)?
        .credential_epoch;
    let mut epoch = None;
    for _ in 0..3 {
        let change = EpochChange {
            reason: EndReason::Admin,
            password: None,
            keep: None,
            admin: Some(admin_id),
        };
        match store
            .advance_epoch(user_id, from, change, now, policy)
            .await?
        {
            Ok(next) => {
                epoch = Some(next);
                break;
            }
            Err(EpochRefusal::CallerNotAdmin) => return Err(ApiError::no_longer_admin()),
            // Changed meanwhile (or gone): read again and try once more.
            Err(_) => {
                let user = store
                    .get_user(user_id)
                    .await?
                    .ok_or_else(ApiError::user_not_found)?;
                from = user.credential_epoch;
            }
        }
    }
    let epoch = epoch.ok_or_else(|| ApiError::internal("the credential epoch kept moving"))?;
    let reason = EndReason::Admin;
    let revoked = store
        .end_superseded_sessions(user_id, epoch, admin_id, reason, now, policy)
        .await?;
    audit::sessions_ended(admin_id, user_id, None, revoked, reason, ip);
    Ok(revoked)
}

/// What an administrator changes about a user.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserChange {
    /// The new role, if it changes.
    pub role: Option<Role>,
    /// Disable (`true`) or enable (`false`), if it changes.
    pub disabled: Option<bool>,
    /// Remove the user's second factor (they lost it): needs the admin's own session at aal2.
    pub remove_second_factor: bool,
}

impl UserChange {
    /// Whether this change, made by an admin to themselves, would lock them out.
    fn locks_out(&self) -> bool {
        self.disabled == Some(true) || self.role == Some(Role::User) || self.remove_second_factor
    }
}

/// Applies `change` to `target` (the route's `{user_id}`, or why it is not one). The change
/// must change something; an admin cannot disable or demote themselves, or remove their own
/// second factor (the harmless changes of oneself are allowed); removing a user's second
/// factor (they lost it) needs the admin's own session at aal2, whatever the policy. The caller's own admin rights are a condition of the write: two
/// admins demoting or disabling each other at once cannot both succeed. Disabling moves the
/// user's credential epoch, so every session is over at once; they are then marked ended.
/// Returns the user as it is now and how many sessions that ended.
pub async fn update_user(
    state: &AppState,
    admin: &Caller,
    target: Result<UserId, ApiError>,
    change: UserChange,
    ip: &str,
    now: i64,
) -> Result<(User, usize), ApiError> {
    if change.role.is_none() && change.disabled.is_none() && !change.remove_second_factor {
        let detail = "give at least one of disabled, role, mfa_enabled (false)";
        return Err(ApiError::bad_request(detail, "invalid_body"));
    }
    if change.remove_second_factor && admin.session.aal() < Aal::Aal2 {
        return Err(ApiError::Forbidden {
            detail: "Removing a user's second factor needs your own sign-in with a second \
                     factor (aal2).",
            code: "mfa_required",
        });
    }
    let own = target.as_ref().is_ok_and(|t| *t == admin.user.user_id);
    if own && change.locks_out() {
        return Err(ApiError::bad_request(
            "Administrators cannot disable, demote or remove the second factor of themselves.",
            "cannot_modify_self",
        ));
    }
    let user_id = target?;
    let (store, policy) = (&state.store, &state.config.sessions);
    let admin_id = admin.user.user_id;
    match store
        .update_user_as_admin(
            admin_id,
            user_id,
            change.role,
            change.disabled,
            change.remove_second_factor,
        )
        .await?
    {
        AdminUpdate::Updated => {}
        AdminUpdate::CallerNotAdmin => return Err(ApiError::no_longer_admin()),
        AdminUpdate::NotFound => return Err(ApiError::user_not_found()),
    }
    let user = store
        .get_user(user_id)
        .await?
        .ok_or_else(ApiError::user_not_found)?;
    let role = change
        .role
        .map(|r| if r == Role::Admin { "admin" } else { "user" });
    audit::user_updated(admin_id, user_id, role, change.disabled, ip);
    if change.remove_second_factor {
        audit::second_factor_removed(admin_id, user_id, ip);
    }
    if change.disabled != Some(true) {
        return Ok((user, 0));
    }
    let reason = EndReason::UserDisabled;
    let revoked = store
        .end_superseded_sessions(
            user_id,
            user.credential_epoch,
            admin_id,
            reason,
            now,
            policy,
        )
        .await?;
    audit::sessions_ended(admin_id, user_id, None, revoked, reason, ip);
    Ok((user, revoked))
}
