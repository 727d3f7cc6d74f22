//! `DELETE /sessions/user/{user_id}/{session_id}`: an admin ends one session of a user (204).
//! Same order of answers as the admin listing: 401, 403, then 400 / 404.

use crate::AppState;
use crate::audit;
use crate::auth::require_admin;
use crate::error::ApiError;
use crate::handlers::{expect_method, session_not_found, target_user_id};
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
    let admin = require_admin(store, &bearer, now, policy).await?;
    let user_id = target_user_id(
        &req,
        bearer.user_id,
        "Use DELETE /sessions/{session_id} for your own sessions.",
    )?;
    let session_id = path_param(&req, "session_id");
    if !is_session_id(session_id) {
        return Err(session_not_found());
    }
    match store
        .end_session(
            user_id,
            session_id,
            admin.user.user_id,
            "admin",
            now,
            policy,
        )
        .await?
    {
        EndOutcome::NotFound => Err(session_not_found()),
        EndOutcome::Ended | EndOutcome::AlreadyEnded => {
            audit::sessions_ended(
                admin.user.user_id,
                user_id,
                Some(session_id),
                1,
                "admin",
                &source_ip(&req),
            );
            Ok(empty(StatusCode::NO_CONTENT))
        }
    }
}
