//! `POST /auth/refresh`: a refresh token → a new access token and the next refresh token.
//! A refresh from another country, another browser family, or too far from the last place for
//! the time between them flags the session (`risk_flags` in the listings).
//!
//! The rotation, its theft detection and its answers: [`shared::services::tokens::refresh`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{expect_method, json, json_body, user_agent, viewer};
use shared::services::tokens;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: RefreshBody = json_body(&req)?;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let seen = (
        viewer.ip.as_str(),
        viewer.location.as_ref(),
        user_agent(&req),
    );
    let tokens = tokens::refresh(state, &body.refresh_token, seen, now_epoch()).await?;
    json(StatusCode::OK, &tokens)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
