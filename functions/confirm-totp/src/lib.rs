//! `POST /me/mfa/totp/confirm`: the first code from the authenticator app (`{"code": ...}`)
//! turns the enrolment begun at `POST /me/mfa/totp` into the account's second factor, and the
//! ten recovery codes come back, shown this once (stored only as keyed hashes). From then on
//! signing in takes the second step. A wrong code is 400 `invalid_code` (the enrolment waits);
//! no enrolment waiting (none, expired, or confirmed already) is 409 `no_pending_enrolment`.
//! Needs a recent sign-in. See [`shared::services::second_factor::confirm_enrolment`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json, json_body};
use shared::services::second_factor::confirm_enrolment;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    code: String,
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
    let recovery_codes = confirm_enrolment(state, caller.user.user_id, &body.code, now).await?;
    json(StatusCode::OK, &Confirmed { recovery_codes })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
