//! `POST /me/mfa/totp/confirm`: the first code from the authenticator app and the current
//! password (`{"code": ..., "password": ...}`) turn the enrolment begun at `POST /me/mfa/totp`
//! into the account's second factor, and the ten recovery codes come back, shown this once
//! (stored only as keyed hashes). From then on signing in takes the second step. The password,
//! checked through the sign-in throttle, means a stolen token alone cannot put its own factor on
//! the account (403 `invalid_password`). A wrong code is 400 `invalid_code` (the enrolment
//! waits); no enrolment waiting (none, expired, or confirmed already) is 409
//! `no_pending_enrolment`. Needs a recent sign-in. See
//! [`shared::services::credentials::confirm_enrolment`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body};
use shared::services::credentials;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    code: String,
    password: String,
}

#[derive(Serialize)]
struct Confirmed {
    recovery_codes: Vec<String>,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.signed_in_recently(state, now)?;
    let body: ConfirmBody = json_body(&req)?;
    let ip = client_ip(&req, &state.config);
    let proof = (body.password.as_str(), body.code.as_str());
    let recovery_codes = credentials::confirm_enrolment(state, &caller, proof, &ip, now).await?;
    json(StatusCode::OK, &Confirmed { recovery_codes })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
