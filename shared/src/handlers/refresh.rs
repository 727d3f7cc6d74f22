//! `POST /auth/refresh`: a refresh token → a new access token and a new refresh token.
//!
//! The old refresh token stops working at once (one conditional write decides the race). A
//! rotated-out token presented again within the grace window gets 409 and the session lives
//! (two tabs refreshing together); after the window the session is ended as compromised
//! (RFC 9700 §4.14) and the answer is 401. Ended, expired or idle sessions and disabled users
//! get 401.

use crate::AppState;
use crate::audit;
use crate::error::ApiError;
use crate::handlers::expect_method;
use crate::handlers::login::TokenResponse;
use crate::http::{json, json_body, viewer};
use crate::model::SessionStatus;
use crate::refresh::RefreshToken;
use crate::store::Rotation;
use crate::time::now_epoch;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

fn invalid_refresh_token() -> ApiError {
    ApiError::Unauthorized {
        detail: "The refresh token is not valid.",
        code: "invalid_refresh_token",
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: RefreshBody = json_body(&req)?;
    let presented = RefreshToken::parse(&body.refresh_token).ok_or_else(invalid_refresh_token)?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let ip = viewer.ip.clone();
    let now = now_epoch();
    let (user_id, session_id) = (presented.user_id, presented.session_id.clone());

    let next =
        RefreshToken::issue(user_id, &session_id).map_err(|e| ApiError::internal(e.to_string()))?;
    let (presented_hash, next_hash) = (presented.hash(), next.hash());
    let (user, rotation) = tokio::join!(
        store.get_user(user_id),
        store.rotate_refresh(
            user_id,
            &session_id,
            &presented_hash,
            &next_hash,
            &ip,
            viewer.location.as_ref(),
            now,
            policy
        ),
    );
    match rotation? {
        Rotation::Rotated(session) => {
            let user = user?.filter(|u| !u.disabled);
            let Some(user) = user else {
                store
                    .end_session(user_id, &session_id, user_id, "user_disabled", now, policy)
                    .await?;
                audit::sessions_ended(user_id, user_id, Some(&session_id), 1, "user_disabled", &ip);
                return Err(ApiError::Unauthorized {
                    detail: "This account is disabled.",
                    code: "account_disabled",
                });
            };
            let access_token = state.signer()?.issue_with_auth_time(
                user_id,
                &session_id,
                user.role,
                now,
                session.auth_time(),
            )?;
            audit::session_refreshed(user_id, &session_id, &ip);
            json(
                StatusCode::OK,
                &TokenResponse {
                    access_token,
                    token_type: "Bearer",
                    expires_in: state.config.auth.access_token_ttl_seconds,
                    refresh_token: next.expose(),
                    session: None,
                },
            )
        }
        Rotation::Refused(None) => Err(invalid_refresh_token()),
        Rotation::Refused(Some(session)) => {
            if session.status(now, policy) != SessionStatus::Active {
                return Err(ApiError::Unauthorized {
                    detail: "The session has ended; sign in again.",
                    code: "session_ended",
                });
            }
            if session.refresh_prev_hash.as_deref() != Some(presented_hash.as_str()) {
                return Err(invalid_refresh_token());
            }
            let rotated_at = session.refresh_rotated_at.unwrap_or(0);
            if now - rotated_at <= state.config.auth.refresh_reuse_grace_seconds {
                return Err(ApiError::Conflict {
                    detail: "This refresh token was just rotated; use the newer one.",
                    code: "refresh_token_rotated",
                });
            }
            store
                .end_session(
                    user_id,
                    &session_id,
                    user_id,
                    "refresh_token_reuse",
                    now,
                    policy,
                )
                .await?;
            audit::refresh_reuse_detected(user_id, &session_id, &ip);
            audit::sessions_ended(
                user_id,
                user_id,
                Some(&session_id),
                1,
                "refresh_token_reuse",
                &ip,
            );
            Err(ApiError::Unauthorized {
                detail: "This refresh token was already used; the session has been ended.",
                code: "refresh_token_reused",
            })
        }
    }
}
