//! `POST /auth/refresh`: a refresh token → a new access token and the next refresh token.
//!
//! Tokens come in generations ([`crate::refresh`]). The current generation rotates to the next
//! in one conditional write, so of concurrent refreshes with one token exactly one wins. What
//! the rotation depends on (the session, its user and the epochs) is read, strongly
//! consistent, before it commits, so once it has committed nothing but signing is left to fail.
//! A rotated-out token whose MAC verifies is a stolen one (RFC 9700 §4.14.2): the session ends
//! (401 `refresh_token_reused`), except the immediately previous generation within the grace
//! window (409 `refresh_token_rotated`, the session lives: two tabs refreshing together, or a
//! retry after a lost response). A token whose MAC does not verify never ends anything.
//! Ended, expired, idle or superseded sessions and disabled users get 401.

use crate::AppState;
use crate::audit;
use crate::domain::time::now_epoch;
use crate::domain::{Cutoffs, EndReason, Session, SessionStatus};
use crate::error::ApiError;
use crate::handlers::login::TokenResponse;
use crate::http::expect_method;
use crate::http::{json, json_body, viewer};
use crate::refresh::RefreshToken;
use crate::store::{EndOutcome, Rotation};
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

fn session_ended() -> ApiError {
    ApiError::Unauthorized {
        detail: "The session has ended; sign in again.",
        code: "session_ended",
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: RefreshBody = json_body(&req)?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let ip = viewer.ip.clone();
    let now = now_epoch();
    let Some(presented) = RefreshToken::parse(&body.refresh_token) else {
        audit::refresh_refused(0, "", 0, &ip, "malformed");
        return Err(invalid_refresh_token());
    };
    let (user_id, session_id) = (presented.user_id, presented.session_id.clone());
    let refused = |reason: &str| {
        audit::refresh_refused(user_id, &session_id, presented.generation, &ip, reason)
    };

    let items = store.load_caller(user_id, &session_id, None).await?;
    let key = state.refresh_key()?;
    let genuine = items.session.filter(|s| {
        s.refresh_family
            .as_deref()
            .is_some_and(|f| key.verify(&presented, f))
    });
    let Some(session) = genuine else {
        refused("forged");
        return Err(invalid_refresh_token());
    };
    let Some(user) = items.user else {
        refused("session_ended");
        return Err(session_ended());
    };
    if !session.is_usable(now, policy, &Cutoffs::of(&user, items.global_epoch)) {
        refused("session_ended");
        return Err(session_ended());
    }
    if user.disabled {
        refused("account_disabled");
        return Err(ApiError::Unauthorized {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    let current = session.refresh_generation;
    if presented.generation > current {
        // A valid MAC for a generation never issued: not ours to act on.
        refused("forged");
        return Err(invalid_refresh_token());
    }
    if presented.generation < current {
        return rotated_out(state, &presented, &session, &ip, now).await;
    }

    let rotation = store
        .rotate_refresh(
            user_id,
            &session_id,
            current,
            &ip,
            viewer.location.as_ref(),
            now,
            policy,
        )
        .await?;
    match rotation {
        Rotation::Rotated(rotated) => {
            let family = rotated.refresh_family.as_deref().unwrap_or_default();
            let next = key.issue(user_id, &session_id, family, rotated.refresh_generation);
            let access_token = state.signer()?.issue_for(&rotated, user.role, now)?;
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
        // Another refresh with the same token committed first: this one is now the
        // predecessor, just rotated.
        Rotation::Refused(Some(latest))
            if latest.status(now, policy) == SessionStatus::Active
                && latest.refresh_generation > current =>
        {
            rotated_out(state, &presented, &latest, &ip, now).await
        }
        Rotation::Refused(_) => {
            refused("session_ended");
            Err(session_ended())
        }
    }
}

/// A genuine token of an earlier generation: the previous one within the grace window is
/// refused without harm (409); any other ends the session as stolen.
async fn rotated_out(
    state: &AppState,
    presented: &RefreshToken,
    session: &Session,
    ip: &str,
    now: i64,
) -> Result<Response<Body>, ApiError> {
    let (user_id, session_id) = (presented.user_id, presented.session_id.as_str());
    let current = session.refresh_generation;
    let rotated_at = session.refresh_rotated_at.unwrap_or(0);
    let grace = state.config.auth.refresh_reuse_grace_seconds;
    if presented.generation + 1 == current && now - rotated_at <= grace {
        audit::refresh_refused(user_id, session_id, presented.generation, ip, "rotated");
        return Err(ApiError::Conflict {
            detail: "This refresh token was just rotated; use the newer one.",
            code: "refresh_token_rotated",
        });
    }
    let outcome = state
        .store
        .end_session(
            user_id,
            session_id,
            user_id,
            EndReason::RefreshTokenReuse,
            now,
            &state.config.sessions,
        )
        .await?;
    audit::refresh_reuse_detected(user_id, session_id, presented.generation, current, ip);
    if outcome == EndOutcome::Ended {
        audit::sessions_ended(
            user_id,
            user_id,
            Some(session_id),
            1,
            EndReason::RefreshTokenReuse,
            ip,
        );
    }
    Err(ApiError::Unauthorized {
        detail: "This refresh token was already used; the session has been ended.",
        code: "refresh_token_reused",
    })
}
