//! `DELETE /sessions?scope=others`: ends all of the caller's sessions but the current one and
//! returns how many (`{"revoked": n}`). Needs a sign-in (or re-authentication) within
//! `REAUTH_MAX_AGE_SECONDS`.

use crate::AppState;
use crate::audit;
use crate::auth::{require_recent_auth, require_user};
use crate::error::ApiError;
use crate::handlers::{Revoked, expect_method};
use crate::http::{json, source_ip};
use crate::time::now_epoch;
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
    require_recent_auth(
        &caller.session,
        now,
        state.config.auth.reauth_max_age_seconds,
    )?;
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
    let current = caller.session.session_id.as_str();
    let revoked = store
        .end_all_sessions(
            bearer.user_id,
            Some(current),
            bearer.user_id,
            "user",
            now,
            policy,
        )
        .await?;
    audit::sessions_ended(
        bearer.user_id,
        bearer.user_id,
        None,
        revoked,
        "user_ended_others",
        &source_ip(&req),
    );
    json(StatusCode::OK, &Revoked { revoked })
}
