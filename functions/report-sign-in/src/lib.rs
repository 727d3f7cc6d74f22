//! `POST /auth/not-me`: the "This wasn't me" link of a new-sign-in alert. The app's page the
//! link opens posts the token from the link's fragment here; no sign-in is needed, because
//! whoever reports the sign-in may no longer be able to. It ends exactly the session the link
//! names, once, and answers that the password must be changed.
//!
//! What the token grants, its checks and answers: [`shared::services::sessions::report`].

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body};
use shared::services::sessions;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    token: String,
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::POST)?;
    let body: ReportBody = json_body(&req)?;
    let ip = client_ip(&req, &state.config);
    let reported = sessions::report(state, &body.token, &ip, now_epoch()).await?;
    json(StatusCode::OK, &reported)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
