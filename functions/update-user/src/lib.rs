//! `PATCH /users/{user_id}`: an admin disables or enables a user, changes their role, or
//! removes their second factor (`"mfa_enabled": false`, for a user who lost it: audited, and
//! only from the admin's own session signed in with a second factor).
//! Disabling ends every session of the user at once (OWASP ASVS 5.0 7.4.2): it moves the
//! user's credential epoch in the same write. An admin cannot disable or demote themselves,
//! and the caller's admin rights are a condition of the write, so there is always at least one
//! active admin, even when two admins demote or disable each other at the same moment.
//! Same order of answers as the admin listing, with a sign-in within
//! `REAUTH_MAX_AGE_SECONDS` required after the admin check (401 `reauthentication_required`);
//! the rules on the change are [`shared::services::admin::update_user`]'s.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::domain::{Role, UserResponse};
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body, user_id_param};
use shared::services::admin::{self, UserChange};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserBody {
    disabled: Option<bool>,
    role: Option<Role>,
    mfa_enabled: Option<bool>,
}

#[derive(Serialize)]
struct Updated {
    #[serde(flatten)]
    user: UserResponse,
    revoked_sessions: usize,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::PATCH)?;
    let now = now_epoch();
    let bearer = state.verifier.verify_headers(req.headers())?;
    let admin = Caller::admin(state, &bearer, None, now).await?;
    admin.signed_in_recently(state, now)?;
    let body: UpdateUserBody = json_body(&req)?;
    if body.mfa_enabled == Some(true) {
        return Err(ApiError::bad_request(
            "An administrator can only remove a second factor (mfa_enabled: false); the user \
             enrols one.",
            "invalid_body",
        ));
    }
    let change = UserChange {
        role: body.role,
        disabled: body.disabled,
        remove_second_factor: body.mfa_enabled == Some(false),
    };
    let target = user_id_param(&req);
    let ip = client_ip(&req, &state.config);
    let (user, revoked_sessions) =
        admin::update_user(state, &admin, target, change, &ip, now).await?;
    let user = UserResponse::from(&user);
    json(
        StatusCode::OK,
        &Updated {
            user,
            revoked_sessions,
        },
    )
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
