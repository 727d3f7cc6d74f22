//! `POST /auth/login`: email + password (+ an optional device name and type from native apps)
//! → an access token, a refresh token and the new session.
//!
//! The session records the device from the User-Agent and the source IP from API Gateway's
//! request context (never from a client header). A wrong password and an unknown email give
//! the same 401 after the same argon2 work; every attempt is first reserved on the password
//! throttle ([`crate::domain::throttle`]), which answers 429 with `Retry-After`. A disabled user gets
//! 403, and only after the right password. The session is stamped with the user's credential
//! epoch and stored only if that epoch still holds ([`crate::store::Store::put_session_in_epoch`]).
//!
//! Under `SESSION_LIMIT` a sign-in at the limit either ends the least recently active session
//! (reason `evicted`) or is refused with 409 (`SESSION_LIMIT_ACTION`); see [`crate::limits`].
//! Behind CloudFront the address and location come from its viewer headers (see
//! [`crate::http::viewer`]).

use crate::AppState;
use crate::audit;
use crate::domain::device::describe;
use crate::domain::ids::new_session_id;
use crate::domain::limits::Snapshot;
use crate::domain::time::now_epoch;
use crate::domain::{Cutoffs, DeviceNameSource, DeviceType, Session, SessionResponse, User};
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{json, json_body, user_agent, viewer};
use crate::limits;
use crate::password_check::{CheckFailed, PasswordCheck};
use crate::passwords::normalise_email;
use crate::refresh::new_family;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};

/// Longest client-sent device name kept.
pub const MAX_DEVICE_NAME_CHARS: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
    device_name: Option<String>,
    device_type: Option<DeviceType>,
}

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
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        detail: "Incorrect email or password.",
        code: "invalid_credentials",
    }
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: LoginBody = json_body(&req)?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let auth = &state.config.auth;
    let viewer = viewer(&req, state.config.origin_verify_secret.as_deref());
    let ip = viewer.ip.clone();
    let now = now_epoch();

    let Ok(email) = normalise_email(&body.email) else {
        state.passwords.verify_dummy(&body.password);
        return Err(invalid_credentials());
    };
    // The attempt is counted before anything else can happen (see `crate::domain::throttle`).
    let (user_id, check) = tokio::try_join!(
        store.user_id_by_email(&email),
        PasswordCheck::reserve(state, &email, &ip, now)
    )?;
    let (account, global_epoch) = tokio::try_join!(read_account(state, user_id, now), async {
        Ok(store.global_epoch().await?)
    })?;
    let (user, snapshot) = account.unzip();
    let snapshot = snapshot.flatten();
    let known = user
        .as_ref()
        .is_some_and(|u| u.known_networks.contains(&check.network_tag()));
    let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    match check.verify(known, &body.password, hash) {
        Ok(()) => {}
        Err(CheckFailed::Throttled(why, e)) => {
            audit::login_failed(&email, &ip, why.as_str());
            return Err(e);
        }
        Err(CheckFailed::Wrong) => {
            audit::login_failed(&email, &ip, "invalid_credentials");
            return Err(invalid_credentials());
        }
    }
    let Some(user) = user else {
        return Err(invalid_credentials());
    };
    if user.disabled {
        audit::login_failed(&email, &ip, "account_disabled");
        return Err(ApiError::Forbidden {
            detail: "This account is disabled.",
            code: "account_disabled",
        });
    }

    let user_id = user.user_id;
    let mut session = new_session(&req, &body, &user, &ip, now, state)?;
    session.location = viewer.location;
    session.global_epoch = global_epoch;
    let family = session.refresh_family.clone().unwrap_or_default();
    // The password was right: the client's throttle counter starts again and its network is
    // remembered, while the session is stored.
    let remembered = crate::domain::throttle::remember(&user.known_networks, &check.network_tag());
    let remember = async {
        match remembered {
            Some(known) => Ok(store.set_known_networks(user_id, &known).await?),
            None => Ok(()),
        }
    };
    let forget = async { Ok(check.succeeded().await?) };
    let ((user, session), (), ()) = tokio::try_join!(
        store_session(state, session, user, snapshot, &email, &ip, now),
        forget,
        remember
    )?;

    let access_token = state.signer()?.issue_for(&session, user.role, now)?;
    let refresh = state
        .refresh_key()?
        .issue(user.user_id, &session.session_id, &family, 0);
    audit::session_created(
        user.user_id,
        &session.session_id,
        &session.device_name,
        &ip,
        "login",
    );
    json(
        StatusCode::OK,
        &TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: auth.access_token_ttl_seconds,
            refresh_token: refresh.expose(),
            session: Some(session.to_response(
                now,
                policy,
                &Cutoffs::of(&user, global_epoch),
                Some(&session.session_id),
            )),
        },
    )
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
    user_id: Option<u64>,
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

/// A new session for `user` from this request's device, in the user's credential epoch, with
/// a fresh refresh-token family.
fn new_session(
    req: &Request,
    body: &LoginBody,
    user: &User,
    ip: &str,
    now: i64,
    state: &AppState,
) -> Result<Session, ApiError> {
    let mut device = describe(user_agent(req));
    let client_named =
        crate::domain::text::clean(body.device_name.as_deref(), MAX_DEVICE_NAME_CHARS);
    let source = match client_named {
        Some(name) => {
            device.device_name = name;
            DeviceNameSource::Client
        }
        None => DeviceNameSource::UserAgent,
    };
    if let Some(device_type) = body.device_type {
        device.device_type = device_type;
    }
    let internal = |e: ring::error::Unspecified| ApiError::internal(e.to_string());
    let session_id = new_session_id().map_err(internal)?;
    let mut session = Session::start(
        user.user_id,
        session_id,
        device,
        ip,
        now,
        &state.config.sessions,
    );
    session.device_name_source = source;
    session.credential_epoch = user.credential_epoch;
    session.refresh_family = Some(new_family().map_err(internal)?);
    Ok(session)
}
