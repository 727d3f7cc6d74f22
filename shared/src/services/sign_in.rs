//! Signing in with email and password: a new session and its tokens.
//!
//! A wrong password and an unknown email give the same 401 after the same argon2 work; every
//! attempt is first reserved on the password throttle ([`crate::domain::throttle`]), which
//! answers 429 with `Retry-After`. A disabled user gets 403, and only after the right password.
//! The session is stamped with the user's credential epoch and stored only if that epoch still
//! holds ([`crate::store::Store::put_session_in_epoch`]). Under `SESSION_LIMIT` a sign-in at the
//! limit either ends the least recently active session (reason `evicted`) or is refused with
//! 409 (`SESSION_LIMIT_ACTION`); see [`crate::services::limits`].
//!
//! A user with a second factor gets no session from the password: the right password yields a
//! challenge ([`crate::domain::challenge`]) that [`crate::services::second_factor`] completes
//! with a code. The throttle's counter is not cleared, nor the network remembered, until then.

use crate::AppState;
use crate::audit;
use crate::domain::assurance::password_only;
use crate::domain::challenge::{
    CHALLENGE_TTL_SECONDS, Challenge, challenge_key, new_challenge, user_agent_hash,
};
use crate::domain::device::describe;
use crate::domain::ids::new_session_id;
use crate::domain::limits::Snapshot;
use crate::domain::throttle::remember;
use crate::domain::{Amr, Cutoffs, DeviceNameSource, DeviceType, Location, Session, User, UserId};
use crate::error::ApiError;
use crate::passwords::normalise_email;
use crate::services::credentials::PasswordCheck;
use crate::services::limits;
use crate::services::tokens::{TokenResponse, issue};
use crate::store::Account;
use crate::tokens::refresh::new_family;
use serde::Serialize;

/// Longest client-sent device name kept.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// Where a sign-in comes from: the device and the client's address.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    /// The request's User-Agent: the device's labels.
    pub user_agent: &'a str,
    /// A name the client gives its device (native apps), shown as the client's own claim.
    pub device_name: Option<&'a str>,
    /// The device type the client states, over the User-Agent's.
    pub device_type: Option<DeviceType>,
    /// The client's address (API Gateway's, or CloudFront's viewer address).
    pub ip: &'a str,
    /// Where the client is, when CloudFront says so.
    pub location: Option<Location>,
}

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// Email as typed.
    pub email: &'a str,
    /// Password as typed.
    pub password: &'a str,
    /// The device and address.
    pub origin: Origin<'a>,
}

/// What a right password yields.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum SignedIn {
    /// A new session's tokens.
    Tokens(Box<TokenResponse>),
    /// The user has a second factor: a challenge to complete with a code.
    SecondFactor(ChallengeResponse),
}

/// The password step of a sign-in with a second factor.
#[derive(Debug, Serialize)]
pub struct ChallengeResponse {
    /// Always `true`: no tokens yet.
    pub mfa_required: bool,
    /// Single use; sent back to `POST /auth/mfa` with a code, from the same address and device.
    pub challenge: String,
    /// Seconds the challenge can be completed in.
    pub expires_in: i64,
    /// What completes it: `totp`, `recovery_code`.
    pub methods: [&'static str; 2],
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "Incorrect email or password.",
        code: "invalid_credentials",
    }
}

/// Checks the password and starts a session (its tokens, with the session as the API shows
/// it), or, for a user with a second factor, a challenge.
pub async fn sign_in(
    state: &AppState,
    attempt: SignIn<'_>,
    now: i64,
) -> Result<SignedIn, ApiError> {
    let Ok(email) = normalise_email(attempt.email) else {
        state.passwords.verify_dummy(attempt.password);
        return Err(invalid_credentials());
    };
    let verified = verify_password(state, &attempt, &email, now).await?;
    let origin = attempt.origin;
    if verified.factor_enrolled {
        let challenge = challenge(state, &origin, &email, &verified.user, now).await?;
        return Ok(SignedIn::SecondFactor(challenge));
    }
    let tokens = start_session(state, &origin, verified, &email, password_only(), now).await?;
    Ok(SignedIn::Tokens(Box::new(tokens)))
}

/// Stores a challenge for the password step of `user` and hands it out.
async fn challenge(
    state: &AppState,
    origin: &Origin<'_>,
    email: &str,
    user: &User,
    now: i64,
) -> Result<ChallengeResponse, ApiError> {
    let internal = |e: ring::error::Unspecified| ApiError::internal(e.to_string());
    let token = new_challenge().map_err(internal)?;
    let key = challenge_key(&token).ok_or_else(|| ApiError::internal("a malformed challenge"))?;
    let expires_at = now + CHALLENGE_TTL_SECONDS;
    let item = Challenge {
        email: key,
        user_id: user.user_id,
        login_email: email.to_owned(),
        ip: origin.ip.to_owned(),
        user_agent_hash: user_agent_hash(origin.user_agent),
        device_name: origin.device_name.map(str::to_owned),
        device_type: origin.device_type,
        location: origin.location.clone(),
        credential_epoch: user.credential_epoch,
        expires_at,
        ttl: expires_at + CHALLENGE_TTL_SECONDS,
        attempts: 0,
    };
    state.store.put_challenge(&item).await?;
    audit::second_factor_challenged(user.user_id, origin.ip);
    Ok(ChallengeResponse {
        mfa_required: true,
        challenge: token,
        expires_in: CHALLENGE_TTL_SECONDS,
        methods: ["totp", "recovery_code"],
    })
}

/// Starts the session of a verified sign-in, authenticated by `amr`: the throttle's client
/// counter is cleared and the network remembered while the session is stored; its tokens,
/// with the session as the API shows it.
pub(crate) async fn start_session(
    state: &AppState,
    origin: &Origin<'_>,
    verified: Verified<'_>,
    email: &str,
    amr: Vec<Amr>,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let (store, ip) = (&state.store, origin.ip);
    let Verified {
        user,
        snapshot,
        check,
        global_epoch,
        ..
    } = verified;
    let user_id = user.user_id;
    let mut session = new_session(state, origin, &user, now)?;
    session.global_epoch = global_epoch;
    session.amr = amr;
    // The sign-in succeeded: the client's throttle counter starts again and its network is
    // remembered, while the session is stored.
    let remembered = remember(&user.known_networks, &check.network_tag());
    let remember = async {
        match remembered {
            Some(known) => Ok(store.set_known_networks(user_id, &known).await?),
            None => Ok(()),
        }
    };
    let forget = async { Ok(check.succeeded().await?) };
    let ((user, session), (), ()) = tokio::try_join!(
        store_session(state, session, user, snapshot, email, ip, now),
        forget,
        remember
    )?;

    let mut tokens = issue(state, &session, user.role, now)?;
    let device = &session.device_name;
    let via = if session.aal() == crate::domain::Aal::Aal2 {
        "login_second_factor"
    } else {
        "login"
    };
    audit::session_created(user_id, &session.session_id, device, ip, via);
    let cutoffs = Cutoffs::of(&user, global_epoch);
    let policy = &state.config.sessions;
    tokens.session = Some(session.to_response(now, policy, &cutoffs, Some(&session.session_id)));
    Ok(tokens)
}

/// A sign-in whose first factor was right, for an enabled user.
pub(crate) struct Verified<'a> {
    /// The user.
    pub(crate) user: User,
    /// The user's sessions as the session limit sees them (when a limit is set).
    pub(crate) snapshot: Option<Snapshot>,
    /// The throttle reservation, released once the session is stored.
    pub(crate) check: PasswordCheck<'a>,
    /// The global epoch read with the user.
    pub(crate) global_epoch: u64,
    /// Whether the user has a confirmed second factor.
    pub(crate) factor_enrolled: bool,
}

/// Reserves the attempt on the throttle, reads the account and checks the password: a wrong
/// password and an unknown email fail alike (401, same argon2 work); a disabled user learns it
/// (403) only with the right password.
async fn verify_password<'a>(
    state: &'a AppState,
    attempt: &SignIn<'_>,
    email: &'a str,
    now: i64,
) -> Result<Verified<'a>, ApiError> {
    let (store, ip) = (&state.store, attempt.origin.ip);
    // The attempt is counted before anything else can happen (see `crate::domain::throttle`).
    let (user_id, check) = tokio::try_join!(
        store.user_id_by_email(email),
        PasswordCheck::reserve(state, email, ip, now)
    )?;
    let (account, global_epoch) = read_with_epoch(state, user_id, now).await?;
    let (account, snapshot) = account.unzip();
    let factor_enrolled = account.as_ref().is_some_and(|a| a.factor.is_enrolled());
    let user = account.map(|a| a.user);
    let known = user
        .as_ref()
        .is_some_and(|u| u.known_networks.contains(&check.network_tag()));
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let failed = |why: &str| audit::login_failed(email, ip, why);
    let wrong = invalid_credentials();
    check.verify_or_refuse(known, attempt.password, hash, failed, (wrong.code(), wrong))?;
    let Some(user) = user else {
        return Err(invalid_credentials());
    };
    if user.disabled {
        failed("account_disabled");
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }
    Ok(Verified {
        user,
        snapshot: snapshot.flatten(),
        check,
        global_epoch,
        factor_enrolled,
    })
}

/// Stores the new session in the credential epoch it was stamped with. A password change,
/// disable or "end all sessions" that commits first makes the sign-in decide again: with the
/// same password hash and still enabled it is stamped with the new epoch, otherwise it is
/// refused like a wrong password.
async fn store_session(
    state: &AppState,
    mut session: Session,
    mut user: User,
    mut snapshot: Option<Snapshot>,
    email: &str,
    ip: &str,
    now: i64,
) -> Result<(User, Session), ApiError> {
    let (store, auth, policy) = (&state.store, &state.config.auth, &state.config.sessions);
    for _ in 0..3 {
        let stored = match snapshot.take() {
            Some(first) => limits::put_within_limit(store, &session, first, auth, ip, now, policy)
                .await?
                .is_some(),
            None => store.put_session_in_epoch(&session).await?,
        };
        if stored {
            return Ok((user, session));
        }
        let (fresh, snap) = read_account(state, Some(user.user_id), now).await?.unzip();
        let fresh = fresh.map(|a| a.user);
        let still = fresh.filter(|f| !f.disabled && f.password_hash == user.password_hash);
        let Some(fresh) = still else {
            audit::login_failed(email, ip, "credentials_changed");
            return Err(invalid_credentials());
        };
        session.credential_epoch = fresh.credential_epoch;
        (user, snapshot) = (fresh, snap.flatten());
    }
    Err(ApiError::internal("the credential epoch kept moving"))
}

/// [`read_account`] and the global epoch, concurrently.
pub(crate) async fn read_with_epoch(
    state: &AppState,
    user_id: Option<UserId>,
    now: i64,
) -> Result<(Option<(Account, Option<Snapshot>)>, u64), ApiError> {
    let epoch = async { Ok(state.store.global_epoch().await?) };
    tokio::try_join!(read_account(state, user_id, now), epoch)
}

/// The user behind an email (with their second factor), and when a limit is set their
/// session-limit slots and active sessions (read concurrently).
async fn read_account(
    state: &AppState,
    user_id: Option<UserId>,
    now: i64,
) -> Result<Option<(Account, Option<Snapshot>)>, ApiError> {
    let store = &state.store;
    let Some(id) = user_id else { return Ok(None) };
    if state.config.auth.session_limit == 0 {
        return Ok(store.get_account(id).await?.map(|a| (a, None)));
    }
    let (account, active) = tokio::try_join!(
        store.get_account(id),
        store.active_sessions(id, now, &state.config.sessions)
    )?;
    Ok(account.map(|account| {
        let snapshot = Snapshot {
            credential_epoch: account.user.credential_epoch,
            slots: account.slots.clone(),
            active,
        };
        (account, Some(snapshot))
    }))
}

/// A new session for `user` from the attempt's device, in the user's credential epoch, with a
/// fresh refresh-token family.
fn new_session(
    state: &AppState,
    attempt: &Origin<'_>,
    user: &User,
    now: i64,
) -> Result<Session, ApiError> {
    let mut device = describe(attempt.user_agent);
    let client_named = crate::domain::text::clean(attempt.device_name, MAX_DEVICE_NAME_CHARS);
    let source = match client_named {
        Some(name) => {
            device.device_name = name;
            DeviceNameSource::Client
        }
        None => DeviceNameSource::UserAgent,
    };
    if let Some(device_type) = attempt.device_type {
        device.device_type = device_type;
    }
    let internal = |e: ring::error::Unspecified| ApiError::internal(e.to_string());
    let session_id = new_session_id().map_err(internal)?;
    let policy = &state.config.sessions;
    let mut session = Session::start(user.user_id, session_id, device, attempt.ip, now, policy);
    session.device_name_source = source;
    session.credential_epoch = user.credential_epoch;
    session.refresh_family = Some(new_family().map_err(internal)?);
    session.location = attempt.location.clone();
    session.signin_location = attempt.location.clone();
    Ok(session)
}
