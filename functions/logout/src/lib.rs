//! `POST /auth/logout`: ends the current session (204). Its access token and refresh token
//! stop working on their next use.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, empty, expect_method};
use shared::services::sessions;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    sessions::sign_out(state, &caller, &client_ip(&req, &state.config), now).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
