//! Device Sessions API: everything the Lambda functions share.
//!
//! Each function binary builds an [`AppState`] once per cold start and hands every request to
//! one handler in [`handlers`]. The handlers read like their route's story; the pieces they use
//! live here: configuration, the DynamoDB store, token checks, device labelling, the error type
//! and the HTTP helpers.

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
}

impl AppState {
    /// Builds the state from a loaded configuration: the DynamoDB client and the verifier.
    pub async fn build(config: Config) -> Result<Self, error::StartupError> {
        let client = store::dynamodb_client(&config.dynamodb).await;
        let store = Store::new(client, config.tables.clone());
        let verifier = auth::TokenVerifier::new(&config.tokens)?;
        let cursors = cursor::CursorCodec::new(&config.cursor_key);
        Ok(Self {
            config: Arc::new(config),
            store,
            verifier: Arc::new(verifier),
            cursors: Arc::new(cursors),
        })
    }

    /// Loads the configuration from the environment and builds the state: the one call each
    /// function's `main` makes before serving.
    pub async fn from_env() -> Result<Self, error::StartupError> {
        Self::build(Config::from_env()?).await
    }
}
