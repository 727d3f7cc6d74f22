//! `DELETE /sessions/user/{user_id}/{session_id}`: an admin ends one session of a user (204).
//! Same order of answers as the admin listing: 401, 403, then 400 / 404, and like every end of
//! a session but one's own current one it needs a recent sign-in (401
//! `reauthentication_required`, after the admin check). With valid input it takes one round
//! trip: see [`shared::store::Store::admin_end_session`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, empty, expect_method, session_id_param, target_user_id};
use shared::services::admin;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let bearer = state.verifier.verify_headers(req.headers())?;
    let hint = "Use DELETE /sessions/{session_id} for your own sessions.";
    let target = target_user_id(&req, bearer.user_id, hint);
    let session = session_id_param(&req);
    let ip = client_ip(&req, &state.config);
    admin::end_session(state, &bearer, target, session, &ip, now).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
