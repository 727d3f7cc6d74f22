//! The second step of a sign-in with a second factor: a challenge from the password step and
//! a TOTP code (RFC 6238) or a recovery code start the session at AAL2.
//!
//! Each step is one conditional write: the challenge takes a code only while unexpired, with
//! attempts left and from the password step's address and User-Agent; a TOTP code's time step
//! is used once; a recovery code is used once; the challenge completes one sign-in. Every code
//! is counted on the password throttle first (a right password does not clear it, only a
//! completed sign-in does), so guessing codes is limited like guessing passwords.

use crate::AppState;
use crate::audit;
use crate::domain::challenge::{challenge_key, user_agent_hash};
use crate::domain::{Amr, UserId, recovery, totp};
use crate::error::ApiError;
use crate::services::credentials::{CheckFailed, PasswordCheck};
use crate::services::sign_in::{Origin, Verified, read_with_epoch, start_session};
use crate::services::tokens::TokenResponse;
use crate::store::SecondFactor;

/// A code for the second step.
#[derive(Debug, Clone, Copy)]
pub enum FactorCode<'a> {
    /// Six digits from the authenticator app.
    Totp(&'a str),
    /// One of the recovery codes.
    Recovery(&'a str),
}

/// The second step of a sign-in.
#[derive(Debug, Clone)]
pub struct SecondStep<'a> {
    /// The challenge the password step returned.
    pub challenge: &'a str,
    /// The code.
    pub code: FactorCode<'a>,
    /// The request's User-Agent: it must be the password step's.
    pub user_agent: &'a str,
    /// The client's address: it must be the password step's.
    pub ip: &'a str,
}

fn invalid_challenge() -> ApiError {
    ApiError::Unauthorized {
        detail: "The sign-in challenge is not valid, has expired or was used; sign in again.",
        code: "invalid_challenge",
    }
}

fn invalid_code() -> ApiError {
    ApiError::Unauthorized {
        detail: "The code is not correct.",
        code: "invalid_code",
    }
}

/// Completes a sign-in with its second factor: the new session's tokens, with the session.
pub async fn complete_sign_in(
    state: &AppState,
    step: SecondStep<'_>,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let (store, ip) = (&state.store, step.ip);
    let refused = |user: Option<UserId>, why: &str| audit::second_factor_failed(user, ip, why);
    let key = challenge_key(step.challenge).ok_or_else(invalid_challenge)?;
    let ua = user_agent_hash(step.user_agent);
    let Some(challenge) = store.count_challenge_attempt(&key, ip, &ua, now).await? else {
        refused(None, "invalid_challenge");
        return Err(invalid_challenge());
    };
    let (user_id, email) = (challenge.user_id, challenge.login_email.as_str());
    let refused = |why: &str| refused(Some(user_id), why);
    let (check, (account, global_epoch)) = tokio::try_join!(
        async { Ok(PasswordCheck::reserve(state, email, ip, now).await?) },
        read_with_epoch(state, Some(user_id), now)
    )?;
    let Some((account, snapshot)) = account else {
        refused("invalid_challenge");
        return Err(invalid_challenge());
    };
    if account.user.credential_epoch != challenge.credential_epoch {
        // The password changed (or every session was ended) since the password step.
        refused("credentials_changed");
        return Err(invalid_challenge());
    }
    if account.user.disabled {
        refused("account_disabled");
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    let known = account.user.known_networks.contains(&check.network_tag());
    if let Err(CheckFailed::Throttled(why, e)) = check.admit(known) {
        refused(why.as_str());
        return Err(e);
    }
    let second = match check_code(state, user_id, &account.factor, step.code, now).await? {
        Some(method) => method,
        None => {
            refused("invalid_code");
            return Err(invalid_code());
        }
    };
    if !store.consume_challenge(&key).await? {
        refused("challenge_used");
        return Err(invalid_challenge());
    }
    if second == Amr::Recovery {
        let left = account.factor.recovery_codes.len().saturating_sub(1);
        audit::recovery_code_used(user_id, left, ip);
    }
    let origin = Origin {
        user_agent: step.user_agent,
        device_name: challenge.device_name.as_deref(),
        device_type: challenge.device_type,
        ip,
        location: challenge.location.clone(),
    };
    let verified = Verified {
        user: account.user,
        snapshot,
        check,
        global_epoch,
        factor_enrolled: true,
    };
    start_session(state, &origin, verified, email, vec![Amr::Pwd, second], now).await
}

/// Checks `code` against the user's factor and uses it up: the method it proves, or `None`
/// when it is wrong, was used already, or there is no factor.
async fn check_code(
    state: &AppState,
    user_id: UserId,
    factor: &SecondFactor,
    code: FactorCode<'_>,
    now: i64,
) -> Result<Option<Amr>, ApiError> {
    let (store, keys) = (&state.store, state.factor_keys()?);
    match code {
        FactorCode::Totp(code) => {
            let Some(sealed) = factor.totp_secret.as_deref() else {
                return Ok(None);
            };
            let bytes = keys
                .seal()
                .open(&totp::seal_context(user_id), sealed)
                .ok_or_else(|| ApiError::internal("a TOTP secret did not open under the key"))?;
            let secret = totp::Secret::from_bytes(bytes, totp::Algorithm::Sha1);
            let Some(step) = secret.verify(code, now, factor.totp_last_step) else {
                return Ok(None);
            };
            let used = store.use_totp_step(user_id, sealed, step).await?;
            Ok(used.then_some(Amr::Otp))
        }
        FactorCode::Recovery(code) => {
            let Some(hash) = recovery::hash(keys.recovery(), user_id, code) else {
                return Ok(None);
            };
            let used = factor.is_enrolled() && store.use_recovery_code(user_id, &hash).await?;
            Ok(used.then_some(Amr::Recovery))
        }
    }
}
