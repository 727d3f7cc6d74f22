//! `POST /auth/logout`: ends the current session (204). Its access token and refresh token
//! stop working on their next use.

use crate::AppState;
use crate::audit;
use crate::auth::require_user;
use crate::domain::EndReason;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, empty};
use crate::store::EndOutcome;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    let session_id = &caller.session.session_id;
    let outcome = store
        .end_session(
            bearer.user_id,
            session_id,
            bearer.user_id,
            EndReason::Logout,
            now,
            policy,
        )
        .await?;
    if outcome == EndOutcome::Ended {
        audit::sessions_ended(
            bearer.user_id,
            bearer.user_id,
            Some(session_id),
            1,
            EndReason::Logout,
            &client_ip(&req, &state.config),
        );
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
