//! Device Sessions API: everything the Lambda functions share.
//!
//! Each function binary builds an [`AppState`] once per cold start and hands every request to
//! one handler in [`handlers`]. The handlers read like their route's story; the pieces they use
//! live here: configuration, the DynamoDB store, token checks, device labelling, the error type
//! and the HTTP helpers.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod demo;
pub mod device;
pub mod error;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod keys;
pub mod logging;
pub mod model;
pub mod passwords;
pub mod refresh;
pub mod store;
pub mod tables;
pub mod time;

pub use config::Config;
pub use error::ApiError;
pub use store::Store;

use std::sync::Arc;

/// What a function builds once per cold start and reuses for every request.
#[derive(Clone)]
pub struct AppState {
    /// Settings read from the environment.
    pub config: Arc<Config>,
    /// DynamoDB access.
    pub store: Store,
    /// Access-token verification with the public keys.
    pub verifier: Arc<auth::TokenVerifier>,
    /// Paging cursors.
    pub cursors: Arc<cursor::CursorCodec>,
    /// argon2id hashing.
    pub passwords: passwords::PasswordHashing,
    /// Access-token signing: only in the functions that issue tokens.
    pub signer: Option<Arc<auth::TokenSigner>>,
}

impl AppState {
    /// Builds the state from a loaded configuration: the DynamoDB client and the verifier.
    pub async fn build(config: Config) -> Result<Self, error::StartupError> {
        let client = store::dynamodb_client(&config.dynamodb).await;
        let store = Store::new(client, config.tables.clone());
        let verifier = auth::TokenVerifier::new(&config.tokens)?;
        let cursors = cursor::CursorCodec::new(&config.cursor_key);
        let passwords = passwords::PasswordHashing::new(
            config.auth.password_hash_memory_kib,
            config.auth.password_hash_iterations,
        )
        .map_err(|reason| error::StartupError::Invalid {
            name: "PASSWORD_HASH_MEMORY_KIB",
            reason,
        })?;
        Ok(Self {
            config: Arc::new(config),
            store,
            verifier: Arc::new(verifier),
            cursors: Arc::new(cursors),
            passwords,
            signer: None,
        })
    }

    /// Adds the token signer: the private key from `SIGNING_KEY` (base64 PKCS#8) and
    /// `SIGNING_KEY_ID`, or the dev-only key where `APP_ENV=local` and none is set. A deployed
    /// function refuses the dev key, and a signing key whose public half is not among the
    /// verifying keys.
    pub fn with_signer_from_env(self) -> Result<Self, error::StartupError> {
        self.with_signer_from(|name| std::env::var(name).ok())
    }

    /// [`AppState::with_signer_from_env`] reading through `get`.
    pub fn with_signer_from(
        mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, error::StartupError> {
        let key = match (get("SIGNING_KEY"), self.config.app_env) {
            (Some(b64), _) => {
                let kid =
                    get("SIGNING_KEY_ID").ok_or(error::StartupError::Missing("SIGNING_KEY_ID"))?;
                keys::SigningKey::from_pkcs8_base64(kid, &b64)?
            }
            (None, config::AppEnv::Local) => keys::dev_signing_key(),
            (None, config::AppEnv::Deployed) => {
                return Err(error::StartupError::Missing("SIGNING_KEY"));
            }
        };
        let public = key.public_jwk();
        let dev = keys::dev_signing_key().public_jwk();
        if self.config.app_env == config::AppEnv::Deployed && public.x == dev.x {
            return Err(error::StartupError::DevKeyOutsideLocal);
        }
        if !self
            .config
            .tokens
            .public_keys
            .keys
            .iter()
            .any(|k| k.kid == public.kid && k.x == public.x)
        {
            return Err(error::StartupError::Invalid {
                name: "SIGNING_KEY",
                reason: "its public key is not in JWT_PUBLIC_KEYS under its kid".to_owned(),
            });
        }
        self.signer = Some(Arc::new(auth::TokenSigner::new(
            &key,
            &self.config.tokens,
            self.config.auth.access_token_ttl_seconds,
        )));
        Ok(self)
    }

    /// The token signer, or a 500 in a function built without one.
    pub fn signer(&self) -> Result<&auth::TokenSigner, ApiError> {
        self.signer
            .as_deref()
            .ok_or_else(|| ApiError::internal("this function has no signing key"))
    }

    /// Loads the configuration from the environment and builds the state: the one call each
    /// function's `main` makes before serving.
    pub async fn from_env() -> Result<Self, error::StartupError> {
        Self::build(Config::from_env()?).await
    }
}
