//! `DELETE /sessions?scope=others`: ends all of the caller's sessions but the current one and
//! returns how many (`{"revoked": n}`). Needs a recent sign-in. The user's credential epoch
//! moves forward with the current session carried into it, in one transaction: every other
//! session, idle ones and sign-ins in flight included, is over once it commits; they are then
//! marked ended for the listings.
//!
//! `DELETE /sessions?scope=global`: signs the caller out everywhere, this session included,
//! the same way with no session carried over (`{"revoked": n}` counts the current one). It
//! needs a recent sign-in too: an old stolen token must not sign the owner out everywhere.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{Revoked, client_ip, expect_method, json};
use shared::services::sessions;

/// Which sessions end.
enum Scope {
    /// All but the current one.
    Others,
    /// All, the current one too.
    Global,
}

/// `?scope=others` or `?scope=global`, exactly one of them.
fn scope(req: &Request) -> Result<Scope, ApiError> {
    let scope = req
        .query_string_parameters_ref()
        .and_then(|q| q.all("scope"))
        .unwrap_or_default();
    match scope.as_slice() {
        ["others"] => Ok(Scope::Others),
        ["global"] => Ok(Scope::Global),
        _ => Err(ApiError::bad_request(
            "scope=others or scope=global is required (POST /auth/logout ends the current \
             session alone)",
            "invalid_scope",
        )),
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::DELETE)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    caller.signed_in_recently(state, now)?;
    let scope = scope(&req)?;
    let ip = client_ip(&req, &state.config);
    let revoked = match scope {
        Scope::Others => sessions::end_others(state, &caller, &ip, now).await?,
        Scope::Global => sessions::end_everywhere(state, &caller, &ip, now).await?,
    };
    json(StatusCode::OK, &Revoked { revoked })
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
