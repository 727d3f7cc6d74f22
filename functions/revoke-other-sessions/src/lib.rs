//! `DELETE /sessions?scope=others`: ends all of the caller's sessions but the current one and
//! returns how many (`{"revoked": n}`). Needs a recent sign-in. The user's credential epoch
//! moves forward with the current session carried into it, in one transaction: every other
//! session, idle ones and sign-ins in flight included, is over once it commits; they are then
//! marked ended for the listings.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{Revoked, client_ip, expect_method, json};
use shared::services::sessions;

/// `?scope=others`, exactly: the only scope this route ends.
fn check_scope(req: &Request) -> Result<(), ApiError> {
    let scope = req
        .query_string_parameters_ref()
        .and_then(|q| q.all("scope"))
        .unwrap_or_default();
    if scope == ["others"] {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "scope=others is required (use POST /auth/logout to end the current session)",
            "invalid_scope",
        ))
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.signed_in_recently(state, now)?;
    check_scope(&req)?;
    let ip = client_ip(&req, &state.config);
    let revoked = sessions::end_others(state, &caller, &ip, now).await?;
    json(StatusCode::OK, &Revoked { revoked })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
