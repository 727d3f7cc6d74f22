//! `DELETE /sessions/{session_id}`: ends one of the caller's own sessions (204). Ending the
//! current session is a sign-out; ending another one needs a recent sign-in, like ending all
//! of them (else an old stolen token could sign the owner out everywhere, one session at a
//! time). Another user's session id is a 404 and that session keeps working.

use crate::AppState;
use crate::audit;
use crate::auth::{require_recent_auth, require_user};
use crate::domain::EndReason;
use crate::domain::ids::is_session_id;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, empty, path_param};
use crate::store::EndOutcome;
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
    let current = session_id == caller.session.session_id;
    if !current {
        require_recent_auth(&caller, now, state.config.auth.reauth_max_age_seconds)?;
    }
    if !is_session_id(session_id) {
        return Err(ApiError::session_not_found());
    }
    let reason = if current {
        EndReason::Logout
    } else {
        EndReason::User
    };
    // The key includes the caller's own user id: another user's session is simply not found.
    let outcome = store
        .end_session(
            bearer.user_id,
            session_id,
            bearer.user_id,
            reason,
            now,
            policy,
        )
        .await?;
    if outcome == EndOutcome::NotFound {
        return Err(ApiError::session_not_found());
    }
    if outcome == EndOutcome::Ended {
        audit::sessions_ended(
            bearer.user_id,
            bearer.user_id,
            Some(session_id),
            1,
            reason,
            &client_ip(&req, &state.config),
        );
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
