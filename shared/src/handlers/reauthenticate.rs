//! `POST /auth/reauthenticate`: the signed-in user confirms their password
//! (`{"password": "..."}`). The current session's `auth_time` moves to now, and a new access
//! token and a new refresh token (the next generation) come back. Only tokens issued from now
//! on count as a recent sign-in ([`crate::auth::require_recent_auth`]): a token stolen before
//! is not made "recent" by the owner confirming their password, and a refresh token stolen
//! before is rotated out (presented later, it ends the session as stolen).
//!
//! The attempt goes through the same throttle as sign-in ([`crate::domain::throttle`]); a wrong
//! password is a 403 and the session stays valid.

use crate::AppState;
use crate::audit;
use crate::auth::require_user;
use crate::domain::time::{now_epoch, rfc3339};
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, json, json_body};
use crate::password_check::{CheckFailed, PasswordCheck};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReauthenticateBody {
    password: String,
}

/// Fresh tokens for the same session.
#[derive(Debug, Serialize)]
struct Reauthenticated {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    /// RFC 3339: when the password was confirmed.
    auth_time: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    let body: ReauthenticateBody = json_body(&req)?;
    let ip = client_ip(&req, &state.config);
    let session_id = &caller.session.session_id;

    let check = PasswordCheck::reserve(state, &caller.user.email, &ip, now).await?;
    let hash = caller.user.password_hash.as_deref();
    // The caller holds one of the account's sessions: the per-account ceiling does not apply.
    match check.verify(true, &body.password, hash) {
        Ok(()) => {}
        Err(CheckFailed::Throttled(why, e)) => {
            audit::reauthentication_failed(bearer.user_id, session_id, &ip, why.as_str());
            return Err(e);
        }
        Err(CheckFailed::Wrong) => {
            audit::reauthentication_failed(bearer.user_id, session_id, &ip, "invalid_password");
            return Err(ApiError::Forbidden {
                detail: "The password is not correct.",
                code: "invalid_password",
            });
        }
    }

    let (session, ()) = tokio::try_join!(
        store.reauthenticate_session(
            bearer.user_id,
            session_id,
            caller.session.refresh_generation,
            now,
            policy
        ),
        check.succeeded()
    )?;
    // Not written: the session ended meanwhile (401), or was refreshed at the same moment,
    // which moved its generation (409: try again).
    let Some(session) = session else {
        let now_active = store
            .get_session(bearer.user_id, session_id)
            .await?
            .is_some_and(|s| s.status(now, policy) == crate::domain::SessionStatus::Active);
        return Err(if now_active {
            ApiError::Conflict {
                detail: "The session was refreshed at the same moment; try again.",
                code: "session_changed_concurrently",
            }
        } else {
            ApiError::Unauthorized {
                detail: "The session has ended; sign in again.",
                code: "session_ended",
            }
        });
    };
    let family = session.refresh_family.as_deref().unwrap_or_default();
    let refresh = state.refresh_key()?.issue(
        bearer.user_id,
        session_id,
        family,
        session.refresh_generation,
    );
    let access_token = state.signer()?.issue_for(&session, caller.user.role, now)?;
    audit::reauthenticated(bearer.user_id, session_id, &ip);
    json(
        StatusCode::OK,
        &Reauthenticated {
            access_token,
            token_type: "Bearer",
            expires_in: state.config.auth.access_token_ttl_seconds,
            refresh_token: refresh.expose(),
            auth_time: rfc3339(session.auth_time()),
        },
    )
}
