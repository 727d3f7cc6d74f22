//! `PATCH /users/{user_id}`: an admin disables or enables a user, or changes their role.
//! Disabling ends every session of the user at once (OWASP ASVS 5.0 7.4.2). An admin cannot
//! disable or demote themselves. Same order of answers as the admin listing, with a sign-in
//! within `REAUTH_MAX_AGE_SECONDS` required after the admin check (401
//! `reauthentication_required`).

use crate::AppState;
use crate::audit;
use crate::auth::{require_admin, require_recent_auth};
use crate::error::ApiError;
use crate::handlers::{expect_method, target_user_id};
use crate::http::{json, json_body, path_param, source_ip};
use crate::ids::parse_user_id;
use crate::model::{Role, UserResponse};
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateUserBody {
    disabled: Option<bool>,
    role: Option<Role>,
}

#[derive(Serialize)]
struct Updated {
    #[serde(flatten)]
    user: UserResponse,
    revoked_sessions: usize,
}

fn validate(req: &Request, caller: u64) -> Result<(u64, UpdateUserBody), ApiError> {
    let body: UpdateUserBody = json_body(req)?;
    if body.disabled.is_none() && body.role.is_none() {
        return Err(ApiError::bad_request(
            "give at least one of disabled, role",
            "invalid_body",
        ));
    }
    // Changing oneself is refused only for the changes that would lock oneself out.
    let own = parse_user_id(path_param(req, "user_id")) == Some(caller);
    if own && (body.disabled == Some(true) || body.role == Some(Role::User)) {
        return Err(ApiError::bad_request(
            "Administrators cannot disable or demote themselves.",
            "cannot_modify_self",
        ));
    }
    let user_id = if own {
        caller
    } else {
        target_user_id(req, caller, "")?
    };
    Ok((user_id, body))
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::PATCH)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let admin = require_admin(store, &bearer, now, policy).await?;
    require_recent_auth(
        &admin.session,
        now,
        state.config.auth.reauth_max_age_seconds,
    )?;
    let (user_id, body) = validate(&req, bearer.user_id)?;

    let Some(user) = store
        .update_user_flags(user_id, body.role, body.disabled)
        .await?
    else {
        return Err(ApiError::NotFound {
            detail: "User not found.",
            code: "user_not_found",
        });
    };
    let ip = source_ip(&req);
    let role = body
        .role
        .map(|r| if r == Role::Admin { "admin" } else { "user" });
    audit::user_updated(admin.user.user_id, user_id, role, body.disabled, &ip);
    let revoked_sessions = if body.disabled == Some(true) {
        let n = store
            .end_all_sessions(
                user_id,
                None,
                admin.user.user_id,
                "user_disabled",
                now,
                policy,
            )
            .await?;
        audit::sessions_ended(admin.user.user_id, user_id, None, n, "user_disabled", &ip);
        n
    } else {
        0
    };
    json(
        StatusCode::OK,
        &Updated {
            user: UserResponse::from(&user),
            revoked_sessions,
        },
    )
}
