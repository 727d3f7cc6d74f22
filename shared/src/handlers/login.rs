//! `POST /auth/login`: email + password (+ an optional device name and type from native apps)
//! → an access token, a refresh token and the new session.
//!
//! The session records the device from the User-Agent and the source IP from API Gateway's
//! request context (never from a client header). A wrong password and an unknown email give
//! the same 401 after the same argon2 work; repeated failures for one email get 429 with
//! `Retry-After`. A disabled user gets 403, and only after the right password.
//!
//! Under `SESSION_LIMIT` a sign-in at the limit either ends the least recently active session
//! (reason `evicted`) or is refused with 409 (`SESSION_LIMIT_ACTION`); see [`crate::limits`].
//! Behind CloudFront the address and location come from its viewer headers (see
//! [`crate::http::viewer`]).

use crate::AppState;
use crate::audit;
use crate::device::describe;
use crate::error::ApiError;
use crate::handlers::expect_method;
use crate::http::{json, json_body, sanitise_label, user_agent, viewer};
use crate::ids::new_session_id;
use crate::limits;
use crate::model::{DeviceType, Session, SessionResponse};
use crate::passwords::normalise_email;
use crate::refresh::RefreshToken;
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// Longest client-sent device name kept.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    device_name: Option<String>,
    device_type: Option<DeviceType>,
}

/// Tokens handed out by sign-in and refresh.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// EdDSA JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; rotated on every use.
    pub refresh_token: String,
    /// The session (sign-in only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionResponse>,
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "Incorrect email or password.",
        code: "invalid_credentials",
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: LoginBody = json_body(&req)?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let auth = &state.config.auth;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let ip = viewer.ip.clone();
    let now = now_epoch();

    let Ok(email) = normalise_email(&body.email) else {
        state.passwords.verify_dummy(&body.password);
        return Err(invalid_credentials());
    };
    let (user_id, throttle) =
        tokio::try_join!(store.user_id_by_email(&email), store.login_throttle(&email))?;
    let window_end = throttle.and_then(|t| {
        t.blocked_until(
            auth.login_max_failures,
            auth.login_failure_window_seconds,
            now,
        )
    });
    if let Some(end) = window_end {
        audit::login_failed(&email, &ip, "throttled");
        return Err(ApiError::TooManyRequests {
            retry_after_seconds: (end - now) as u64,
        });
    }

    // Under a session limit the user's slots and active sessions are read with the user.
    let limited = auth.session_limit > 0;
    let (user, snapshot) = match user_id {
        Some(id) if limited => {
            let (user, active) = tokio::try_join!(
                store.get_user_with_slots(id),
                store.active_sessions(id, now, policy)
            )?;
            match user {
                Some((user, slots)) => (Some(user), Some(limits::Snapshot { slots, active })),
                None => (None, None),
            }
        }
        Some(id) => (store.get_user(id).await?, None),
        None => (None, None),
    };
    let verified = match &user {
        Some(u) => u
            .password_hash
            .as_deref()
            .is_some_and(|h| state.passwords.verify(&body.password, h)),
        None => {
            state.passwords.verify_dummy(&body.password);
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        store
            .record_login_failure(&email, now, auth.login_failure_window_seconds)
            .await?;
        audit::login_failed(&email, &ip, "invalid_credentials");
        return Err(invalid_credentials());
    };
    if user.disabled {
        audit::login_failed(&email, &ip, "account_disabled");
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }

    let mut device = describe(user_agent(&req));
    if let Some(name) = sanitise_label(body.device_name.as_deref(), MAX_DEVICE_NAME_CHARS) {
        device.device_name = name;
    }
    if let Some(device_type) = body.device_type {
        device.device_type = device_type;
    }
    let session_id = new_session_id().map_err(|e| ApiError::internal(e.to_string()))?;
    let refresh = RefreshToken::issue(user.user_id, &session_id)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut session = Session::start(user.user_id, session_id, device, &ip, now, policy);
    session.refresh_hash = Some(refresh.hash());
    session.location = viewer.location;
    let forget_failures = async {
        match throttle {
            Some(_) => store.clear_login_failures(&email).await,
            None => Ok(()),
        }
    };
    let put = async {
        match snapshot {
            Some(first) => {
                limits::put_within_limit(store, &session, first, auth, &ip, now, policy).await
            }
            None => {
                store.put_new_session(&session).await?;
                Ok(Vec::new())
            }
        }
    };
    tokio::try_join!(put, async { Ok(forget_failures.await?) })?;

    let access_token = state
        .signer()?
        .issue(user.user_id, &session.session_id, user.role, now)?;
    audit::session_created(
        user.user_id,
        &session.session_id,
        &session.device_name,
        &ip,
        "login",
    );
    json(
        StatusCode::OK,
        &TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: auth.access_token_ttl_seconds,
            refresh_token: refresh.expose(),
            session: Some(session.to_response(now, policy, Some(&session.session_id))),
        },
    )
}
