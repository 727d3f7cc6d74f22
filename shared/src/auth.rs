//! Who a request is: the bearer of a verified access token ([`crate::tokens`]) whose session
//! is usable, of an existing, enabled user (and, for admin routes, an active administrator),
//! read in one consistent batch per request; and whether they signed in recently enough.

use crate::AppState;
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::{Aal, Cutoffs, Session, User};
use crate::error::ApiError;
use crate::store::Store;
use crate::tokens::Bearer;
use lambda_http::Request;

fn unauthorized(detail: &'static str, code: &'static str) -> ApiError {
    ApiError::Unauthorized { detail, code }
}

fn session_ended() -> ApiError {
    unauthorized("The session has ended; sign in again.", "session_ended")
}

/// Moves the session's `last_activity` forward when it is stale. A failure here is logged and
/// does not fail the request: activity tracking is never worth a refused request.
async fn record_activity(store: &Store, session: &Session, now: i64, policy: &SessionPolicy) {
    if now - session.last_activity < policy.activity_write_interval_seconds {
        return;
    }
    if let Err(e) = store
        .touch_session(session.user_id, &session.session_id, now, policy)
        .await
    {
        tracing::warn!(error = %crate::error::cause_chain(&e), "last_activity not recorded");
    }
}

/// The signed-in user behind a request: a usable session of an existing user.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What the token says.
    pub bearer: Bearer,
    /// The user item, as of this request.
    pub user: User,
    /// The session the token belongs to.
    pub session: Session,
    /// The user's credential epoch and the global epoch, as of this request.
    pub cutoffs: Cutoffs,
    /// The other user an admin route asked for, read in the same request.
    pub other: Option<User>,
}

/// Reads the bearer's session and user (and `other`) in one consistent batch and checks the
/// session: 401 unless it is active at `now`, belongs to the user's current credential epoch
/// and the current global epoch, and the user still exists.
async fn load_caller(
    store: &Store,
    bearer: &Bearer,
    other: Option<UserId>,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Caller, ApiError> {
    let items = store
        .load_caller(bearer.user_id, &bearer.session_id, other)
        .await?;
    let found = items.session.zip(items.user).and_then(|(session, user)| {
        let cutoffs = Cutoffs::of(&user, items.global_epoch);
        session
            .is_usable(now, policy, &cutoffs)
            .then_some((session, user, cutoffs))
    });
    let Some((session, user, cutoffs)) = found else {
        tracing::info!(
            user_id = bearer.user_id.get(),
            session = %crate::domain::ids::hash_for_log(&bearer.session_id),
            "token of an ended or unknown session refused"
        );
        return Err(session_ended());
    };
    Ok(Caller {
        bearer: bearer.clone(),
        user,
        session,
        cutoffs,
        other: items.other,
    })
}

/// Authenticates a user request: the bearer's session must be usable and the user enabled
/// (else 401). Records activity at most once a minute.
pub async fn require_user(
    store: &Store,
    bearer: &Bearer,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Caller, ApiError> {
    let caller = load_caller(store, bearer, None, now, policy).await?;
    if caller.user.disabled {
        return Err(unauthorized(
            "This account is disabled.",
            "account_disabled",
        ));
    }
    record_activity(store, &caller.session, now, policy).await;
    Ok(caller)
}

/// Authorises an admin request: the bearer's session must be usable (else 401), the users
/// table must say the user is an admin and not disabled (else 403), and where
/// `ADMIN_REQUIRES_AAL2` is set the session must have been signed in with a second factor
/// (else 403 `mfa_required`). `target`, the user the route is about, is read in the same batch
/// ([`Caller::other`]).
pub async fn require_admin(
    store: &Store,
    bearer: &Bearer,
    target: Option<UserId>,
    now: i64,
    (policy, requires_aal2): (&SessionPolicy, bool),
) -> Result<Caller, ApiError> {
    let caller = load_caller(store, bearer, target, now, policy).await?;
    if caller.user.disabled {
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    if !caller.user.is_active_admin() {
        return Err(ApiError::Forbidden {
            detail: "Administrator role required.",
            code: "admin_required",
        });
    }
    if requires_aal2 && caller.session.aal() < Aal::Aal2 {
        return Err(ApiError::Forbidden {
            detail: "Administrator routes need a sign-in with a second factor (aal2): sign in \
                     again with your authenticator code or a recovery code, or have one enrolled.",
            code: "mfa_required",
        });
    }
    record_activity(store, &caller.session, now, policy).await;
    Ok(caller)
}

/// The 401 for a sign-in that is not recent enough (RFC 9470).
pub fn reauthentication_required() -> ApiError {
    unauthorized(
        "Confirm your password to do this (POST /auth/reauthenticate).",
        "reauthentication_required",
    )
}

/// Sensitive actions (ending any session but the current one, changing the password, admin
/// user updates) need a password proved in this session within `max_age_seconds` (OWASP ASVS
/// 5.0 V7.5.3), and a token issued at or after that proof (its refresh generation is at least
/// the one the proof started): a token issued before the latest sign-in (one stolen earlier,
/// say) never counts as recent. Else 401 `reauthentication_required`, answered by
/// `POST /auth/reauthenticate`.
pub fn require_recent_auth(
    caller: &Caller,
    now: i64,
    max_age_seconds: i64,
) -> Result<(), ApiError> {
    let auth_time = caller.session.auth_time();
    let issued_after = caller.bearer.generation >= caller.session.auth_generation;
    if issued_after && now - auth_time <= max_age_seconds {
        Ok(())
    } else {
        Err(reauthentication_required())
    }
}

impl Caller {
    /// Authenticates a user route's request: a valid access token (401 without I/O otherwise)
    /// of a usable session of an enabled user ([`require_user`]).
    pub async fn authenticate(state: &AppState, req: &Request, now: i64) -> Result<Self, ApiError> {
        let bearer = state.verifier.verify_headers(req.headers())?;
        Self::user(state, &bearer, now).await
    }

    /// The caller behind an already verified token, as a user route sees it ([`require_user`]).
    pub async fn user(state: &AppState, bearer: &Bearer, now: i64) -> Result<Self, ApiError> {
        require_user(&state.store, bearer, now, &state.config.sessions).await
    }

    /// The caller behind an already verified token, as an admin route sees it (401, then 403,
    /// then 403 `mfa_required` under `ADMIN_REQUIRES_AAL2`; [`require_admin`]), with `target`
    /// read in the same batch.
    pub async fn admin(
        state: &AppState,
        bearer: &Bearer,
        target: Option<UserId>,
        now: i64,
    ) -> Result<Self, ApiError> {
        let policy = (
            &state.config.sessions,
            state.config.auth.admin_requires_aal2,
        );
        require_admin(&state.store, bearer, target, now, policy).await
    }

    /// 401 `reauthentication_required` unless this caller proved their password recently
    /// enough ([`require_recent_auth`] with `REAUTH_MAX_AGE_SECONDS`).
    pub fn signed_in_recently(&self, state: &AppState, now: i64) -> Result<(), ApiError> {
        require_recent_auth(self, now, state.config.auth.reauth_max_age_seconds)
    }

    /// For changes to the caller's own second factor: 409 `mfa_not_enrolled` when they have
    /// none (nothing to prove), 401 `reauthentication_required` unless this caller proved
    /// their password recently enough ([`Caller::signed_in_recently`]), then 401
    /// `second_factor_required` unless that proof included a second factor (the session is at
    /// aal2: a later password-only re-authentication brings it back to aal1, so a recent
    /// `auth_time` at aal2 is a recent code). Someone with the password and a session that did
    /// not just prove the factor cannot remove or replace it (one holding a token of such a
    /// session within the window can: see docs/security.md, "Not proved here").
    pub fn proved_second_factor_recently(
        &self,
        state: &AppState,
        now: i64,
    ) -> Result<(), ApiError> {
        if !self.user.mfa_enabled {
            return Err(ApiError::mfa_not_enrolled());
        }
        self.signed_in_recently(state, now)?;
        if self.session.aal() < Aal::Aal2 {
            return Err(unauthorized(
                "Confirm your password with a code from your authenticator app or a recovery \
                 code to do this (POST /auth/reauthenticate with \"code\" or \"recovery_code\").",
                "second_factor_required",
            ));
        }
        Ok(())
    }
}

/// The request's input, or its error only once `caller` has checked out: a client without a
/// usable session (401) or the rights (403) learns nothing from how its input was judged.
pub async fn input_after<T>(
    caller: impl Future<Output = Result<Caller, ApiError>>,
    input: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match input {
        Ok(input) => Ok(input),
        Err(bad_input) => {
            caller.await?;
            Err(bad_input)
        }
    }
}
