//! `GET /sessions/user/{user_id}`: an admin lists a user's sessions.
//!
//! Order of answers, as the admin panel expects: 401 (no, bad or expired token, or an ended
//! session) before 403 (not an admin now) before 400 (bad `user_id`, the admin's own id, bad
//! query) and 404 (no such user). The admin's session and user and the target user are read in
//! one consistent batch, concurrently with the first page of sessions: one round trip of
//! latency. A session is listed as active only if its item, the target's credential epoch and
//! the global epoch all say so.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::{Caller, input_after};
use shared::domain::UserId;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::paging::ListQuery;
use shared::http::{client_ip, expect_method, target_user_id};
use shared::services::admin;

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "admin";

/// The path and query, valid: the user asked about and the page.
fn validate(
    state: &AppState,
    req: &Request,
    caller: UserId,
) -> Result<(UserId, ListQuery), ApiError> {
    let hint = "Use GET /sessions to list your own sessions.";
    let user_id = target_user_id(req, caller, hint)?;
    let query = ListQuery::parse(req, CURSOR_SCOPE, user_id, state.cursors()?)?;
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
    let listed = admin::list_sessions(state, &bearer, user_id, query.wanted(), &ip, now).await?;
    query.respond(
        &req,
        &listed.sessions,
        listed.page.next.as_ref(),
        state.cursors()?,
    )
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
