//! `DELETE /sessions/user/{user_id}`: an admin ends every session of a user and gets the count
//! (`{"revoked": n}`). Same order of answers as the admin listing, and a recent sign-in needed
//! after the admin check. The user's credential epoch moves forward, with the caller's admin
//! rights a condition of that write: every session of the user, idle ones and sign-ins in
//! flight included, is over once it commits; they are then marked ended for the listings.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{Revoked, client_ip, expect_method, json, target_user_id};
use shared::services::admin;

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let bearer = state.verifier.verify_headers(req.headers())?;
    let hint = "Use DELETE /sessions?scope=others for your own sessions.";
    let target = target_user_id(&req, bearer.user_id, hint);
    let ip = client_ip(&req, &state.config);
    let revoked = admin::end_all_sessions(state, &bearer, target, &ip, now).await?;
    json(StatusCode::OK, &Revoked { revoked })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
