//! `GET /sessions/user/{user_id}`: an admin lists a user's sessions.
//!
//! Order of answers, as the admin panel expects: 401 (no, bad or expired token, or an ended
//! session) before 403 (not an admin now) before 400 (bad `user_id`, the admin's own id, bad
//! query) and 404 (no such user). The admin's session and user and the target user are read in
//! one consistent batch, concurrently with the first page of sessions: one round trip of
//! latency. A session is listed as active only if its item, the target's credential epoch and
//! the global epoch all say so.

use crate::AppState;
use crate::audit;
use crate::auth::require_admin;
use crate::domain::Cutoffs;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::client_ip;
use crate::http::paging::ListQuery;
use crate::store::ActiveAt;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "admin";

/// Validates the path and query. Only called after the token checked out; its error is
/// returned only after the caller proved to be an admin.
fn validate(state: &AppState, req: &Request, caller: u64) -> Result<(u64, ListQuery), ApiError> {
    let user_id =
        crate::http::target_user_id(req, caller, "Use GET /sessions to list your own sessions.")?;
    let query = ListQuery::parse(req, CURSOR_SCOPE, user_id, state.cursors()?)?;
    Ok((user_id, query))
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET {
        return Err(ApiError::MethodNotAllowed);
    }
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();

    // Authenticate: signature, claims and key, without I/O.
    let bearer = state.verifier.verify_headers(req.headers())?;

    // Validate; a bad request is answered only once the caller is known to be an admin.
    let (user_id, query) = match validate(state, &req, bearer.user_id) {
        Ok(valid) => valid,
        Err(bad_input) => {
            require_admin(store, &bearer, None, now, policy).await?;
            return Err(bad_input);
        }
    };

    // Authorise and read, concurrently.
    let active = (!query.include_inactive).then_some(ActiveAt {
        now,
        idle_timeout_seconds: policy.idle_timeout_seconds,
    });
    let (admin, page) = tokio::join!(
        require_admin(store, &bearer, Some(user_id), now, policy),
        store.list_sessions(user_id, active, query.limit, query.after.as_ref()),
    );
    let admin = admin?;
    let Some(target) = &admin.other else {
        return Err(ApiError::NotFound {
            detail: "User not found.",
            code: "user_not_found",
        });
    };
    let page = page?;
    let cutoffs = Cutoffs::of(target, admin.cutoffs.global_epoch);
    let sessions: Vec<_> = page
        .sessions
        .iter()
        .map(|s| s.to_response(now, policy, &cutoffs, None))
        .filter(|s| query.include_inactive || s.is_active)
        .collect();
    audit::admin_listing(
        admin.user.user_id,
        &admin.session.session_id,
        user_id,
        sessions.len(),
        query.include_inactive,
        &client_ip(&req, &state.config),
    );
    query.respond(&req, &sessions, &page, state.cursors()?)
}
