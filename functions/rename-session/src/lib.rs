//! `PATCH /sessions/{session_id}`: the caller names one of their own sessions
//! (`{"label": "work laptop"}`) or clears the name (`{"label": null}` or an empty string).
//! Control characters are removed and surrounding space trimmed; a label longer than 64
//! characters is a 400, never silently cut. Format characters (bidi controls, zero-width) are
//! dropped and the text NFC-normalised ([`shared::domain::text::clean`]). Another user's session id is
//! a 404; an ended session's label no longer changes (409 `session_not_active`).

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::AppState;
use shared::auth::Caller;
use shared::domain::time::now_epoch;
use shared::error::ApiError;
use shared::http::{client_ip, expect_method, json, json_body, session_id_param};
use shared::services::sessions;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    // Required, but may be null: `{}` is a 400, `{"label": null}` clears.
    #[serde(deserialize_with = "required_nullable")]
    label: Option<String>,
}

fn required_nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::PATCH)?;
    let now = now_epoch();
    let caller = Caller::authenticate(state, &req, now).await?;
    let session_id = session_id_param(&req)?;
    let body: RenameBody = json_body(&req)?;
    let ip = client_ip(&req, &state.config);
    let label = body.label.as_deref();
    let session = sessions::rename(state, &caller, &session_id, label, &ip, now).await?;
    let current = Some(caller.session.session_id.as_str());
    let policy = &state.config.sessions;
    let shown = session.to_response(now, policy, &caller.cutoffs, current);
    json(StatusCode::OK, &shown)
}

#[cfg(test)]
api_tests::replays_its_events!(handle);
