//! `POST /auth/password`: the current password and a new one. Every other session ends
//! (OWASP ASVS 5.0 7.4.3), the current one stays: the new password hash and the user's next
//! credential epoch are written in one transaction with the current session's move to that
//! epoch, so no session of the old password, idle ones and sign-ins in flight included, is
//! usable once it commits; the other sessions are then marked ended for the listings. Needs a
//! recent sign-in; the current password is checked through the sign-in throttle.

use crate::AppState;
use crate::audit;
use crate::auth::{require_recent_auth, require_user};
use crate::domain::EndReason;
use crate::domain::time::now_epoch;
use crate::end_all::end_other_sessions;
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, json, json_body};
use crate::password_check::{CheckFailed, PasswordCheck};
use crate::passwords::check_password_policy;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

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
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    require_recent_auth(&caller, now, state.config.auth.reauth_max_age_seconds)?;
    let body: ChangePasswordBody = json_body(&req)?;
    if !body.revoke_other_sessions {
        return Err(ApiError::bad_request(
            "a password change always ends the other sessions; omit revoke_other_sessions",
            "invalid_body",
        ));
    }
    let ip = client_ip(&req, &state.config);
    let session_id = caller.session.session_id.as_str();

    let check = PasswordCheck::reserve(state, &caller.user.email, &ip, now).await?;
    let current_hash = caller.user.password_hash.as_deref();
    match check.verify(true, &body.current_password, current_hash) {
        Ok(()) => {}
        Err(CheckFailed::Throttled(why, e)) => {
            audit::password_change_failed(bearer.user_id, session_id, &ip, why.as_str());
            return Err(e);
        }
        Err(CheckFailed::Wrong) => {
            audit::password_change_failed(
                bearer.user_id,
                session_id,
                &ip,
                "invalid_current_password",
            );
            return Err(ApiError::Forbidden {
                detail: "The current password is not correct.",
                code: "invalid_current_password",
            });
        }
    }
    check_password_policy(&body.new_password)?;
    if body.new_password == body.current_password {
        return Err(ApiError::bad_request(
            "the new password must differ from the current one",
            "password_unchanged",
        ));
    }
    let new_hash = state.passwords.hash(&body.new_password)?;
    let raced = ApiError::Conflict {
        detail: "The password or the sessions changed at the same moment; sign in again.",
        code: "password_changed_concurrently",
    };
    let password = Some((current_hash.unwrap_or_default(), new_hash.as_str()));
    let reason = EndReason::PasswordChanged;
    let (revoked, ()) = tokio::try_join!(
        end_other_sessions(store, &caller, password, reason, raced, now, policy),
        async { Ok(check.succeeded().await?) }
    )?;
    audit::password_changed(bearer.user_id, revoked, &ip);
    if revoked > 0 {
        audit::sessions_ended(
            bearer.user_id,
            bearer.user_id,
            None,
            revoked,
            EndReason::PasswordChanged,
            &ip,
        );
    }
    json(
        StatusCode::OK,
        &Changed {
            revoked_other_sessions: revoked,
        },
    )
}
