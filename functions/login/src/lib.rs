//! `POST /auth/login`: email + password (+ an optional device name and type from native apps)
//! → an access token, a refresh token and the new session.
//!
//! The session records the device from the User-Agent and the source IP from API Gateway's
//! request context (never from a client header). A wrong password and an unknown email give
//! the same 401 after the same argon2 work; every attempt is first reserved on the password
//! throttle ([`shared::domain::throttle`]), which answers 429 with `Retry-After`. A disabled user gets
//! 403, and only after the right password. The session is stamped with the user's credential
//! epoch and stored only if that epoch still holds ([`shared::store::Store::put_session_in_epoch`]).
//!
//! Under `SESSION_LIMIT` a sign-in at the limit either ends the least recently active session
//! (reason `evicted`) or is refused with 409 (`SESSION_LIMIT_ACTION`); see [`shared::services::limits`].
//! Behind CloudFront the address and location come from its viewer headers (see
//! [`shared::http::viewer`]).
//!
//! A user with a second factor gets no tokens here: the right password answers 200 with
//! `mfa_required` and a challenge, completed at `POST /auth/mfa` (the `login-mfa` function).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::DeviceType;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json, json_body, user_agent, viewer};
use shared::services::sign_in::{Origin, SignIn, sign_in};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    device_name: Option<String>,
    device_type: Option<DeviceType>,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: LoginBody = json_body(&req)?;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let attempt = SignIn {
        email: &body.email,
        password: &body.password,
        origin: Origin {
            user_agent: user_agent(&req),
            device_name: body.device_name.as_deref(),
            device_type: body.device_type,
            ip: &viewer.ip,
            location: viewer.location,
        },
    };
    let signed_in = sign_in(state, attempt, now_epoch()).await?;
    json(StatusCode::OK, &signed_in)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
