//! Demo data for the local stack and the event-replay tests: an admin, and user 74 with
//! sessions on several real devices (one of them ended).

use crate::auth::TokenSigner;
use crate::config::SessionPolicy;
use crate::device::describe;
use crate::ids::new_session_id;
use crate::model::{Role, Session, User};
use crate::passwords::PasswordHashing;
use crate::refresh::RefreshToken;
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// The demo admin.
pub const ADMIN_ID: u64 = 1;
/// The user the admin panel asks about.
pub const USER_ID: u64 = 74;
/// A plain user with no sessions.
pub const PLAIN_USER_ID: u64 = 75;
/// The password of every demo user (local stack only).
pub const DEMO_PASSWORD: &str = "demo-password-123";

/// The demo users, with `password_hash` the hash of [`DEMO_PASSWORD`].
pub fn users(now: i64, password_hash: &str) -> Vec<User> {
    let user = |user_id, email: &str, display_name: &str, role| User {
        user_id,
        email: email.to_owned(),
        display_name: display_name.to_owned(),
        role,
        password_hash: Some(password_hash.to_owned()),
        disabled: false,
        created_at: now - 90 * 86_400,
    };
    vec![
        user(ADMIN_ID, "admin@example.com", "Ada Admin", Role::Admin),
        user(USER_ID, "jane@example.com", "Jane Doe", Role::User),
        user(PLAIN_USER_ID, "sam@example.com", "Sam Smith", Role::User),
    ]
}

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

/// Starts and stores a new session for `user_id` from a User-Agent and IP.
pub async fn start_session(
    store: &Store,
    user_id: u64,
    user_agent: &str,
    ip: &str,
    now: i64,
    policy: &SessionPolicy,
) -> Result<Session, StoreError> {
    let id = new_session_id().map_err(|e| StoreError::Failed {
        operation: "random",
        source: Box::new(std::io::Error::other(e.to_string())),
    })?;
    let session = Session::start(user_id, id, describe(user_agent), ip, now, policy);
    store.put_new_session(&session).await?;
    Ok(session)
}

/// Seeds the demo users and user 74's sessions. Returns `false` (and writes nothing) when the
/// data is already there, so running `make dev` twice works.
pub async fn seed(
    store: &Store,
    passwords: &PasswordHashing,
    now: i64,
    policy: &SessionPolicy,
) -> Result<bool, StoreError> {
    let hash = passwords
        .hash(DEMO_PASSWORD)
        .map_err(|e| StoreError::Failed {
            operation: "hash",
            source: Box::new(std::io::Error::other(e.to_string())),
        })?;
    for user in users(now, &hash) {
        match store.create_user(&user).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    store.raise_user_id_floor(PLAIN_USER_ID).await?;
    for (ua, ip, started, used, ended) in DEVICES {
        let id = new_session_id().map_err(|e| StoreError::Failed {
            operation: "random",
            source: Box::new(std::io::Error::other(e.to_string())),
        })?;
        let mut session = Session::start(USER_ID, id, describe(ua), ip, now - started * 60, policy);
        session.last_activity = now - used * 60;
        if *ended {
            session.revoked_at = Some(session.last_activity);
            session.revoked_by = Some(ADMIN_ID);
            session.revoked_reason = Some("admin".to_owned());
            session.ttl = Session::ttl_for(session.last_activity, policy);
        }
        store.put_new_session(&session).await?;
    }
    Ok(true)
}

/// Values for the placeholders of the `events/` files, each backed by a fresh session so the
/// events replay in any order of directories: `{{admin_token}}` (the admin), `{{user_token}}`
/// (plain user 75), `{{ended_session_token}}` (an admin session already ended),
/// `{{logout_token}}` (a session of user 75 to sign out), `{{user_refresh_token}}` (a refresh
/// token of user 75), `{{user_other_session_id}}` and `{{target_session_id}}` (other sessions of user 75) and
/// `{{admin_session_id}}` (the admin's session). User 74's demo sessions are left as seeded.
/// The demo data must be seeded.
pub async fn event_tokens(
    store: &Store,
    signer: &TokenSigner,
    now: i64,
    policy: &SessionPolicy,
) -> Result<BTreeMap<&'static str, String>, Box<dyn std::error::Error + Send + Sync>> {
    const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15";
    let admin = start_session(store, ADMIN_ID, UA, "192.0.2.10", now, policy).await?;
    let user = start_session(store, PLAIN_USER_ID, UA, "192.0.2.11", now, policy).await?;
    let ended = start_session(store, ADMIN_ID, UA, "192.0.2.10", now, policy).await?;
    store
        .end_session(ADMIN_ID, &ended.session_id, ADMIN_ID, "logout", now, policy)
        .await?;
    let logout = start_session(store, PLAIN_USER_ID, UA, "192.0.2.11", now, policy).await?;
    let other = start_session(store, PLAIN_USER_ID, UA, "192.0.2.12", now, policy).await?;
    let target = start_session(store, PLAIN_USER_ID, UA, "192.0.2.13", now, policy).await?;
    let refresh_id = new_session_id().map_err(|e| e.to_string())?;
    let refresh = RefreshToken::issue(PLAIN_USER_ID, &refresh_id).map_err(|e| e.to_string())?;
    let mut refreshable = Session::start(
        PLAIN_USER_ID,
        refresh_id,
        describe(UA),
        "192.0.2.14",
        now,
        policy,
    );
    refreshable.refresh_hash = Some(refresh.hash());
    store.put_new_session(&refreshable).await?;
    Ok(BTreeMap::from([
        (
            "admin_token",
            signer.issue(ADMIN_ID, &admin.session_id, Role::Admin, now)?,
        ),
        (
            "user_token",
            signer.issue(PLAIN_USER_ID, &user.session_id, Role::User, now)?,
        ),
        (
            "ended_session_token",
            signer.issue(ADMIN_ID, &ended.session_id, Role::Admin, now)?,
        ),
        (
            "logout_token",
            signer.issue(PLAIN_USER_ID, &logout.session_id, Role::User, now)?,
        ),
        ("user_refresh_token", refresh.expose()),
        ("user_other_session_id", other.session_id),
        ("target_session_id", target.session_id),
        ("admin_session_id", admin.session_id),
    ]))
}

/// Replaces `{{name}}` placeholders in an event file with tokens.
pub fn render_event(template: &str, tokens: &BTreeMap<&'static str, String>) -> String {
    tokens
        .iter()
        .fold(template.to_owned(), |text, (name, token)| {
            text.replace(&format!("{{{{{name}}}}}"), token)
        })
}
