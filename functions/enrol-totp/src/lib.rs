//! `POST /me/mfa/totp`: the signed-in user begins enrolling a TOTP second factor (RFC 6238):
//! a new secret, as base32 text, as an `otpauth://` URI and as that URI's QR code (SVG), for an
//! authenticator app. It is stored sealed and waits ten minutes for its first code
//! (`POST /me/mfa/totp/confirm`); until then the sign-in does not change. Needs a recent
//! sign-in (401 `reauthentication_required`): someone holding an old token cannot put their
//! own factor on the account. A user who has a factor already gets 409
//! `mfa_already_enrolled`. See [`shared::services::second_factor::begin_enrolment`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json};
use shared::services::second_factor::begin_enrolment;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.signed_in_recently(state, now)?;
    let enrolment = begin_enrolment(state, caller.user.user_id, now).await?;
    json(StatusCode::OK, &enrolment)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
