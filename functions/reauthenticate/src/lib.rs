//! `POST /auth/reauthenticate`: the signed-in user confirms their password
//! (`{"password": "..."}`). The current session's `auth_time` moves to now, and a new access
//! token and a new refresh token (the next generation) come back. Only tokens issued from now
//! on count as a recent sign-in ([`shared::auth::require_recent_auth`]): a token stolen before
//! is not made "recent" by the owner confirming their password, and a refresh token stolen
//! before is rotated out (presented later, it ends the session as stolen).
//!
//! With `code` (TOTP) or `recovery_code` as well, a user with a second factor proves it too and
//! the session becomes `aal2`; with the password alone it is `aal1` from now on, so a recent
//! sign-in always says which factors made it (admin routes that require a second factor then
//! ask for the code again).
//!
//! The attempt goes through the same throttle as sign-in ([`shared::domain::throttle`]); a wrong
//! password or code is a 403 and the session stays valid.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::{now_epoch, rfc3339};
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body};
use shared::services::credentials;
use shared::services::second_factor::FactorCode;
use shared::services::tokens::TokenResponse;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReauthenticateBody {
    password: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// Fresh tokens for the same session.
#[derive(Debug, Serialize)]
struct Reauthenticated {
    #[serde(flatten)]
    tokens: TokenResponse,
    /// RFC 3339: when the password was confirmed.
    auth_time: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    let body: ReauthenticateBody = json_body(&req)?;
    let code = match (&body.code, &body.recovery_code) {
        (None, None) => None,
        (Some(code), None) => Some(FactorCode::Totp(code)),
        (None, Some(code)) => Some(FactorCode::Recovery(code)),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "send at most one of code and recovery_code",
                "invalid_body",
            ));
        }
    };
    let ip = client_ip(&req, &state.config);
    let proof = (body.password.as_str(), code);
    let (session, tokens) = credentials::reauthenticate(state, &caller, proof, &ip, now).await?;
    let auth_time = rfc3339(session.auth_time());
    json(StatusCode::OK, &Reauthenticated { tokens, auth_time })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
