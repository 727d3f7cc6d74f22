//! `DELETE /sessions/user/{user_id}`: an admin ends every session of a user and gets the count
//! (`{"revoked": n}`). Same order of answers as the admin listing, and a recent sign-in needed
//! after the admin check. The user's credential epoch moves forward, with the caller's admin
//! rights a condition of that write: every session of the user, idle ones and sign-ins in
//! flight included, is over once it commits; they are then marked ended for the listings.

use crate::AppState;
use crate::audit;
use crate::auth::{require_admin, require_recent_auth};
use crate::domain::EndReason;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::{Revoked, expect_method, target_user_id};
use crate::http::{client_ip, json};
use crate::store::{EpochChange, EpochRefusal};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

fn user_not_found() -> ApiError {
    ApiError::NotFound {
        detail: "User not found.",
        code: "user_not_found",
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let target = target_user_id(
        &req,
        bearer.user_id,
        "Use DELETE /sessions?scope=others for your own sessions.",
    );
    let admin = require_admin(store, &bearer, target.as_ref().ok().copied(), now, policy).await?;
    require_recent_auth(&admin, now, state.config.auth.reauth_max_age_seconds)?;
    let user_id = target?;
    let mut from = admin
        .other
        .as_ref()
        .ok_or_else(user_not_found)?
        .credential_epoch;
    let mut epoch = None;
    for _ in 0..3 {
        let change = EpochChange {
            admin: Some(admin.user.user_id),
            ..EpochChange::default()
        };
        match store
            .advance_epoch(user_id, from, change, now, policy)
            .await?
        {
            Ok(next) => {
                epoch = Some(next);
                break;
            }
            Err(EpochRefusal::CallerNotAdmin) => return Err(ApiError::no_longer_admin()),
            // Changed meanwhile (or gone): read again and try once more.
            Err(_) => {
                let user = store.get_user(user_id).await?.ok_or_else(user_not_found)?;
                from = user.credential_epoch;
            }
        }
    }
    let epoch = epoch.ok_or_else(|| ApiError::internal("the credential epoch kept moving"))?;
    let revoked = store
        .end_superseded_sessions(
            user_id,
            epoch,
            admin.user.user_id,
            EndReason::Admin,
            now,
            policy,
        )
        .await?;
    audit::sessions_ended(
        admin.user.user_id,
        user_id,
        None,
        revoked,
        EndReason::Admin,
        &client_ip(&req, &state.config),
    );
    json(StatusCode::OK, &Revoked { revoked })
}
