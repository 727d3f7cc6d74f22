//! `introspect`: POST /auth/introspect: whether an access token is alive, for other backends.
//! Builds the state once per cold start and hands each request to the route (`src/lib.rs`). It
//! verifies tokens with the public keys only.

use introspect::handle;
use lambda_http::{Error, service_fn};
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env().await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
