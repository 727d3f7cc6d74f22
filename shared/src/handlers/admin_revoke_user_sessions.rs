//! `DELETE /sessions/user/{user_id}`: an admin ends every session of a user and gets the count
//! (`{"revoked": n}`). Same order of answers as the admin listing.

use crate::AppState;
use crate::audit;
use crate::auth::require_admin;
use crate::error::ApiError;
use crate::handlers::{Revoked, expect_method, target_user_id};
use crate::http::{json, source_ip};
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let user_id = match target_user_id(
        &req,
        bearer.user_id,
        "Use DELETE /sessions?scope=others for your own sessions.",
    ) {
        Ok(id) => id,
        Err(bad_input) => {
            require_admin(store, &bearer, now, policy).await?;
            return Err(bad_input);
        }
    };
    let (admin, target) = tokio::join!(
        require_admin(store, &bearer, now, policy),
        store.get_user(user_id)
    );
    let admin = admin?;
    if target?.is_none() {
        return Err(ApiError::NotFound {
            detail: "User not found.",
            code: "user_not_found",
        });
    }
    let revoked = store
        .end_all_sessions(user_id, None, admin.user.user_id, "admin", now, policy)
        .await?;
    audit::sessions_ended(
        admin.user.user_id,
        user_id,
        None,
        revoked,
        "admin",
        &source_ip(&req),
    );
    json(StatusCode::OK, &Revoked { revoked })
}
