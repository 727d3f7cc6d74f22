//! `DELETE /sessions/user/{user_id}/{session_id}`: an admin ends one session of a user (204).
//! Same order of answers as the admin listing: 401, 403, then 400 / 404, and like every end of
//! a session but one's own current one it needs a recent sign-in (401
//! `reauthentication_required`, after the admin check). With valid input it takes one round
//! trip: see [`crate::store::Store::admin_end_session`].

use crate::AppState;
use crate::audit;
use crate::auth::{require_admin, require_recent_auth};
use crate::domain::EndReason;
use crate::domain::ids::is_session_id;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::{client_ip, empty, path_param};
use crate::http::{expect_method, target_user_id};
use crate::store::{AdminToken, EndOutcome};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let max_age = state.config.auth.reauth_max_age_seconds;
    let now = now_epoch();

    // The usual case, valid input: one transaction authorises the admin, records their
    // activity and ends the session (one round trip).
    let target = target_user_id(&req, bearer.user_id, "")
        .ok()
        .filter(|_| is_session_id(path_param(&req, "session_id")));
    if let Some(user_id) = target {
        let session_id = path_param(&req, "session_id");
        let token = AdminToken {
            user_id: bearer.user_id,
            session_id: &bearer.session_id,
            credential_epoch: bearer.credential_epoch,
            global_epoch: bearer.global_epoch,
            generation: bearer.generation,
        };
        let outcome = store
            .admin_end_session(token, now - max_age, user_id, session_id, now, policy)
            .await?;
        if let Some(outcome) = outcome {
            return respond(state, &req, bearer.user_id, user_id, session_id, outcome);
        }
    }

    // Otherwise the reads say why, in the route's order of answers.
    let admin = require_admin(store, &bearer, None, now, policy).await?;
    require_recent_auth(&admin, now, max_age)?;
    let user_id = target_user_id(
        &req,
        bearer.user_id,
        "Use DELETE /sessions/{session_id} for your own sessions.",
    )?;
    let session_id = path_param(&req, "session_id");
    if !is_session_id(session_id) {
        return Err(ApiError::session_not_found());
    }
    let outcome = store
        .end_session(
            user_id,
            session_id,
            admin.user.user_id,
            EndReason::Admin,
            now,
            policy,
        )
        .await?;
    respond(
        state,
        &req,
        admin.user.user_id,
        user_id,
        session_id,
        outcome,
    )
}

/// 204 for an ended (or already ended) session, 404 for none. Only a session this request
/// ended is audited as ended.
fn respond(
    state: &AppState,
    req: &Request,
    admin_id: u64,
    user_id: u64,
    session_id: &str,
    outcome: EndOutcome,
) -> Result<Response<Body>, ApiError> {
    match outcome {
        EndOutcome::NotFound => Err(ApiError::session_not_found()),
        EndOutcome::AlreadyEnded => Ok(empty(StatusCode::NO_CONTENT)),
        EndOutcome::Ended => {
            audit::sessions_ended(
                admin_id,
                user_id,
                Some(session_id),
                1,
                EndReason::Admin,
                &client_ip(req, &state.config),
            );
            Ok(empty(StatusCode::NO_CONTENT))
        }
    }
}
