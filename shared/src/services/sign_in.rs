//! Signing in with email and password: a new session and its tokens.
//!
//! A wrong password and an unknown email give the same 401 after the same argon2 work; every
//! attempt is first reserved on the password throttle ([`crate::domain::throttle`]), which
//! answers 429 with `Retry-After`. A disabled user gets 403, and only after the right password.
//! The session is stamped with the user's credential epoch and stored only if that epoch still
//! holds ([`crate::store::Store::put_session_in_epoch`]). Under `SESSION_LIMIT` a sign-in at the
//! limit either ends the least recently active session (reason `evicted`) or is refused with
//! 409 (`SESSION_LIMIT_ACTION`); see [`crate::services::limits`].

use crate::AppState;
use crate::audit;
use crate::domain::device::describe;
use crate::domain::ids::new_session_id;
use crate::domain::limits::Snapshot;
use crate::domain::throttle::remember;
use crate::domain::{Cutoffs, DeviceNameSource, DeviceType, Location, Session, User, UserId};
use crate::error::ApiError;
use crate::passwords::normalise_email;
use crate::services::credentials::PasswordCheck;
use crate::services::limits;
use crate::services::tokens::{TokenResponse, issue};
use crate::tokens::refresh::new_family;

/// Longest client-sent device name kept.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

/// A sign-in attempt.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// Email as typed.
    pub email: &'a str,
    /// Password as typed.
    pub password: &'a str,
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

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "Incorrect email or password.",
        code: "invalid_credentials",
    }
}

/// Checks the password and starts a session: its tokens, with the session as the API shows it.
pub async fn sign_in(
    state: &AppState,
    attempt: SignIn<'_>,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let (store, ip) = (&state.store, attempt.ip);
    let Ok(email) = normalise_email(attempt.email) else {
        state.passwords.verify_dummy(attempt.password);
        return Err(invalid_credentials());
    };
    let Verified {
        user,
        snapshot,
        check,
        global_epoch,
    } = verify_password(state, &attempt, &email, now).await?;
    let user_id = user.user_id;
    let mut session = new_session(state, &attempt, &user, now)?;
    session.global_epoch = global_epoch;
    // The password was right: the client's throttle counter starts again and its network is
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
        store_session(state, session, user, snapshot, &email, ip, now),
        forget,
        remember
    )?;

    let mut tokens = issue(state, &session, user.role, now)?;
    let device = &session.device_name;
    audit::session_created(user_id, &session.session_id, device, ip, "login");
    let cutoffs = Cutoffs::of(&user, global_epoch);
    let policy = &state.config.sessions;
    tokens.session = Some(session.to_response(now, policy, &cutoffs, Some(&session.session_id)));
    Ok(tokens)
}

/// A sign-in whose password was right, for an enabled user.
struct Verified<'a> {
    user: User,
    /// The user's sessions as the session limit sees them (when a limit is set).
    snapshot: Option<Snapshot>,
    /// The throttle reservation, released once the session is stored.
    check: PasswordCheck<'a>,
    /// The global epoch read with the user.
    global_epoch: u64,
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
    let (store, ip) = (&state.store, attempt.ip);
    // The attempt is counted before anything else can happen (see `crate::domain::throttle`).
    let (user_id, check) = tokio::try_join!(
        store.user_id_by_email(email),
        PasswordCheck::reserve(state, email, ip, now)
    )?;
    let (account, global_epoch) = tokio::try_join!(read_account(state, user_id, now), async {
        Ok(store.global_epoch().await?)
    })?;
    let (user, snapshot) = account.unzip();
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

/// The user behind an email, with their session-limit slots and active sessions when a limit
/// is set (read concurrently).
async fn read_account(
    state: &AppState,
    user_id: Option<UserId>,
    now: i64,
) -> Result<Option<(User, Option<Snapshot>)>, ApiError> {
    let store = &state.store;
    let Some(id) = user_id else { return Ok(None) };
    if state.config.auth.session_limit == 0 {
        return Ok(store.get_user(id).await?.map(|u| (u, None)));
    }
    let (user, active) = tokio::try_join!(
        store.get_user_with_slots(id),
        store.active_sessions(id, now, &state.config.sessions)
    )?;
    Ok(user.map(|(user, slots)| {
        let snapshot = Snapshot {
            credential_epoch: user.credential_epoch,
            slots,
            active,
        };
        (user, Some(snapshot))
    }))
}

/// A new session for `user` from the attempt's device, in the user's credential epoch, with a
/// fresh refresh-token family.
fn new_session(
    state: &AppState,
    attempt: &SignIn<'_>,
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
    Ok(session)
}
