//! `GET /users/{user_id}/activity`: an admin reads a user's activity history (the domain
//! events about them, `docs/events.md`), newest first, paged like the session listings.
//!
//! Order of answers, as for the sessions listing: 401 (no, bad or expired token, or an ended
//! session) before 403 (not an admin now) before 400 (bad `user_id`, the admin's own id, bad
//! query) and 404 (no such user). The admin's session and user and the target user are read in
//! one consistent batch, concurrently with the page: one round trip of latency.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::{Caller, input_after};
use shared::domain::UserId;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::paging::ListQuery;
use shared::http::{client_ip, expect_method, target_user_id};
use shared::services::activity;

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "admin-activity";

/// The path and query, valid: the user asked about and the page.
fn validate(
    state: &AppState,
    req: &Request,
    caller: UserId,
) -> Result<(UserId, ListQuery), ApiError> {
    let hint = "Use GET /me/activity for your own activity.";
    let user_id = target_user_id(req, caller, hint)?;
    let query = ListQuery::parse_history(req, CURSOR_SCOPE, user_id, state.cursors()?)?;
    Ok((user_id, query))
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let now = now_epoch();
    // Authenticate without I/O; a bad request is answered only once the caller is an admin.
    let bearer = state.verifier.verify_headers(req.headers())?;
    let input = validate(state, &req, bearer.user_id);
    let (user_id, query) = input_after(Caller::admin(state, &bearer, None, now), input).await?;
    let ip = client_ip(&req, &state.config);
    let page = (query.limit, query.after_entry());
    let listed = activity::for_admin(state, &bearer, user_id, page, &ip, now).await?;
    query.respond(
        &req,
        &listed.entries,
        listed.next.as_ref(),
        state.cursors()?,
    )
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
