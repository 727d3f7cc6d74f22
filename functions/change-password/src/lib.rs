//! `POST /auth/password`: the current password and a new one. Every other session ends
//! (OWASP ASVS 5.0 7.4.3), the current one stays: the new password hash and the user's next
//! credential epoch are written in one transaction with the current session's move to that
//! epoch, so no session of the old password, idle ones and sign-ins in flight included, is
//! usable once it commits; the other sessions are then marked ended for the listings. Needs a
//! recent sign-in; the current password is checked through the sign-in throttle.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body};
use shared::services::credentials;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    current_password: String,
    new_password: String,
    /// Accepted for older clients; only `true`: a password change always ends the others.
    #[serde(default = "yes")]
    revoke_other_sessions: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize)]
struct Changed {
    revoked_other_sessions: usize,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.signed_in_recently(state, now)?;
    let body: ChangePasswordBody = json_body(&req)?;
    if !body.revoke_other_sessions {
        return Err(ApiError::bad_request(
            "a password change always ends the other sessions; omit revoke_other_sessions",
            "invalid_body",
        ));
    }
    let ip = client_ip(&req, &state.config);
    let (current, new) = (&body.current_password, &body.new_password);
    let revoked = credentials::change_password(state, &caller, current, new, &ip, now).await?;
    let changed = Changed {
        revoked_other_sessions: revoked,
    };
    json(StatusCode::OK, &changed)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
