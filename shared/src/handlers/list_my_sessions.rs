//! `GET /sessions`: the caller's own sessions, in the admin listing's shape and paging, with
//! `is_current` marking the session of the token.

use crate::AppState;
use crate::auth::require_user;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::paging::ListQuery;
use crate::store::ActiveAt;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "self";

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let query = match ListQuery::parse(&req, CURSOR_SCOPE, bearer.user_id, state.cursors()?) {
        Ok(query) => query,
        Err(bad_input) => {
            require_user(store, &bearer, now, policy).await?;
            return Err(bad_input);
        }
    };
    let active = (!query.include_inactive).then_some(ActiveAt {
        now,
        idle_timeout_seconds: policy.idle_timeout_seconds,
    });
    let (caller, page) = tokio::join!(
        require_user(store, &bearer, now, policy),
        store.list_sessions(bearer.user_id, active, query.limit, query.after.as_ref()),
    );
    let caller = caller?;
    let page = page?;
    let current = Some(caller.session.session_id.as_str());
    let sessions: Vec<_> = page
        .sessions
        .iter()
        .map(|s| s.to_response(now, policy, &caller.cutoffs, current))
        .filter(|s| query.include_inactive || s.is_active)
        .collect();
    query.respond(&req, &sessions, &page, state.cursors()?)
}
