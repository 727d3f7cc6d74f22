//! `POST /auth/password`: the current password and a new one; by default every other session
//! ends (OWASP ASVS 5.0 7.4.3), the current one stays. Needs a sign-in (or re-authentication)
//! within `REAUTH_MAX_AGE_SECONDS`.

use crate::AppState;
use crate::audit;
use crate::auth::{require_recent_auth, require_user};
use crate::error::ApiError;
use crate::handlers::expect_method;
use crate::http::{json, json_body, source_ip};
use crate::passwords::check_password_policy;
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    current_password: String,
    new_password: String,
    #[serde(default = "yes")]
    revoke_other_sessions: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize)]
struct Changed {
    revoked_other_sessions: usize,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
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
    let body: ChangePasswordBody = json_body(&req)?;

    let current_hash = caller.user.password_hash.clone().unwrap_or_default();
    if !state
        .passwords
        .verify(&body.current_password, &current_hash)
    {
        return Err(ApiError::Forbidden {
            detail: "The current password is not correct.",
            code: "invalid_current_password",
        });
    }
    check_password_policy(&body.new_password)?;
    if body.new_password == body.current_password {
        return Err(ApiError::bad_request(
            "the new password must differ from the current one",
            "password_unchanged",
        ));
    }
    let new_hash = state.passwords.hash(&body.new_password)?;
    if !store
        .set_password_hash(bearer.user_id, &current_hash, &new_hash)
        .await?
    {
        return Err(ApiError::Conflict {
            detail: "The password was changed by another request; sign in again.",
            code: "password_changed_concurrently",
        });
    }
    let revoked = if body.revoke_other_sessions {
        store
            .end_all_sessions(
                bearer.user_id,
                Some(&caller.session.session_id),
                bearer.user_id,
                "password_changed",
                now,
                policy,
            )
            .await?
    } else {
        0
    };
    let ip = source_ip(&req);
    audit::password_changed(bearer.user_id, revoked, &ip);
    if revoked > 0 {
        audit::sessions_ended(
            bearer.user_id,
            bearer.user_id,
            None,
            revoked,
            "password_changed",
            &ip,
        );
    }
    json(
        StatusCode::OK,
        &Changed {
            revoked_other_sessions: revoked,
        },
    )
}
