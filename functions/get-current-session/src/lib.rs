//! `GET /sessions/current`: the caller's own session as the listings show it (device, address,
//! times, `aal`, `amr`, `is_current: true`), after the same checks as every user route: a
//! client learns from one request whether its session is still alive (401 once it has ended,
//! with the reason in `code`). See [`shared::services::sessions::current`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json};
use shared::services::sessions;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::GET)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    json(StatusCode::OK, &sessions::current(state, &caller, now))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
