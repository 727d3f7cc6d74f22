//! Demo data for the local stack and the event-replay tests: an admin, an admin with a second
//! factor (TOTP, dev-only secret), and user 74 with sessions on several real devices (one of
//! them ended).

use crate::AppState;
use crate::domain::SessionPolicy;
use crate::domain::UserId;
use crate::domain::device::describe;
use crate::domain::ids::new_session_id;
use crate::domain::{Amr, EndReason, Role, Session, challenge, recovery, totp};
use crate::error::ApiError;
use crate::services::accounts::{NewUser, create_user};
use crate::services::sign_in::{Origin, SignIn, SignedIn, sign_in};
use crate::store::{Store, StoreError};
use crate::tokens::TokenSigner;
use crate::tokens::link::{LINK_LIFETIME_SECONDS, LinkKey};
use crate::tokens::refresh::{RefreshKey, new_family};
use std::collections::BTreeMap;

/// The demo admin.
pub const ADMIN_ID: UserId = UserId::of(1);
/// The user the admin panel asks about.
pub const USER_ID: UserId = UserId::of(74);
/// A plain user with no sessions.
pub const PLAIN_USER_ID: UserId = UserId::of(75);
/// The demo admin with a second factor (TOTP): signs in in two steps.
pub const TOTP_ADMIN_ID: UserId = UserId::of(2);
/// Their email.
pub const TOTP_ADMIN_EMAIL: &str = "ops@example.com";
/// Their TOTP secret (base32, for an authenticator app or `oathtool --totp -b`): RFC 6238's
/// test seed, dev-only like everything here.
pub const DEMO_TOTP_SECRET_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// Their recovery codes (dev-only).
pub const DEMO_RECOVERY_CODES: [&str; 10] = [
    "demoa-codes",
    "demob-codes",
    "democ-codes",
    "demod-codes",
    "demoe-codes",
    "demof-codes",
    "demog-codes",
    "demoh-codes",
    "demoi-codes",
    "demoj-codes",
];
/// The password of every demo user (local stack only).
pub const DEMO_PASSWORD: &str = "demo-password-123";

/// The demo users: (id, email, display name, role). Ids are explicit because the admin panel's
/// demo asks for user 74.
const USERS: [(UserId, &str, &str, Role); 4] = [
    (ADMIN_ID, "admin@example.com", "Ada Admin", Role::Admin),
    (TOTP_ADMIN_ID, TOTP_ADMIN_EMAIL, "Olu Ops", Role::Admin),
    (USER_ID, "jane@example.com", "Jane Doe", Role::User),
    (PLAIN_USER_ID, "sam@example.com", "Sam Smith", Role::User),
];

/// User 74's devices: (User-Agent, IP, started minutes ago, last used minutes ago, ended).
const DEVICES: &[(&str, &str, i64, i64, bool)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "192.168.1.1",
        315,
        5,
        false,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "203.0.113.24",
        2 * 1440,
        42,
        false,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
        "198.51.100.7",
        6 * 1440,
        1440,
        false,
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "192.168.1.20",
        10 * 1440,
        3 * 1440,
        true,
    ),
];

/// Starts and stores a new session for `user_id` from a User-Agent and IP, in the user's
/// current credential epoch and the current global epoch (no password involved: for demo data,
/// tests and `sessions-cli token`).
pub async fn start_session(
    store: &Store,
    user_id: UserId,
    user_agent: &str,
    ip: &str,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Session, StoreError> {
    let id = new_session_id().map_err(|e| StoreError::Failed {
        operation: "random",
        source: Box::new(std::io::Error::other(e.to_string())),
    })?;
    let mut session = Session::start(user_id, id, describe(user_agent), ip, now, policy);
    let (user, global_epoch) = tokio::try_join!(store.get_user(user_id), store.global_epoch())?;
    session.credential_epoch = user.map(|u| u.credential_epoch).unwrap_or(0);
    session.global_epoch = global_epoch;
    store.put_new_session(&session).await?;
    Ok(session)
}

/// Seeds the demo data through the service's own paths: the users through the sign-up rules
/// (with explicit ids), user 74's sessions through the sign-in service from four real devices,
/// then aged so the demo shows a realistic history, one of them ended by the admin. Returns
/// `false` (and writes nothing) when the data is already there, so `make dev` runs twice.
/// `state` must hold a signer.
pub async fn seed(state: &AppState, now: i64) -> Result<bool, ApiError> {
    // The demo history predates any session limit the stack runs with.
    let mut unlimited = state.clone();
    std::sync::Arc::make_mut(&mut unlimited.config)
        .auth
        .session_limit = 0;
    let state = &unlimited;
    let store = &state.store;
    let policy = &state.config.sessions;
    for (user_id, email, display_name, role) in USERS {
        let new = NewUser {
            email,
            password: DEMO_PASSWORD,
            display_name: Some(display_name),
            role,
            user_id: Some(user_id),
        };
        match create_user(store, &state.passwords, new, now).await {
            Ok(_) => {}
            Err(ApiError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    store.raise_user_id_floor(PLAIN_USER_ID.get()).await?;
    enrol_demo_totp(state, now).await?;
    for (ua, ip, started, used, ended) in DEVICES {
        let attempt = SignIn {
            email: "jane@example.com",
            password: DEMO_PASSWORD,
            origin: Origin {
                user_agent: ua,
                device_name: None,
                device_type: None,
                ip,
                location: None,
            },
        };
        let SignedIn::Tokens(signed_in) = sign_in(state, attempt, now).await? else {
            return Err(ApiError::internal(
                "a demo user without a second factor was challenged",
            ));
        };
        let session_id = signed_in.session.map(|s| s.id).unwrap_or_default();
        let session_id = session_id.as_str();
        let mut session = store
            .get_session(USER_ID, session_id)
            .await?
            .ok_or_else(|| ApiError::internal("the demo session was not stored"))?;
        session.created_at = now - started * 60;
        session.last_activity = now - used * 60;
        session.auth_time = Some(session.created_at);
        session.expires_at = session.created_at + policy.absolute_lifetime_seconds;
        session.ttl = Session::ttl_for(session.expires_at, policy);
        store.replace_session(&session).await?;
        if *ended {
            store
                .end_session(
                    USER_ID,
                    session_id,
                    ADMIN_ID,
                    EndReason::Admin,
                    session.last_activity,
                    policy,
                )
                .await?;
        }
    }
    Ok(true)
}

/// Gives the TOTP demo admin their second factor ([`give_demo_factor`]).
async fn enrol_demo_totp(state: &AppState, now: i64) -> Result<(), ApiError> {
    give_demo_factor(state, TOTP_ADMIN_ID, now).await
}

/// Gives `id` the demo second factor, as an enrolment confirmed with a code would: the
/// dev-only secret sealed under the function's key, the demo recovery codes hashed; its codes
/// of now's step and later unused. `state` must hold the second factor's keys.
pub async fn give_demo_factor(state: &AppState, id: UserId, now: i64) -> Result<(), ApiError> {
    let keys = state.factor_keys()?;
    let secret = demo_secret()?;
    let sealed = keys
        .seal()
        .seal(&totp::seal_context(id), secret.as_bytes())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let hashes: Vec<String> = DEMO_RECOVERY_CODES
        .iter()
        .filter_map(|code| recovery::hash(keys.recovery(), id, code))
        .collect();
    // Steps up to two before now count as used: the codes of now and its window are not.
    let used = totp::step_at(now).unwrap_or_default().saturating_sub(2);
    let store = &state.store;
    let confirmed = store.begin_totp(id, &sealed, now).await?
        && store
            .confirm_totp(id, &sealed, now - 1, used, &hashes, None)
            .await?;
    if !confirmed {
        return Err(ApiError::internal("the demo second factor was not stored"));
    }
    Ok(())
}

fn demo_secret() -> Result<totp::Secret, ApiError> {
    totp::Secret::from_base32(DEMO_TOTP_SECRET_BASE32)
        .ok_or_else(|| ApiError::internal("the demo TOTP secret is not base32"))
}

/// The current TOTP code of the demo admin with a second factor.
pub fn demo_totp_code(now: i64) -> Result<String, ApiError> {
    let step = totp::step_at(now).ok_or_else(|| ApiError::internal("a time before 1970"))?;
    demo_totp_code_at(step)
}

/// The demo secret's TOTP code of time step `step`.
pub fn demo_totp_code_at(step: u64) -> Result<String, ApiError> {
    Ok(demo_secret()?.code(step))
}

/// Values for the placeholders of the `events/` files, each backed by a fresh session so the
/// events replay in any order of directories: `{{admin_token}}` (the admin), `{{user_token}}`
/// (plain user 75), `{{ended_session_token}}` (an admin session already ended),
/// `{{logout_token}}` (a session of user 75 to sign out), `{{user_refresh_token}}` (a refresh
/// token of user 75), `{{user_other_session_id}}` and `{{target_session_id}}` (other sessions of user 75) and
/// `{{admin_session_id}}` (the admin's session), `{{mfa_challenge}}` (a sign-in challenge of
/// the TOTP demo admin from [`EVENT_IP`] and [`EVENT_USER_AGENT`]) and `{{totp_code}}` (their
/// code now). User 74's demo sessions are left as seeded.
/// The demo data must be seeded.
pub async fn event_tokens(
    store: &Store,
    signer: &TokenSigner,
    refresh_key: &RefreshKey,
    now: i64,
    policy: &SessionPolicy,
) -> Result<BTreeMap<&'static str, String>, Box<dyn std::error::Error + Send + Sync>> {
    const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
    let admin = start_session(store, ADMIN_ID, UA, "192.0.2.10", now, policy).await?;
    let user = start_session(store, PLAIN_USER_ID, UA, "192.0.2.11", now, policy).await?;
    let ended = start_session(store, ADMIN_ID, UA, "192.0.2.10", now, policy).await?;
    store
        .end_session(
            ADMIN_ID,
            &ended.session_id,
            ADMIN_ID,
            EndReason::Logout,
            now,
            policy,
        )
        .await?;
    let logout = start_session(store, PLAIN_USER_ID, UA, "192.0.2.11", now, policy).await?;
    let other = start_session(store, PLAIN_USER_ID, UA, "192.0.2.12", now, policy).await?;
    let target = start_session(store, PLAIN_USER_ID, UA, "192.0.2.13", now, policy).await?;
    let refresh_id = new_session_id().map_err(|e| e.to_string())?;
    let family = new_family().map_err(|e| e.to_string())?;
    let refresh = refresh_key.issue(PLAIN_USER_ID, &refresh_id, &family, 0);
    let mut refreshable = Session::start(
        PLAIN_USER_ID,
        refresh_id,
        describe(UA),
        "192.0.2.14",
        now,
        policy,
    );
    refreshable.refresh_family = Some(family);
    let (account, global_epoch) =
        tokio::try_join!(store.get_user(PLAIN_USER_ID), store.global_epoch())?;
    refreshable.credential_epoch = account.map(|u| u.credential_epoch).unwrap_or(0);
    refreshable.global_epoch = global_epoch;
    store.put_new_session(&refreshable).await?;
    let challenge = demo_challenge(store, now).await?;
    // A sign-in its user reports from an alert: the link, and one altered to live longer.
    let reported = start_session(store, PLAIN_USER_ID, UA, "192.0.2.15", now, policy).await?;
    let expires = now + LINK_LIFETIME_SECONDS;
    let link = LinkKey::dev().issue(PLAIN_USER_ID, &reported.session_id, expires);
    let altered = link.replacen(&format!(".{expires}."), &format!(".{}.", expires + 3600), 1);
    Ok(BTreeMap::from([
        ("not_me_token", link),
        ("not_me_token_altered", altered),
        ("mfa_challenge", challenge),
        ("totp_code", demo_totp_code(now)?),
        ("admin_token", signer.issue_for(&admin, Role::Admin, now)?),
        ("user_token", signer.issue_for(&user, Role::User, now)?),
        (
            "ended_session_token",
            signer.issue_for(&ended, Role::Admin, now)?,
        ),
        ("logout_token", signer.issue_for(&logout, Role::User, now)?),
        ("user_refresh_token", refresh.expose()),
        ("user_other_session_id", other.session_id),
        ("target_session_id", target.session_id),
        ("admin_session_id", admin.session_id),
    ]))
}

/// The address and User-Agent of the `events/` files' requests: a sign-in challenge is bound
/// to them.
pub const EVENT_IP: &str = "203.0.113.50";
/// See [`EVENT_IP`].
pub const EVENT_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// A sign-in challenge of the TOTP demo admin, as their password step from the events'
/// address and browser would leave it.
async fn demo_challenge(
    store: &Store,
    now: i64,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    challenge_for(store, TOTP_ADMIN_ID, TOTP_ADMIN_EMAIL, now).await
}

/// A sign-in challenge of `user_id` (who must exist and have a second factor), as their
/// password step with `login_email` from the events' address and browser would leave it.
pub async fn challenge_for(
    store: &Store,
    user_id: UserId,
    login_email: &str,
    now: i64,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let token = challenge::new_challenge().map_err(|e| e.to_string())?;
    let key = challenge::challenge_key(&token).ok_or("a malformed challenge")?;
    let user = store
        .get_user(user_id)
        .await?
        .ok_or("no such user (is the demo data seeded?)")?;
    let expires_at = now + challenge::CHALLENGE_TTL_SECONDS;
    store
        .put_challenge(&challenge::Challenge {
            email: key,
            user_id,
            login_email: login_email.to_owned(),
            ip: EVENT_IP.to_owned(),
            user_agent_hash: challenge::user_agent_hash(EVENT_USER_AGENT),
            device_name: None,
            device_type: None,
            location: None,
            credential_epoch: user.credential_epoch,
            expires_at,
            ttl: expires_at,
            attempts: 0,
        })
        .await?;
    Ok(token)
}

/// Values for the placeholders of the enrolment's `events/` files: user 75 (whose session
/// `{{user_token}}` is) gets a TOTP enrolment waiting for its first code, with the demo secret,
/// and `{{enrolment_code}}` is its code now. No session is added: user 74's demo history stays
/// as seeded. `state` must hold the second factor's keys.
pub async fn enrolment_tokens(
    state: &AppState,
    now: i64,
) -> Result<BTreeMap<&'static str, String>, Box<dyn std::error::Error + Send + Sync>> {
    // Refused only when user 75 has a confirmed factor already (someone confirmed this
    // enrolment on the local stack): the confirm event then answers 409.
    begin_demo_enrolment(state, PLAIN_USER_ID, now).await?;
    Ok(BTreeMap::from([("enrolment_code", demo_totp_code(now)?)]))
}

/// `user_id` gets a TOTP enrolment with the demo secret waiting for its first code (refused,
/// silently, when the user has a confirmed factor). `state` must hold the second factor's keys.
pub async fn begin_demo_enrolment(
    state: &AppState,
    user_id: UserId,
    now: i64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let secret = demo_secret()?;
    let sealed = state
        .factor_keys()?
        .seal()
        .seal(&totp::seal_context(user_id), secret.as_bytes())
        .map_err(|e| e.to_string())?;
    state.store.begin_totp(user_id, &sealed, now).await?;
    Ok(())
}

/// The users of the events that change a second factor or end every session, one per event so
/// they replay in any order: (placeholder, id, email). Explicit ids far above the demo's, so
/// users registered on the local stack (from 76 on, as the README's walkthrough shows) keep
/// their numbers.
const FACTOR_EVENT_USERS: [(&str, UserId, &str); 3] = [
    ("factor_token", UserId::of(901), "lee@example.com"),
    ("factor_removal_token", UserId::of(902), "kim@example.com"),
    ("everywhere_token", UserId::of(903), "max@example.com"),
];

/// Values for the placeholders of the `events/` files that change a second factor or end every
/// session: `{{factor_token}}`, `{{factor_removal_token}}` and `{{everywhere_token}}`, each a
/// session just signed in with the
/// password and a TOTP code (aal2, recent) of a user who has the demo second factor. The users
/// are created on first use and their factor given afresh each time, so the events replay
/// again on the local stack (within `REAUTH_MAX_AGE_SECONDS` of rendering). `state` must hold a signer and the second factor's
/// keys.
pub async fn factor_tokens(
    state: &AppState,
    now: i64,
) -> Result<BTreeMap<&'static str, String>, Box<dyn std::error::Error + Send + Sync>> {
    let mut tokens = BTreeMap::new();
    for (placeholder, user_id, email) in FACTOR_EVENT_USERS {
        ensure_demo_user(state, user_id, email, now).await?;
        tokens.insert(
            placeholder,
            factor_session_token(state, user_id, now).await?,
        );
    }
    Ok(tokens)
}

/// Creates `user_id` with `email` and the demo password through the sign-up rules, unless an
/// earlier call did.
pub async fn ensure_demo_user(
    state: &AppState,
    user_id: UserId,
    email: &str,
    now: i64,
) -> Result<(), ApiError> {
    let new = NewUser {
        email,
        password: DEMO_PASSWORD,
        display_name: None,
        role: Role::User,
        user_id: Some(user_id),
    };
    match create_user(&state.store, &state.passwords, new, now).await {
        // Created by an earlier call: the same user.
        Ok(_) | Err(ApiError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The access token of a session of `user_id` (who must exist) just signed in with the
/// password and a TOTP code (aal2, recent); the user's factor given afresh (the demo one).
/// `state` must hold a signer and the second factor's keys.
pub async fn factor_session_token(
    state: &AppState,
    user_id: UserId,
    now: i64,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    const UA: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let (store, policy) = (&state.store, &state.config.sessions);
    // A factor left by an earlier replay (or removed by one) makes way for the demo one.
    store.remove_second_factor(user_id, None).await?;
    give_demo_factor(state, user_id, now).await?;
    let mut session = Session::start(
        user_id,
        new_session_id().map_err(|e| e.to_string())?,
        describe(UA),
        "192.0.2.15",
        now,
        policy,
    );
    session.amr = vec![Amr::Pwd, Amr::Otp];
    let user = store
        .get_user(user_id)
        .await?
        .ok_or("the event user is gone")?;
    session.credential_epoch = user.credential_epoch;
    session.global_epoch = store.global_epoch().await?;
    store.put_new_session(&session).await?;
    Ok(state.signer()?.issue_for(&session, Role::User, now)?)
}

/// Replaces `{{name}}` placeholders in an event file with tokens.
pub fn render_event(template: &str, tokens: &BTreeMap<&'static str, String>) -> String {
    tokens
        .iter()
        .fold(template.to_owned(), |text, (name, token)| {
            text.replace(&format!("{{{{{name}}}}}"), token)
        })
}
