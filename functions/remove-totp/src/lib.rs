//! `DELETE /me/mfa/totp`: the signed-in user removes their own second factor (TOTP secret,
//! recovery codes, any pending enrolment), 204; from the next sign-in on the password alone
//! signs in. It needs a recent sign-in *with* the second factor (RFC 9470 step-up:
//! `POST /auth/reauthenticate` with a code or a recovery code), so the password with an older
//! session, without the authenticator, cannot take the factor off the account: 401
//! `reauthentication_required` when the sign-in is not recent, 401 `second_factor_required`
//! when it was the password alone. 409 `mfa_not_enrolled` without a factor. Audited. See
//! [`shared::services::second_factor::remove`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, empty, expect_method};
use shared::services::second_factor;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.proved_second_factor_recently(state, now)?;
    let ip = client_ip(&req, &state.config);
    second_factor::remove(state, caller.user.user_id, &ip).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
