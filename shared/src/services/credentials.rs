//! Proving and changing a password. Every password check (sign-in, re-authentication,
//! password change) goes through [`PasswordCheck`]: the attempt is reserved on the throttle
//! ([`crate::domain::throttle`]) before argon2 runs, and a success clears the client's counter.

use crate::AppState;
use crate::audit;
use crate::auth::Caller;
use crate::domain::assurance::password_only;
use crate::domain::throttle::{Refusal, Reservation, network, network_tag};
use crate::domain::{Amr, EndReason, Session, UserId};
use crate::error::ApiError;
use crate::passwords::check_password_policy;
use crate::services::second_factor::{self, FactorCode, method_of, verify_code};
use crate::services::sessions::end_other_sessions;
use crate::services::tokens::{TokenResponse, issue};
use crate::store::{SecondFactor, StoreError};

/// One password check in progress.
pub struct PasswordCheck<'a> {
    state: &'a AppState,
    email: &'a str,
    network: String,
    reservation: Reservation,
}

/// Why a check did not verify.
#[derive(Debug)]
pub enum CheckFailed {
    /// The throttle refused the attempt before argon2 ran (429).
    Throttled(Refusal, ApiError),
    /// The password is wrong (or the account has none, or does not exist).
    Wrong,
}

impl<'a> PasswordCheck<'a> {
    /// Reserves an attempt for `email` from the client at `ip`: one conditional update on each
    /// of the two counters, concurrently.
    pub async fn reserve(
        state: &'a AppState,
        email: &'a str,
        ip: &str,
        now: i64,
    ) -> Result<Self, StoreError> {
        let network = network(ip);
        let policy = state.config.auth.throttle();
        let reservation = state
            .store
            .reserve_password_attempt(email, &network, &policy, now)
            .await?;
        Ok(Self {
            state,
            email,
            network,
            reservation,
        })
    }

    /// The tag under which this client's network is remembered on the user item.
    pub fn network_tag(&self) -> String {
        network_tag(&self.network)
    }

    /// Decides the throttle (`known_client`: the account knows this client's network, or the
    /// client holds one of its sessions), then verifies `password` against `hash` with
    /// argon2id; without a hash the same work is spent on a dummy, so that the time taken does
    /// not tell which accounts exist.
    pub fn verify(
        &self,
        known_client: bool,
        password: &str,
        hash: Option<&str>,
    ) -> Result<(), CheckFailed> {
        self.admit(known_client)?;
        let passwords = &self.state.passwords;
        let verified = match hash {
            Some(hash) => passwords.verify(password, hash),
            None => {
                passwords.verify_dummy(password);
                false
            }
        };
        if verified {
            Ok(())
        } else {
            Err(CheckFailed::Wrong)
        }
    }

    /// Decides the throttle alone (`known_client` as for [`PasswordCheck::verify`]): for a
    /// second factor's code, whose guesses count on the same counters as passwords.
    pub fn admit(&self, known_client: bool) -> Result<(), CheckFailed> {
        self.reservation
            .decide(known_client)
            .map_err(|t| CheckFailed::Throttled(t.why, t.into()))
    }

    /// [`PasswordCheck::verify`], with the refusal audited through `failed` (the throttle's
    /// reason, or `wrong_reason`) and answered: the throttle's 429, or `wrong` for a wrong
    /// password.
    pub fn verify_or_refuse(
        &self,
        known_client: bool,
        password: &str,
        hash: Option<&str>,
        failed: impl Fn(&str),
        (wrong_reason, wrong): (&str, ApiError),
    ) -> Result<(), ApiError> {
        match self.verify(known_client, password, hash) {
            Ok(()) => Ok(()),
            Err(CheckFailed::Throttled(why, e)) => {
                failed(why.as_str());
                Err(e)
            }
            Err(CheckFailed::Wrong) => {
                failed(wrong_reason);
                Err(wrong)
            }
        }
    }

    /// After a success: the client's counter starts again (the account's does not).
    pub async fn succeeded(&self) -> Result<(), StoreError> {
        self.state
            .store
            .forget_password_attempts(self.email, &self.network)
            .await
    }
}

/// Changes the caller's password after a recent sign-in and a check of the current one, and
/// ends every other session of the user in the same transaction. Returns how many were active.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    current_password: &str,
    new_password: &str,
    ip: &str,
    now: i64,
) -> Result<usize, ApiError> {
    caller.signed_in_recently(state, now)?;
    let (user_id, session_id) = (caller.user.user_id, caller.session.session_id.as_str());
    let failed = |why: &str| audit::password_change_failed(user_id, session_id, ip, why);
    let check = PasswordCheck::reserve(state, &caller.user.email, ip, now).await?;
    let current_hash = caller.user.password_hash.as_deref();
    let wrong = ApiError::Forbidden {
        detail: "The current password is not correct.",
        code: "invalid_current_password",
    };
    check.verify_or_refuse(
        true,
        current_password,
        current_hash,
        failed,
        (wrong.code(), wrong),
    )?;
    check_password_policy(new_password)?;
    if new_password == current_password {
        return Err(ApiError::bad_request(
            "the new password must differ from the current one",
            "password_unchanged",
        ));
    }
    let new_hash = state.passwords.hash(new_password)?;
    let raced = ApiError::Conflict {
        detail: "The password or the sessions changed at the same moment; sign in again.",
        code: "password_changed_concurrently",
    };
    let password = Some((current_hash.unwrap_or_default(), new_hash.as_str()));
    let reason = EndReason::PasswordChanged;
    // For a user with a second factor the count of attempts is cleared by a code only (see
    // `reauthenticate`): a right password must not make room for more code guesses.
    let forget = async {
        if !caller.user.mfa_enabled {
            check.succeeded().await?;
        }
        Ok(())
    };
    let (revoked, ()) = tokio::try_join!(
        end_other_sessions(state, caller, password, reason, raced, now),
        forget
    )?;
    audit::password_changed(user_id, revoked, ip);
    if revoked > 0 {
        audit::sessions_ended(user_id, user_id, None, revoked, reason, ip);
    }
    Ok(revoked)
}

/// The 403 for a wrong password where the caller is signed in.
fn wrong_password() -> ApiError {
    ApiError::Forbidden {
        detail: "The password is not correct.",
        code: "invalid_password",
    }
}

/// `code` checked against the caller's second factor (`factor`, as read) and used up: the
/// method it proves. 400 for a user without one, 403 `invalid_code` for a wrong or used code.
async fn second_factor(
    state: &AppState,
    user_id: UserId,
    factor: &SecondFactor,
    code: FactorCode<'_>,
    now: i64,
) -> Result<Amr, ApiError> {
    if !factor.is_enrolled() {
        return Err(ApiError::bad_request(
            "There is no second factor to confirm; send the password alone.",
            "mfa_not_enrolled",
        ));
    }
    let wrong = ApiError::Forbidden {
        detail: "The code is not correct.",
        code: "invalid_code",
    };
    let Some(used) = verify_code(state, user_id, factor, code, now)? else {
        return Err(wrong);
    };
    if !state.store.use_factor(user_id, &used).await? {
        return Err(wrong);
    }
    Ok(method_of(&used))
}

/// Turns on the caller's pending TOTP enrolment with its first `code`, after their current
/// `password` (throttled like every password check): a stolen token alone, however recent,
/// cannot put its own second factor on the account. The recovery codes, shown once.
pub async fn confirm_enrolment(
    state: &AppState,
    caller: &Caller,
    (password, code): (&str, &str),
    ip: &str,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    caller.signed_in_recently(state, now)?;
    let user_id = caller.user.user_id;
    let failed = |why: &str| audit::second_factor_failed(Some(user_id), ip, why);
    let check = PasswordCheck::reserve(state, &caller.user.email, ip, now).await?;
    let (hash, wrong) = (caller.user.password_hash.as_deref(), wrong_password());
    check.verify_or_refuse(true, password, hash, failed, (wrong.code(), wrong))?;
    let by = Some(user_id);
    let codes = second_factor::confirm_enrolment(state, user_id, code, by, now).await?;
    check.succeeded().await?;
    Ok(codes)
}

/// Confirms the caller's password in their session (RFC 9470 step-up), and with `code` their
/// second factor too: the session records the moment, the refresh generation it starts and
/// what was proved (`amr`: the password alone makes it `aal1`, with a code `aal2`, so a recent
/// `auth_time` always goes with the methods that made it), and fresh tokens of that generation
/// are issued. Returns the session as it is now and its tokens.
pub async fn reauthenticate(
    state: &AppState,
    caller: &Caller,
    (password, code): (&str, Option<FactorCode<'_>>),
    ip: &str,
    now: i64,
) -> Result<(Session, TokenResponse), ApiError> {
    let (store, policy) = (&state.store, &state.config.sessions);
    let (user_id, session_id) = (caller.user.user_id, caller.session.session_id.as_str());
    let failed = |why: &str| audit::reauthentication_failed(user_id, session_id, ip, why);
    // With a code, the second factor is read while the attempt is reserved.
    let factor = async {
        match code {
            Some(_) => Ok::<_, ApiError>(store.second_factor(user_id).await?.unwrap_or_default()),
            None => Ok(SecondFactor::default()),
        }
    };
    let reserve = async {
        Ok::<_, ApiError>(PasswordCheck::reserve(state, &caller.user.email, ip, now).await?)
    };
    let (check, factor) = tokio::try_join!(reserve, factor)?;
    let hash = caller.user.password_hash.as_deref();
    // The caller holds one of the account's sessions: the per-account ceiling does not apply
    // to their password. It does to a second factor's code sent from a network the account
    // never signed in from, as at sign-in: someone with a stolen token and the password must
    // not guess codes faster than a sign-in could, and the owner at home is not locked out.
    let known = code.is_none() || caller.user.known_networks.contains(&check.network_tag());
    let wrong = wrong_password();
    check.verify_or_refuse(known, password, hash, failed, (wrong.code(), wrong))?;
    let mut amr = password_only();
    if let Some(code) = code {
        amr.push(
            second_factor(state, user_id, &factor, code, now)
                .await
                .inspect_err(|e| failed(e.code()))?,
        );
    }
    // For a user with a second factor only a code clears the client's count, as at sign-in:
    // the password alone, right every time, must not make room for more code guesses.
    let clears = code.is_some() || !caller.user.mfa_enabled;
    let forget = async {
        if clears {
            check.succeeded().await
        } else {
            Ok(())
        }
    };
    let generation = caller.session.refresh_generation;
    let (session, ()) = tokio::try_join!(
        store.reauthenticate_session(user_id, session_id, (generation, &amr), now, policy),
        forget
    )?;
    // Not written: the session ended meanwhile (401), or was refreshed at the same moment,
    // which moved its generation (409: try again).
    let Some(session) = session else {
        let now_active = store
            .get_session(user_id, session_id)
            .await?
            .is_some_and(|s| s.status(now, policy) == crate::domain::SessionStatus::Active);
        return Err(if now_active {
            ApiError::Conflict {
                detail: "The session was refreshed at the same moment; try again.",
                code: "session_changed_concurrently",
            }
        } else {
            ApiError::Unauthorized {
                detail: "The session has ended; sign in again.",
                code: "session_ended",
            }
        });
    };
    let tokens = issue(state, &session, caller.user.role, now)?;
    audit::reauthenticated(user_id, session_id, ip);
    Ok((session, tokens))
}
