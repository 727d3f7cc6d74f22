//! `PATCH /users/{user_id}`: an admin disables or enables a user, or changes their role.
//! Disabling ends every session of the user at once (OWASP ASVS 5.0 7.4.2): it moves the
//! user's credential epoch in the same write. An admin cannot disable or demote themselves,
//! and the caller's admin rights are a condition of the write, so there is always at least one
//! active admin, even when two admins demote or disable each other at the same moment. Same order of answers as the admin listing, with a sign-in
//! within `REAUTH_MAX_AGE_SECONDS` required after the admin check (401
//! `reauthentication_required`).

use crate::AppState;
use crate::audit;
use crate::auth::{require_admin, require_recent_auth};
use crate::domain::ids::parse_user_id;
use crate::domain::time::now_epoch;
use crate::domain::{EndReason, Role, UserResponse};
use crate::error::ApiError;
use crate::http::{client_ip, json, json_body, path_param};
use crate::http::{expect_method, target_user_id};
use crate::store::AdminUpdate;
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
    let admin = require_admin(store, &bearer, None, now, policy).await?;
    require_recent_auth(&admin, now, state.config.auth.reauth_max_age_seconds)?;
    let (user_id, body) = validate(&req, bearer.user_id)?;

    // The caller's own admin rights are a condition of the write: two admins demoting or
    // disabling each other at once cannot both succeed.
    match store
        .update_user_as_admin(admin.user.user_id, user_id, body.role, body.disabled)
        .await?
    {
        AdminUpdate::Updated => {}
        AdminUpdate::CallerNotAdmin => return Err(ApiError::no_longer_admin()),
        AdminUpdate::NotFound => return Err(user_not_found()),
    }
    let user = store.get_user(user_id).await?.ok_or_else(user_not_found)?;
    let ip = client_ip(&req, &state.config);
    let role = body
        .role
        .map(|r| if r == Role::Admin { "admin" } else { "user" });
    audit::user_updated(admin.user.user_id, user_id, role, body.disabled, &ip);
    // Disabling moved the user's credential epoch: every session is over already; mark them.
    let revoked_sessions = if body.disabled == Some(true) {
        let n = store
            .end_superseded_sessions(
                user_id,
                user.credential_epoch,
                admin.user.user_id,
                EndReason::UserDisabled,
                now,
                policy,
            )
            .await?;
        audit::sessions_ended(
            admin.user.user_id,
            user_id,
            None,
            n,
            EndReason::UserDisabled,
            &ip,
        );
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

fn user_not_found() -> ApiError {
    ApiError::NotFound {
        detail: "User not found.",
        code: "user_not_found",
    }
}
