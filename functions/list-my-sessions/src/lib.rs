//! `GET /sessions`: the caller's own sessions, in the admin listing's shape and paging, with
//! `is_current` marking the session of the token.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::{Caller, input_after};
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::expect_method;
use shared::http::paging::ListQuery;
use shared::services::sessions;

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "self";

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let now = now_epoch();
    let bearer = state.verifier.verify_headers(req.headers())?;
    let cursors = state.cursors()?;
    let query = ListQuery::parse(&req, CURSOR_SCOPE, bearer.user_id, cursors);
    let query = input_after(Caller::user(state, &bearer, now), query).await?;
    let listed = sessions::list_own(state, &bearer, query.wanted(), now).await?;
    query.respond(&req, &listed.sessions, listed.page.next.as_ref(), cursors)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
