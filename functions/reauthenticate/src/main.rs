//! `reauthenticate`: POST /auth/reauthenticate: confirm the password in the current session and
//! get an access token with a fresh `auth_time`. Builds the state once per cold start and hands
//! each request to the route (`src/lib.rs`). It holds the private signing key, the refresh-token key
//! and the second factor's key (a code confirmed with the password).

use lambda_http::{Error, service_fn};
use reauthenticate::handle;
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env()
        .await?
        .with_signer_from_env()
        .await?
        .with_refresh_key_from_env()
        .await?
        .with_factor_keys_from_env()
        .await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
