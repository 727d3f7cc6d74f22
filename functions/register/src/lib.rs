//! `POST /auth/register`: email + password (+ display name) → 201 and the new user.
//! Can be switched off (`REGISTRATION_ENABLED=false`, then 403). The email is claimed in the
//! same transaction as the user, so a duplicate is a 409 even under concurrent sign-ups.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::UserResponse;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body};
use shared::services::accounts;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    display_name: Option<String>,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    accounts::registration_open(state)?;
    let body: RegisterBody = json_body(&req)?;
    let ip = client_ip(&req, &state.config);
    let (email, password) = (&body.email, &body.password);
    let name = body.display_name.as_deref();
    let user = accounts::register(state, email, password, name, &ip, now_epoch()).await?;
    json(StatusCode::CREATED, &UserResponse::from(&user))
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
