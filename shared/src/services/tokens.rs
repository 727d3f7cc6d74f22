//! Issuing a session's tokens, and rotating its refresh token.
//!
//! Refresh tokens come in generations ([`crate::tokens::refresh`]). The current generation rotates to
//! the next in one conditional write, so of concurrent refreshes with one token exactly one
//! wins. What the rotation depends on (the session, its user and the epochs) is read, strongly
//! consistent, before it commits, so once it has committed nothing but signing is left to
//! fail. A rotated-out token whose MAC verifies is a stolen one (RFC 9700 §4.14.2): the session
//! ends (401 `refresh_token_reused`), except the immediately previous generation within the
//! grace window (409 `refresh_token_rotated`, the session lives: two tabs refreshing together,
//! or a retry after a lost response). A token whose MAC does not verify never ends anything.
//! Ended, expired, idle or superseded sessions and disabled users get 401.

use crate::AppState;
use crate::audit;
use crate::domain::device::describe;
use crate::domain::risk::{self, Seen};
use crate::domain::{
    Cutoffs, EndReason, Location, RiskFlag, Role, Session, SessionResponse, SessionStatus,
};
use crate::error::ApiError;
use crate::services::sessions::end_one;
use crate::store::Rotation;
use crate::tokens::refresh::RefreshToken;
use serde::Serialize;

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
    /// After a sign-in with a recovery code: how many of the user's codes are still unused,
    /// so a client can tell them to make new ones before they run out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes_left: Option<usize>,
}

/// An access token for `session` and the refresh token of its current generation.
pub fn issue(
    state: &AppState,
    session: &Session,
    role: Role,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let family = session.refresh_family.as_deref().unwrap_or_default();
    let refresh = state.refresh_key()?.issue(
        session.user_id,
        &session.session_id,
        family,
        session.refresh_generation,
    );
    Ok(TokenResponse {
        access_token: state.signer()?.issue_for(session, role, now)?,
        token_type: "Bearer",
        expires_in: state.config.auth.access_token_ttl_seconds,
        refresh_token: refresh.expose(),
        session: None,
        recovery_codes_left: None,
    })
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

/// Rotates the refresh token `token`, presented from `ip` (and `location`, when known) by a
/// client with `user_agent`: new tokens of the next generation, or why not. What the request
/// shows that the sign-in did not ([`risk::assess`]: another country, another browser family,
/// impossible travel) is flagged on the session in the same write and audited;
/// under `END_SESSION_ON_BROWSER_CHANGE` another browser family ends the session instead (401).
pub async fn refresh(
    state: &AppState,
    token: &str,
    (ip, location, user_agent): (&str, Option<&Location>, &str),
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let Some(presented) = RefreshToken::parse(token) else {
        audit::refresh_refused(None, "", 0, ip, "malformed");
        return Err(invalid_refresh_token());
    };
    let (session, role) = live_session_of(state, &presented, ip, now).await?;
    let (user_id, session_id) = (presented.user_id, presented.session_id.as_str());
    let current = session.refresh_generation;
    if presented.generation < current {
        return Err(rotated_out(state, &presented, &session, ip, now).await?);
    }
    let policy = &state.config.sessions;
    // The User-Agent is parsed only when it is a browser's and not the one the session
    // signed in with (nearly every refresh): the parser costs a fraction of a millisecond.
    let browser = match risk::is_browser(user_agent) {
        false => None,
        true if user_agent == session.user_agent => Some(session.browser.clone()),
        true => Some(describe(user_agent).browser),
    };
    let seen = Seen {
        location,
        browser: browser.as_deref(),
        at: now,
    };
    let observed = risk::assess(&session, &seen);
    let raised: Vec<RiskFlag> = observed
        .iter()
        .copied()
        .filter(|f| !session.risk_flags.contains(f))
        .collect();
    if observed.contains(&RiskFlag::BrowserChanged)
        && state.config.auth.end_session_on_browser_change
    {
        // Ended by the service, as for a stolen refresh token: the next refresh is refused.
        audit::session_risk_flagged(user_id, session_id, &observed, ip);
        let reason = EndReason::BrowserChanged;
        end_one(state, (user_id, session_id), user_id, reason, ip, now).await?;
        audit::refresh_refused(Some(user_id), session_id, current, ip, "browser_changed");
        return Err(session_ended());
    }
    let mut flags = session.risk_flags.clone();
    flags.extend(raised.iter().copied());
    flags.sort();
    let seen_from = (location, flags.as_slice());
    let rotation = state
        .store
        .rotate_refresh(user_id, session_id, current, ip, seen_from, now, policy)
        .await?;
    match rotation {
        Rotation::Rotated(rotated) => {
            if !raised.is_empty() {
                audit::session_risk_flagged(user_id, session_id, &raised, ip);
            }
            let tokens = issue(state, &rotated, role, now)?;
            audit::session_refreshed(user_id, session_id, ip);
            Ok(tokens)
        }
        // Another refresh with the same token committed first: this one is now the
        // predecessor, just rotated.
        Rotation::Refused(Some(latest))
            if latest.status(now, policy) == SessionStatus::Active
                && latest.refresh_generation > current =>
        {
            Err(rotated_out(state, &presented, &latest, ip, now).await?)
        }
        Rotation::Refused(_) => {
            audit::refresh_refused(Some(user_id), session_id, current, ip, "session_ended");
            Err(session_ended())
        }
    }
}

/// The session a well-formed refresh token names, with its user's role, read strongly
/// consistent: only if the token's MAC verifies against the session's family key, the session
/// is still usable, its user enabled, and the generation one that was issued. Every refusal is
/// audited with its reason.
async fn live_session_of(
    state: &AppState,
    presented: &RefreshToken,
    ip: &str,
    now: i64,
) -> Result<(Session, Role), ApiError> {
    let (user_id, session_id) = (presented.user_id, presented.session_id.as_str());
    let refused = |reason: &str| {
        audit::refresh_refused(Some(user_id), session_id, presented.generation, ip, reason)
    };
    let items = state.store.load_caller(user_id, session_id, None).await?;
    let key = state.refresh_key()?;
    let genuine = items.session.filter(|s| {
        s.refresh_family
            .as_deref()
            .is_some_and(|f| key.verify(presented, f))
    });
    let Some(session) = genuine else {
        refused("forged");
        return Err(invalid_refresh_token());
    };
    let cutoffs = items
        .user
        .as_ref()
        .map(|u| Cutoffs::of(u, items.global_epoch));
    let usable = cutoffs.is_some_and(|c| session.is_usable(now, &state.config.sessions, &c));
    let Some(user) = items.user.filter(|_| usable) else {
        refused("session_ended");
        return Err(session_ended());
    };
    if user.disabled {
        refused("account_disabled");
        return Err(ApiError::Unauthorized {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    if presented.generation > session.refresh_generation {
        // A valid MAC for a generation never issued: not ours to act on.
        refused("forged");
        return Err(invalid_refresh_token());
    }
    Ok((session, user.role))
}

/// A genuine token of an earlier generation: the previous one within the grace window is
/// refused without harm (409); any other ends the session as stolen (401). Returns the answer.
async fn rotated_out(
    state: &AppState,
    presented: &RefreshToken,
    session: &Session,
    ip: &str,
    now: i64,
) -> Result<ApiError, ApiError> {
    let (user_id, session_id) = (presented.user_id, presented.session_id.as_str());
    let current = session.refresh_generation;
    let rotated_at = session.refresh_rotated_at.unwrap_or(0);
    let grace = state.config.auth.refresh_reuse_grace_seconds;
    if presented.generation + 1 == current && now - rotated_at <= grace {
        audit::refresh_refused(
            Some(user_id),
            session_id,
            presented.generation,
            ip,
            "rotated",
        );
        return Ok(ApiError::Conflict {
            detail: "This refresh token was just rotated; use the newer one.",
            code: "refresh_token_rotated",
        });
    }
    let reason = EndReason::RefreshTokenReuse;
    // The theft is logged before the ending (and even if ending it fails).
    let ended = end_one(state, (user_id, session_id), user_id, reason, ip, now);
    audit::refresh_reuse_detected(user_id, session_id, presented.generation, current, ip);
    ended.await?;
    Ok(ApiError::Unauthorized {
        detail: "This refresh token was already used; the session has been ended.",
        code: "refresh_token_reused",
    })
}
