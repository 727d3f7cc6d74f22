//! `DELETE /sessions?scope=others`: ends all of the caller's sessions but the current one and
//! returns how many (`{"revoked": n}`). Needs a recent sign-in. The user's credential epoch
//! moves forward with the current session carried into it, in one transaction: every other
//! session, idle ones and sign-ins in flight included, is over once it commits; they are then
//! marked ended for the listings.

use crate::AppState;
use crate::audit;
use crate::auth::{require_recent_auth, require_user};
use crate::domain::EndReason;
use crate::domain::time::now_epoch;
use crate::end_all::end_other_sessions;
use crate::error::ApiError;
use crate::http::{Revoked, expect_method};
use crate::http::{client_ip, json};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    require_recent_auth(&caller, now, state.config.auth.reauth_max_age_seconds)?;
    let scope = req
        .query_string_parameters_ref()
        .and_then(|q| q.all("scope"))
        .unwrap_or_default();
    if scope != ["others"] {
        return Err(ApiError::bad_request(
            "scope=others is required (use POST /auth/logout to end the current session)",
            "invalid_scope",
        ));
    }
    let raced = ApiError::Conflict {
        detail: "Your sessions changed at the same moment; try again.",
        code: "sessions_changed_concurrently",
    };
    let revoked =
        end_other_sessions(store, &caller, None, EndReason::User, raced, now, policy).await?;
    audit::sessions_ended(
        bearer.user_id,
        bearer.user_id,
        None,
        revoked,
        EndReason::User,
        &client_ip(&req, &state.config),
    );
    json(StatusCode::OK, &Revoked { revoked })
}
