//! `GET /me/activity`: the caller's own activity history (the domain events about them,
//! `docs/events.md`), newest first, paged like the session listings.

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::{Caller, input_after};
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::expect_method;
use shared::http::paging::ListQuery;
use shared::services::activity;

/// The scope cursors of this listing are bound to.
pub const CURSOR_SCOPE: &str = "self-activity";

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let now = now_epoch();
    let bearer = state.verifier.verify_headers(req.headers())?;
    let cursors = state.cursors()?;
    let query = ListQuery::parse_history(&req, CURSOR_SCOPE, bearer.user_id, cursors);
    let query = input_after(Caller::user(state, &bearer, now), query).await?;
    let page = (query.limit, query.after_entry());
    let listed = activity::own(state, &bearer, page, now).await?;
    query.respond(&req, &listed.entries, listed.next.as_ref(), cursors)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
