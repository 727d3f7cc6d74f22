//! `POST /auth/reauthenticate`: the signed-in user confirms their password
//! (`{"password": "..."}`); the current session's `auth_time` moves to now and a new access
//! token carrying it comes back. No new session, no new refresh token.
//!
//! A wrong password is a 403 (the session stays valid) and counts towards the same per-email
//! throttle as sign-in, so this route is no way around it: 429 with `Retry-After` once the
//! failures add up.

use crate::AppState;
use crate::audit;
use crate::auth::require_user;
use crate::error::ApiError;
use crate::handlers::expect_method;
use crate::http::{json, json_body, source_ip};
use crate::time::{now_epoch, rfc3339};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReauthenticateBody {
    password: String,
}

/// A fresh access token for the same session.
#[derive(Debug, Serialize)]
struct Reauthenticated {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    /// RFC 3339: when the password was confirmed.
    auth_time: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let auth = &state.config.auth;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    let body: ReauthenticateBody = json_body(&req)?;
    let ip = source_ip(&req);
    let email = &caller.user.email;
    let session_id = &caller.session.session_id;

    let throttle = store.login_throttle(email).await?;
    let window_end = throttle.and_then(|t| {
        t.blocked_until(
            auth.login_max_failures,
            auth.login_failure_window_seconds,
            now,
        )
    });
    if let Some(end) = window_end {
        audit::reauthentication_failed(bearer.user_id, session_id, &ip, "throttled");
        return Err(ApiError::TooManyRequests {
            retry_after_seconds: (end - now) as u64,
        });
    }
    let verified = caller
        .user
        .password_hash
        .as_deref()
        .is_some_and(|h| state.passwords.verify(&body.password, h));
    if !verified {
        store
            .record_login_failure(email, now, auth.login_failure_window_seconds)
            .await?;
        audit::reauthentication_failed(bearer.user_id, session_id, &ip, "invalid_password");
        return Err(ApiError::Forbidden {
            detail: "The password is not correct.",
            code: "invalid_password",
        });
    }

    let forget_failures = async {
        match throttle {
            Some(_) => store.clear_login_failures(email).await,
            None => Ok(()),
        }
    };
    let (session, ()) = tokio::try_join!(
        store.reauthenticate_session(bearer.user_id, session_id, now, policy),
        forget_failures
    )?;
    let session = session.ok_or(ApiError::Unauthorized {
        detail: "The session has ended; sign in again.",
        code: "session_ended",
    })?;
    let access_token = state.signer()?.issue_with_auth_time(
        bearer.user_id,
        session_id,
        caller.user.role,
        now,
        session.auth_time(),
    )?;
    audit::reauthenticated(bearer.user_id, session_id, &ip);
    json(
        StatusCode::OK,
        &Reauthenticated {
            access_token,
            token_type: "Bearer",
            expires_in: auth.access_token_ttl_seconds,
            auth_time: rfc3339(session.auth_time()),
        },
    )
}
