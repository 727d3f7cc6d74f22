//! `POST /auth/mfa`: the second step of a sign-in for a user with a second factor. The
//! challenge from `POST /auth/login` and a TOTP code (`code`) or a recovery code
//! (`recovery_code`) → an access token, a refresh token and the new session, at `aal2`; after a
//! recovery code, also how many are left (`recovery_codes_left`).
//!
//! The challenge is single-use, lives five minutes, takes five codes at most and only from
//! the password step's address and User-Agent; every code counts on the password throttle
//! (429 with `Retry-After`); a TOTP code is accepted once, a recovery code is spent. A wrong
//! code is 401 `invalid_code`, an unusable challenge 401 `invalid_challenge` (sign in again).
//! See [`shared::services::second_factor`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json, json_body, user_agent, viewer};
use shared::services::second_factor::{FactorCode, SecondStep, complete_sign_in};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    challenge: String,
    code: Option<String>,
    recovery_code: Option<String>,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: MfaBody = json_body(&req)?;
    let code = match (&body.code, &body.recovery_code) {
        (Some(code), None) => FactorCode::Totp(code),
        (None, Some(code)) => FactorCode::Recovery(code),
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of code (from the authenticator app) and recovery_code",
                "invalid_body",
            ));
        }
    };
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let step = SecondStep {
        challenge: &body.challenge,
        code,
        user_agent: user_agent(&req),
        ip: &viewer.ip,
    };
    let tokens = complete_sign_in(state, step, now_epoch()).await?;
    json(StatusCode::OK, &tokens)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
