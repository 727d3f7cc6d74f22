//! The second step of a sign-in with a second factor: a challenge from the password step and
//! a TOTP code (RFC 6238) or a recovery code start the session at AAL2.
//!
//! Enrolment ([`begin_enrolment`], [`confirm_enrolment`]) is what `POST /me/mfa/totp`,
//! `POST /me/mfa/totp/confirm` and `sessions-cli enrol-totp` do.
//!
//! Each step is one conditional write: the challenge takes a code only while unexpired, with
//! attempts left and from the password step's address and User-Agent; then one transaction
//! spends the challenge and the code together (a TOTP code's time step, or a recovery code,
//! each used once), so a challenge completes one sign-in and no code is spent for a
//! completion that lost. Every code
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
use crate::store::{Completion, FactorUse, SecondFactor};
use serde::Serialize;

/// The issuer an authenticator app shows next to the account.
pub const TOTP_ISSUER: &str = "Device Sessions";

/// How long an enrolment waits for its first code, in seconds.
pub const ENROLMENT_TTL_SECONDS: i64 = 600;

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
    // Disabled first: disabling also moves the epoch, and the user should learn why.
    if account.user.disabled {
        refused("account_disabled");
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    if account.user.credential_epoch != challenge.credential_epoch {
        // The password changed (or every session was ended) since the password step.
        refused("credentials_changed");
        return Err(invalid_challenge());
    }
    let known = account.user.known_networks.contains(&check.network_tag());
    if let Err(CheckFailed::Throttled(why, e)) = check.admit(known) {
        refused(why.as_str());
        return Err(e);
    }
    let Some(used) = verify_code(state, user_id, &account.factor, step.code, now)? else {
        refused("invalid_code");
        return Err(invalid_code());
    };
    match store.complete_challenge(&key, user_id, &used).await? {
        Completion::Completed => {}
        Completion::ChallengeGone => {
            refused("challenge_used");
            return Err(invalid_challenge());
        }
        Completion::CodeRefused => {
            refused("invalid_code");
            return Err(invalid_code());
        }
    }
    let second = method_of(&used);
    // The code was in the set as read, and the transaction removed it.
    let left =
        (second == Amr::Recovery).then(|| account.factor.recovery_codes.len().saturating_sub(1));
    if let Some(left) = left {
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
    let mut tokens =
        start_session(state, &origin, verified, email, vec![Amr::Pwd, second], now).await?;
    tokens.recovery_codes_left = left;
    Ok(tokens)
}

/// The method a used code proves.
pub(crate) fn method_of(used: &FactorUse) -> Amr {
    match used {
        FactorUse::TotpStep { .. } => Amr::Otp,
        FactorUse::RecoveryCode { .. } => Amr::Recovery,
    }
}

/// Checks `code` against the user's factor as read: what using it up writes, or `None` when it
/// is wrong, was used already, or there is no factor. Nothing is written here: the caller uses
/// it up with a conditional write, which refuses a code that a concurrent request used first.
pub(crate) fn verify_code(
    state: &AppState,
    user_id: UserId,
    factor: &SecondFactor,
    code: FactorCode<'_>,
    now: i64,
) -> Result<Option<FactorUse>, ApiError> {
    let keys = state.factor_keys()?;
    let Some(sealed) = factor.totp_secret.as_deref() else {
        return Ok(None);
    };
    match code {
        FactorCode::Totp(code) => {
            let bytes = keys
                .seal()
                .open(&totp::seal_context(user_id), sealed)
                .ok_or_else(|| ApiError::internal("a TOTP secret did not open under the key"))?;
            let secret = totp::Secret::from_bytes(bytes, totp::Algorithm::Sha1);
            Ok(secret
                .verify(code, now, factor.totp_last_step)
                .map(|step| FactorUse::TotpStep {
                    sealed: sealed.to_owned(),
                    step,
                }))
        }
        FactorCode::Recovery(code) => Ok(recovery::hash(keys.recovery(), user_id, code)
            .filter(|hash| factor.recovery_codes.contains(hash))
            .map(|hash| FactorUse::RecoveryCode { hash })),
    }
}

/// An enrolment begun: what the user adds to their authenticator app.
#[derive(Debug, Serialize)]
pub struct Enrolment {
    /// The secret, base32 (for typing it in).
    pub secret: String,
    /// The `otpauth://totp/` URI.
    #[serde(rename = "otpauth_uri")]
    pub uri: String,
    /// The URI as a QR code: an SVG document, for a client to show as it is.
    pub qr_svg: String,
    /// Seconds the enrolment waits for its first code.
    pub expires_in: i64,
}

/// `uri` as a QR code in SVG (error correction M, a quiet zone, at least 200 px).
fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// Begins (or restarts) the TOTP enrolment of `user_id`: a new secret, stored sealed and
/// pending until [`confirm_enrolment`]. 409 when the user already has a confirmed factor, 404
/// when there is no such user.
pub async fn begin_enrolment(
    state: &AppState,
    user_id: UserId,
    now: i64,
) -> Result<Enrolment, ApiError> {
    let (store, keys) = (&state.store, state.factor_keys()?);
    let user = store.get_user(user_id).await?.ok_or(ApiError::NotFound {
        detail: "No such user.",
        code: "user_not_found",
    })?;
    let internal = |e: ring::error::Unspecified| ApiError::internal(e.to_string());
    let secret = totp::Secret::generate().map_err(internal)?;
    let sealed = keys
        .seal()
        .seal(&totp::seal_context(user_id), secret.as_bytes())
        .map_err(internal)?;
    if !store.begin_totp(user_id, &sealed, now).await? {
        return Err(ApiError::Conflict {
            detail: "A second factor is already enrolled; remove it first.",
            code: "mfa_already_enrolled",
        });
    }
    let uri = secret.otpauth_uri(TOTP_ISSUER, &user.email);
    Ok(Enrolment {
        secret: secret.base32(),
        qr_svg: qr_svg(&uri)?,
        uri,
        expires_in: ENROLMENT_TTL_SECONDS,
    })
}

/// Confirms the pending enrolment of `user_id` with its first code: the factor is on, that
/// code's step used, and the ten recovery codes (stored hashed) are returned to be shown once.
/// `by` is who confirmed it (the user; `None` for the operator's CLI), for the events.
/// 400 `invalid_code` for a wrong code, 409 when there is no pending enrolment (none, expired
/// after [`ENROLMENT_TTL_SECONDS`], replaced, or confirmed already).
pub async fn confirm_enrolment(
    state: &AppState,
    user_id: UserId,
    code: &str,
    by: Option<UserId>,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let (store, keys) = (&state.store, state.factor_keys()?);
    let no_enrolment = || ApiError::Conflict {
        detail: "No enrolment is waiting for a code; begin one again.",
        code: "no_pending_enrolment",
    };
    let factor = store.second_factor(user_id).await?.unwrap_or_default();
    let fresh = factor
        .totp_pending_at
        .is_some_and(|at| at > now - ENROLMENT_TTL_SECONDS);
    let Some(sealed) = factor.totp_pending.as_deref().filter(|_| fresh) else {
        return Err(no_enrolment());
    };
    let bytes = keys
        .seal()
        .open(&totp::seal_context(user_id), sealed)
        .ok_or_else(|| ApiError::internal("a pending TOTP secret did not open under the key"))?;
    let secret = totp::Secret::from_bytes(bytes, totp::Algorithm::Sha1);
    let step = secret.verify(code, now, None).ok_or_else(|| {
        ApiError::bad_request(
            "The code is not correct; check the authenticator app's clock and try again.",
            "invalid_code",
        )
    })?;
    let (codes, hashes) = new_recovery_codes(state, user_id)?;
    let oldest = now - ENROLMENT_TTL_SECONDS;
    if !store
        .confirm_totp(user_id, sealed, oldest, step, &hashes, by)
        .await?
    {
        return Err(no_enrolment());
    }
    audit::second_factor_enrolled(user_id);
    Ok(codes)
}

/// Ten new recovery codes for `user_id`, and their keyed hashes (what is stored).
fn new_recovery_codes(
    state: &AppState,
    user_id: UserId,
) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let keys = state.factor_keys()?;
    let codes = recovery::generate().map_err(|e| ApiError::internal(e.to_string()))?;
    let hashes = codes
        .iter()
        .filter_map(|c| recovery::hash(keys.recovery(), user_id, c))
        .collect();
    Ok((codes, hashes))
}

/// Removes the second factor of `user_id` at their own request (the route has checked a recent
/// sign-in with it, [`crate::auth::Caller::proved_second_factor_recently`]): the TOTP secret,
/// the recovery codes and any pending enrolment, in one conditional write; audited. From the
/// next sign-in on, the password alone signs in; sessions keep the level they were signed in
/// at. 409 `mfa_not_enrolled` when there is nothing to remove (removed meanwhile, by another
/// request or an administrator); a pending enrolment alone is removed with a factor but is not
/// one (the route refuses a user without a confirmed factor first).
pub async fn remove(state: &AppState, user_id: UserId, ip: &str) -> Result<(), ApiError> {
    if !state
        .store
        .remove_second_factor(user_id, Some(user_id))
        .await?
    {
        return Err(ApiError::mfa_not_enrolled());
    }
    audit::second_factor_removed(user_id, user_id, ip);
    Ok(())
}

/// Replaces the recovery codes of `user_id` with ten new ones, shown this once (the route has
/// checked a recent sign-in with the second factor): every earlier code stops working and the
/// count of used codes starts again, in one conditional write; audited. 409
/// `mfa_not_enrolled` without a confirmed factor.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    user_id: UserId,
    ip: &str,
) -> Result<Vec<String>, ApiError> {
    let (codes, hashes) = new_recovery_codes(state, user_id)?;
    if !state.store.replace_recovery_codes(user_id, &hashes).await? {
        return Err(ApiError::mfa_not_enrolled());
    }
    audit::recovery_codes_regenerated(user_id, ip);
    Ok(codes)
}
