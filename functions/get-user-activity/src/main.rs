//! `get-user-activity`: GET /users/{user_id}/activity: an admin reads a user's activity
//! history. Builds the state once per cold start and hands each request to the route
//! (`src/lib.rs`).

use get_user_activity::handle;
use lambda_http::{Error, service_fn};
use shared::{AppState, config, http, logging};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init(config::log_level().as_deref());
    let state = AppState::from_env().await?.require_cursors()?;
    let state = &state;
    lambda_http::run(service_fn(move |req| http::serve(state, req, handle))).await
}
