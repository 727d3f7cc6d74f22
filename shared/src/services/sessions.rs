//! What users do with their own sessions: list them, name them, end one, end all others,
//! sign out. Each ending is audited here, once, by the request that ended it.

use crate::AppState;
use crate::audit;
use crate::auth::Caller;
use crate::cursor::Position;
use crate::domain::UserId;
use crate::domain::session::clean_label;
use crate::domain::{Cutoffs, EndReason, Session, SessionId, SessionResponse};
use crate::error::ApiError;
use crate::store::{ActiveAt, EndOutcome, EpochChange, EpochRefusal, LabelOutcome, SessionPage};
use crate::tokens::Bearer;

/// The page a listing asks for.
#[derive(Debug, Clone, Copy)]
pub struct PageWanted<'a> {
    /// Page size.
    pub limit: usize,
    /// Whether ended and expired sessions are included.
    pub include_inactive: bool,
    /// Where the page starts.
    pub after: Option<&'a Position>,
}

/// One page of a listing: the sessions as the API shows them, and where the next page starts.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The sessions, most recent activity first.
    pub sessions: Vec<SessionResponse>,
    /// The page as read (its `next` position makes the cursor).
    pub page: SessionPage,
}

/// The page of sessions of `user_id`, shaped under `cutoffs` (`current` marks the caller's).
pub(crate) fn shape(
    state: &AppState,
    page: SessionPage,
    want: PageWanted<'_>,
    cutoffs: &Cutoffs,
    current: Option<&str>,
    now: i64,
) -> Listed {
    let policy = &state.config.sessions;
    let sessions = page
        .sessions
        .iter()
        .map(|s| s.to_response(now, policy, cutoffs, current))
        .filter(|s| want.include_inactive || s.is_active)
        .collect();
    Listed { sessions, page }
}

/// Reads a page of `user_id`'s sessions (only active ones unless `include_inactive`).
pub(crate) async fn read_page(
    state: &AppState,
    user_id: UserId,
    want: PageWanted<'_>,
    now: i64,
) -> Result<SessionPage, ApiError> {
    let active = (!want.include_inactive).then_some(ActiveAt {
        now,
        idle_timeout_seconds: state.config.sessions.idle_timeout_seconds,
    });
    Ok(state
        .store
        .list_sessions(user_id, active, want.limit, want.after)
        .await?)
}

/// Ends one session for `reason`, by `by`, and audits it if this call ended it (an already
/// ended one is not audited again).
pub(crate) async fn end_one(
    state: &AppState,
    (user_id, session_id): (UserId, &str),
    by: UserId,
    reason: EndReason,
    ip: &str,
    now: i64,
) -> Result<EndOutcome, ApiError> {
    let policy = &state.config.sessions;
    let outcome = state
        .store
        .end_session(user_id, session_id, by, reason, now, policy)
        .await?;
    if outcome == EndOutcome::Ended {
        audit::sessions_ended(by, user_id, Some(session_id), 1, reason, ip);
    }
    Ok(outcome)
}

/// The caller's own sessions: the caller is checked and the page read concurrently (one round
/// trip of latency); the page is shown only if the caller checks out.
pub async fn list_own(
    state: &AppState,
    bearer: &Bearer,
    want: PageWanted<'_>,
    now: i64,
) -> Result<Listed, ApiError> {
    let (caller, page) = tokio::join!(
        Caller::user(state, bearer, now),
        read_page(state, bearer.user_id, want, now)
    );
    let caller = caller?;
    let current = Some(caller.session.session_id.as_str());
    Ok(shape(state, page?, want, &caller.cutoffs, current, now))
}

/// The caller's own session as the listings show it (`is_current: true`).
pub fn current(state: &AppState, caller: &Caller, now: i64) -> SessionResponse {
    let session = &caller.session;
    let current = Some(session.session_id.as_str());
    session.to_response(now, &state.config.sessions, &caller.cutoffs, current)
}

/// Ends one of the caller's own sessions: the current one is a sign-out, any other needs a
/// recent sign-in (else an old stolen token could sign the owner out everywhere, one session at
/// a time). Another user's session id is a 404 and that session keeps working.
pub async fn end_own(
    state: &AppState,
    caller: &Caller,
    session: Result<SessionId, ApiError>,
    ip: &str,
    now: i64,
) -> Result<(), ApiError> {
    let current = session
        .as_ref()
        .is_ok_and(|s| s.as_str() == caller.session.session_id);
    if !current {
        caller.signed_in_recently(state, now)?;
    }
    let session_id = session?;
    let session_id = session_id.as_str();
    let reason = if current {
        EndReason::Logout
    } else {
        EndReason::User
    };
    let user_id = caller.user.user_id;
    // The key includes the caller's own user id: another user's session is simply not found.
    match end_one(state, (user_id, session_id), user_id, reason, ip, now).await? {
        EndOutcome::NotFound => Err(ApiError::session_not_found()),
        EndOutcome::Ended | EndOutcome::AlreadyEnded => Ok(()),
    }
}

/// Ends the caller's own session (sign-out). Ending an already ended one is not an error.
pub async fn sign_out(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    now: i64,
) -> Result<(), ApiError> {
    let (user_id, session_id) = (caller.user.user_id, caller.session.session_id.as_str());
    end_one(
        state,
        (user_id, session_id),
        user_id,
        EndReason::Logout,
        ip,
        now,
    )
    .await?;
    Ok(())
}

/// Ends every session of the caller's user but the caller's own ("sign out everywhere else"),
/// after a recent sign-in. Returns how many were active.
pub async fn end_others(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    now: i64,
) -> Result<usize, ApiError> {
    end_own_sessions(state, caller, true, ip, now).await
}

/// Signs the caller out everywhere, this session included: the user's credential epoch moves
/// forward with no session carried into it, in one conditional write, so every session of the
/// user (idle ones and sign-ins in flight included) is over once it commits; they are then
/// marked ended for the listings. Needs a recent sign-in, as ending others does: an old stolen
/// token gains no access from it, but must not sign the owner out everywhere either. Returns
/// how many were active.
pub async fn end_everywhere(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    now: i64,
) -> Result<usize, ApiError> {
    end_own_sessions(state, caller, false, ip, now).await
}

/// The caller's own "end all" (all others when `keep_current`, else all), audited.
async fn end_own_sessions(
    state: &AppState,
    caller: &Caller,
    keep_current: bool,
    ip: &str,
    now: i64,
) -> Result<usize, ApiError> {
    caller.signed_in_recently(state, now)?;
    let raced = ApiError::Conflict {
        detail: "Your sessions changed at the same moment; try again.",
        code: "sessions_changed_concurrently",
    };
    let (user_id, current) = (caller.user.user_id, caller.session.session_id.as_str());
    let (keep, reason) = match keep_current {
        true => (Some(current), EndReason::User),
        false => (None, EndReason::Logout),
    };
    let revoked = end_sessions(state, caller, (None, keep), reason, raced, now).await?;
    audit::sessions_ended(user_id, user_id, None, revoked, reason, ip);
    Ok(revoked)
}

/// Moves the caller's user to the next credential epoch with the caller's session carried
/// into it (and, for a password change, the new hash in the same transaction): from the moment
/// it commits no other session of the user is usable, idle ones and sign-ins in flight
/// included. Then marks the others ended for the listings; returns how many were active.
/// `raced` is the answer when another change of the user's credentials won.
pub(crate) async fn end_other_sessions(
    state: &AppState,
    caller: &Caller,
    password: Option<(&str, &str)>,
    reason: EndReason,
    raced: ApiError,
    now: i64,
) -> Result<usize, ApiError> {
    let keep = Some(caller.session.session_id.as_str());
    end_sessions(state, caller, (password, keep), reason, raced, now).await
}

/// The next credential epoch for the caller's user, with the new password hash and the session
/// to `keep` (if any) in the same transaction; then the sessions it superseded marked ended.
async fn end_sessions(
    state: &AppState,
    caller: &Caller,
    (password, keep): (Option<(&str, &str)>, Option<&str>),
    reason: EndReason,
    raced: ApiError,
    now: i64,
) -> Result<usize, ApiError> {
    let (store, policy) = (&state.store, &state.config.sessions);
    let user_id = caller.user.user_id;
    let change = EpochChange {
        reason,
        password,
        keep,
        admin: None,
    };
    let from = caller.user.credential_epoch;
    let epoch = match store
        .advance_epoch(user_id, from, change, now, policy)
        .await?
    {
        Ok(epoch) => epoch,
        Err(EpochRefusal::UserChanged | EpochRefusal::CallerNotAdmin) => return Err(raced),
        Err(EpochRefusal::KeptSessionEnded) => {
            return Err(ApiError::Unauthorized {
                detail: "The session has ended; sign in again.",
                code: "session_ended",
            });
        }
    };
    Ok(store
        .end_superseded_sessions(user_id, epoch, user_id, reason, now, policy)
        .await?)
}

/// Names (or, with `None`, un-names) one of the caller's active sessions. The label is
/// cleaned first (400 when too long); another user's session id is a 404, an ended session a
/// 409. Returns the session as it is now.
pub async fn rename(
    state: &AppState,
    caller: &Caller,
    session_id: &SessionId,
    label: Option<&str>,
    ip: &str,
    now: i64,
) -> Result<Session, ApiError> {
    let session_id = session_id.as_str();
    let label = clean_label(label).map_err(|max| {
        ApiError::bad_request(
            format!("label must be at most {max} characters"),
            "label_too_long",
        )
    })?;
    let user_id = caller.user.user_id;
    let policy = &state.config.sessions;
    // The key includes the caller's own user id: another user's session is simply not found.
    let session = match state
        .store
        .set_session_label(user_id, session_id, label.as_deref(), now, policy)
        .await?
    {
        LabelOutcome::Labelled(session) => session,
        LabelOutcome::NotFound => return Err(ApiError::session_not_found()),
        LabelOutcome::NotActive => {
            return Err(ApiError::Conflict {
                detail: "The session has ended; its label can no longer change.",
                code: "session_not_active",
            });
        }
    };
    audit::session_renamed(user_id, session_id, label.is_some(), ip);
    Ok(*session)
}

/// What following a "This wasn't me" link did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reported {
    /// The session the link named.
    pub session_id: String,
    /// Whether this request ended it (`false`: it had already ended, and is now marked).
    pub ended: bool,
    /// Always true: whoever signed in knew the password.
    pub password_change_required: bool,
    /// What the user should do next.
    pub detail: &'static str,
}

/// Follows a "This wasn't me" link ([`crate::tokens::link`]): ends exactly the session it
/// names, once, without a sign-in. An altered or foreign link is 400, an expired or used one
/// 410, a session gone from the table 404; none of them ends anything.
pub async fn report(
    state: &AppState,
    token: &str,
    ip: &str,
    now: i64,
) -> Result<Reported, ApiError> {
    use crate::store::ReportOutcome;
    use crate::tokens::link::LinkError;
    let link = state.link_key()?.verify(token, now).map_err(|e| match e {
        LinkError::Invalid => ApiError::bad_request(
            "The link is not valid. Use the link from the message as it is.",
            "invalid_link",
        ),
        LinkError::Expired => ApiError::Gone {
            detail: "The link has expired. Sign in and end the session from your session list.",
            code: "link_expired",
        },
    })?;
    let (user_id, session_id) = (link.user_id, link.session_id.as_str());
    let outcome = state
        .store
        .report_session(user_id, session_id, now, &state.config.sessions)
        .await?;
    let ended = match outcome {
        ReportOutcome::Ended => true,
        ReportOutcome::AlreadyEnded => false,
        ReportOutcome::AlreadyReported => {
            return Err(ApiError::Gone {
                detail: "The link has already been used.",
                code: "link_used",
            });
        }
        ReportOutcome::NotFound => return Err(ApiError::session_not_found()),
    };
    if ended {
        audit::sessions_ended(
            user_id,
            user_id,
            Some(session_id),
            1,
            EndReason::Reported,
            ip,
        );
    }
    audit::session_reported(user_id, session_id, ended, ip);
    Ok(Reported {
        session_id: session_id.to_owned(),
        ended,
        password_change_required: true,
        detail: "That session has ended. Change your password now: whoever signed in knows it.",
    })
}
