//! `list-my-sessions`: GET /sessions: the caller's own sessions. Builds the state once per cold start and hands each request to
//! the route (`src/lib.rs`).

use lambda_http::{Error, service_fn};
use list_my_sessions::handle;
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env().await?.require_cursors()?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
