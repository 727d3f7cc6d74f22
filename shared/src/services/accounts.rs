//! Creating users: shared by `POST /auth/register` and the admin CLI, so both apply the same
//! email rules, password policy, hashing and id allocation.

use crate::AppState;
use crate::audit;
use crate::domain::{Role, User, UserId};
use crate::error::ApiError;
use crate::passwords::{PasswordHashing, check_password_policy, normalise_email};
use crate::store::{Store, StoreError};

/// Longest display name kept.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// What a new account needs.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Email as typed; normalised here.
    pub email: &'a str,
    /// Password; checked against the policy here.
    pub password: &'a str,
    /// Display name; defaults to the email's local part.
    pub display_name: Option<&'a str>,
    /// Role.
    pub role: Role,
    /// An explicit user id (demo data, migrations from an older system); `None` allocates one.
    pub user_id: Option<UserId>,
}

/// Validates and creates a user with a fresh id: 400 for bad input, 409 `email_taken`, 503
/// when the store keeps failing. User and email are written in one transaction, so a failure
/// never leaves one without the other. For the operator (the CLI, demo data): the
/// `user.created` event says the service did it; [`register`] is the user's own sign-up.
pub async fn create_user(
    store: &Store,
    passwords: &PasswordHashing,
    new: NewUser<'_>,
    now: i64,
) -> Result<User, ApiError> {
    create(store, passwords, new, false, now).await
}

/// [`create_user`], recording the new user as the one who made it when they `signed_up`.
async fn create(
    store: &Store,
    passwords: &PasswordHashing,
    new: NewUser<'_>,
    signed_up: bool,
    now: i64,
) -> Result<User, ApiError> {
    let email = normalise_email(new.email)?;
    check_password_policy(new.password)?;
    let display_name = crate::domain::text::clean(new.display_name, MAX_DISPLAY_NAME_CHARS)
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let password_hash = passwords.hash(new.password)?;
    // Ids taken by users created with explicit ids are skipped. A transaction cancelled by a
    // concurrent one is retried once (it then sees the winner's email); a store that keeps
    // failing is a 503, whatever the ids it used up.
    let mut transient_retries = 1;
    for _ in 0..5 {
        let user_id = match new.user_id {
            Some(id) => id,
            None => store.allocate_user_id().await?,
        };
        let user = User {
            user_id,
            email: email.clone(),
            display_name: display_name.clone(),
            role: new.role,
            password_hash: Some(password_hash.clone()),
            disabled: false,
            created_at: now,
            credential_epoch: 0,
            known_networks: Vec::new(),
            mfa_enabled: false,
            changed_by: signed_up.then_some(user_id.get()),
            epoch_reason: None,
        };
        match store.create_user(&user).await {
            Ok(()) => return Ok(user),
            Err(StoreError::AlreadyExists) => {
                return Err(ApiError::Conflict {
                    detail: "An account with this email already exists.",
                    code: "email_taken",
                });
            }
            Err(StoreError::IdTaken) if new.user_id.is_none() => continue,
            Err(StoreError::IdTaken) => {
                return Err(ApiError::Conflict {
                    detail: "A user with this id already exists.",
                    code: "user_id_taken",
                });
            }
            Err(e) if e.is_transient() && transient_retries > 0 => transient_retries -= 1,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("could not allocate a user id"))
}

/// 403 `registration_disabled` unless `POST /auth/register` is open (`REGISTRATION_ENABLED`).
pub fn registration_open(state: &AppState) -> Result<(), ApiError> {
    if state.config.auth.registration_enabled {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            detail: "Registration is closed.",
            code: "registration_disabled",
        })
    }
}

/// Signs up a user (role `user`, a fresh id) from a client at `ip`.
pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    display_name: Option<&str>,
    ip: &str,
    now: i64,
) -> Result<User, ApiError> {
    registration_open(state)?;
    let new = NewUser {
        email,
        password,
        display_name,
        role: Role::User,
        user_id: None,
    };
    let user = create(&state.store, &state.passwords, new, true, now).await?;
    audit::user_registered(user.user_id, ip);
    Ok(user)
}
