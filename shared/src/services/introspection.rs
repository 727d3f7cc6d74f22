//! Token introspection for other backends (RFC 7662): whether an access token's session is
//! alive as of this request, so a revocation counts everywhere within one request, not when
//! the token expires. The answer is the same judgement this API's own routes make
//! ([`Caller::user`]: signature and claims, then one strongly consistent read of the session
//! and the user: ended, expired, idle, superseded by an epoch, or a disabled user are all
//! `active: false`). Using a session through another backend is using it: its last activity is
//! recorded (at most once a minute), so it does not go idle while the user works elsewhere.

use crate::AppState;
use crate::auth::Caller;
use crate::domain::{Aal, Amr, Role};
use crate::error::ApiError;
use serde::Serialize;

/// The answer (RFC 7662 §2.2): `{"active": false}` and nothing else for a token that is not
/// usable, whatever the reason (an introspecting backend learns nothing more from it).
#[derive(Debug, Serialize)]
pub struct Introspection {
    /// Whether the token may be accepted now.
    pub active: bool,
    /// What an active token stands for.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveToken>,
}

/// An active token's details: RFC 7662's `token_type`, `sub`, `iss`, `aud`, `iat`, `exp`;
/// OpenID's `sid`, `auth_time`, `amr`; `aal` and the user's `role` as the users table says it
/// now (never the token's claim).
#[derive(Debug, Serialize)]
pub struct ActiveToken {
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// This API's issuer.
    pub iss: String,
    /// This API's audience.
    pub aud: String,
    /// When the token was issued.
    pub iat: i64,
    /// When the token expires.
    pub exp: i64,
    /// When the session last proved the user's credentials.
    pub auth_time: i64,
    /// The session's assurance level.
    pub aal: Aal,
    /// How the session was authenticated.
    pub amr: Vec<Amr>,
    /// The user's role now.
    pub role: Role,
}

impl Introspection {
    fn inactive() -> Self {
        Self {
            active: false,
            token: None,
        }
    }
}

/// Introspects `token` at `now`. A token that does not verify, or whose session or user is not
/// usable, is inactive (200, not an error); only a failure to read the store is an error (503
/// or 500), never a guess either way.
pub async fn introspect(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Introspection, ApiError> {
    let Ok(bearer) = state.verifier.verify(token) else {
        return Ok(Introspection::inactive());
    };
    let caller = match Caller::user(state, &bearer, now).await {
        Ok(caller) => caller,
        Err(ApiError::Unauthorized { .. }) => return Ok(Introspection::inactive()),
        Err(e) => return Err(e),
    };
    let tokens = &state.config.tokens;
    let session = &caller.session;
    Ok(Introspection {
        active: true,
        token: Some(ActiveToken {
            token_type: "Bearer",
            sub: caller.user.user_id.to_string(),
            sid: session.session_id.clone(),
            iss: tokens.issuer.clone(),
            aud: tokens.audience.clone(),
            iat: bearer.issued_at,
            exp: bearer.expires_at,
            auth_time: session.auth_time(),
            aal: session.aal(),
            amr: session.amr.clone(),
            role: caller.user.role,
        }),
    })
}
