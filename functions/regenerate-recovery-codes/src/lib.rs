//! `POST /me/mfa/recovery-codes`: the signed-in user replaces their recovery codes with ten
//! new ones, shown this once (stored only as keyed hashes); every earlier code stops working
//! and the count of used codes starts again. For a user who has used some, or fears they were
//! seen. Needs a recent sign-in *with* the second factor (401 `reauthentication_required`, then
//! 401 `second_factor_required`: `POST /auth/reauthenticate` with a code or a recovery code),
//! so the password with a session that did not just prove the factor cannot mint codes. 409 `mfa_not_enrolled`
//! without a confirmed factor. Audited. See
//! [`shared::services::second_factor::regenerate_recovery_codes`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json};
use shared::services::second_factor;

#[derive(Serialize)]
struct Regenerated {
    recovery_codes: Vec<String>,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.proved_second_factor_recently(state, now)?;
    let ip = client_ip(&req, &state.config);
    let user_id = caller.user.user_id;
    let recovery_codes = second_factor::regenerate_recovery_codes(state, user_id, &ip).await?;
    json(StatusCode::OK, &Regenerated { recovery_codes })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
