//! `DELETE /sessions/{session_id}`: ends one of the caller's own sessions (204). Another
//! user's session id is a 404 and that session keeps working; ending the current session is a
//! sign-out.

use crate::AppState;
use crate::audit;
use crate::auth::require_user;
use crate::error::ApiError;
use crate::handlers::{expect_method, session_not_found};
use crate::http::{empty, path_param, source_ip};
use crate::ids::is_session_id;
use crate::store::EndOutcome;
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    let session_id = path_param(&req, "session_id");
    if !is_session_id(session_id) {
        return Err(session_not_found());
    }
    let reason = if session_id == caller.session.session_id {
        "logout"
    } else {
        "user"
    };
    // The key includes the caller's own user id: another user's session is simply not found.
    match store
        .end_session(
            bearer.user_id,
            session_id,
            bearer.user_id,
            reason,
            now,
            policy,
        )
        .await?
    {
        EndOutcome::NotFound => Err(session_not_found()),
        EndOutcome::Ended | EndOutcome::AlreadyEnded => {
            audit::sessions_ended(
                bearer.user_id,
                bearer.user_id,
                Some(session_id),
                1,
                reason,
                &source_ip(&req),
            );
            Ok(empty(StatusCode::NO_CONTENT))
        }
    }
}
