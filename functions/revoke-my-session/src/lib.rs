//! `DELETE /sessions/{session_id}`: ends one of the caller's own sessions (204). Ending the
//! current session is a sign-out; ending another one needs a recent sign-in, like ending all
//! of them (else an old stolen token could sign the owner out everywhere, one session at a
//! time). Another user's session id is a 404 and that session keeps working.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, empty, expect_method, session_id_param};
use shared::services::sessions;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    // A malformed id is 404, but only after the 401 and 403 a well-formed one could get.
    let session = session_id_param(&req);
    let ip = client_ip(&req, &state.config);
    sessions::end_own(state, &caller, session, &ip, now).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
