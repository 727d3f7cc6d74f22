//! `POST /auth/logout`: ends the current session (204). Its access token and refresh token
//! stop working on their next use.

use crate::AppState;
use crate::auth::Caller;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::{client_ip, empty, expect_method};
use crate::services::sessions;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    sessions::sign_out(state, &caller, &client_ip(&req, &state.config), now).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
