//! `list-my-activity`: GET /me/activity: the caller's own activity history. Builds the state
//! once per cold start and hands each request to the route (`src/lib.rs`).

use lambda_http::{Error, service_fn};
use list_my_activity::handle;
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env().await?.require_cursors()?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
