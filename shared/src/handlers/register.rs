//! `POST /auth/register`: email + password (+ display name) → 201 and the new user.
//! Can be switched off (`REGISTRATION_ENABLED=false`, then 403). The email is claimed in the
//! same transaction as the user, so a duplicate is a 409 even under concurrent sign-ups.

use crate::AppState;
use crate::accounts::{NewUser, create_user};
use crate::audit;
use crate::domain::time::now_epoch;
use crate::domain::{Role, UserResponse};
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, json, json_body};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

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
    if !state.config.auth.registration_enabled {
        return Err(ApiError::Forbidden {
            detail: "Registration is closed.",
            code: "registration_disabled",
        });
    }
    let body: RegisterBody = json_body(&req)?;
    let new = NewUser {
        email: &body.email,
        password: &body.password,
        display_name: body.display_name.as_deref(),
        role: Role::User,
        user_id: None,
    };
    let user = create_user(&state.store, &state.passwords, new, now_epoch()).await?;
    audit::user_registered(user.user_id, &client_ip(&req, &state.config));
    json(StatusCode::CREATED, &UserResponse::from(&user))
}
