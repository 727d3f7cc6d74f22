//! `regenerate-recovery-codes`: POST /me/mfa/recovery-codes: ten new recovery codes. Builds the
//! state once per cold start and hands each request to the route (`src/lib.rs`). It holds the
//! second factor's key (the codes are stored as keyed hashes).

use lambda_http::{Error, service_fn};
use regenerate_recovery_codes::handle;
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env()
        .await?
        .with_factor_keys_from_env()
        .await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
