//! `report-sign-in`: POST /auth/not-me: a new-sign-in alert's "This wasn't me" link ends that
//! session. Builds the state once per cold start and hands each request to the route
//! (`src/lib.rs`). It holds the link key (to check links), no signing key.

use lambda_http::{Error, service_fn};
use report_sign_in::handle;
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env().await?.with_link_key_from_env().await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
