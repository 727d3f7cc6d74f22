//! `PATCH /sessions/{session_id}`: the caller names one of their own sessions
//! (`{"label": "work laptop"}`) or clears the name (`{"label": null}` or an empty string).
//! Control characters are removed and surrounding space trimmed; a label longer than 64
//! characters is a 400, never silently cut. Format characters (bidi controls, zero-width) are
//! dropped and the text NFC-normalised ([`crate::domain::text::clean`]). Another user's session id is
//! a 404; an ended session's label no longer changes (409 `session_not_active`).

use crate::AppState;
use crate::audit;
use crate::auth::require_user;
use crate::domain::ids::is_session_id;
use crate::domain::time::now_epoch;
use crate::error::ApiError;
use crate::http::expect_method;
use crate::http::{client_ip, json, json_body, path_param};
use crate::store::LabelOutcome;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// Longest label kept, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

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

/// The label to store: sanitised, `None` to clear, 400 when too long.
fn clean_label(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.chars().filter(|c| !c.is_control()).count() > MAX_LABEL_CHARS * 4 {
        return Err(too_long());
    }
    let cleaned = crate::domain::text::clean(Some(raw), usize::MAX);
    match cleaned {
        Some(label) if label.chars().count() > MAX_LABEL_CHARS => Err(too_long()),
        other => Ok(other),
    }
}

fn too_long() -> ApiError {
    ApiError::bad_request(
        format!("label must be at most {MAX_LABEL_CHARS} characters"),
        "label_too_long",
    )
}

/// Handles one request.
pub async fn handle(state: &AppState, req: Request) -> Result<Response<Body>, ApiError> {
    expect_method(&req, Method::PATCH)?;
    let bearer = state.verifier.verify_headers(req.headers())?;
    let store = &state.store;
    let policy = &state.config.sessions;
    let now = now_epoch();
    let caller = require_user(store, &bearer, now, policy).await?;
    let session_id = path_param(&req, "session_id");
    if !is_session_id(session_id) {
        return Err(ApiError::session_not_found());
    }
    let body: RenameBody = json_body(&req)?;
    let label = clean_label(body.label.as_deref())?;

    // The key includes the caller's own user id: another user's session is simply not found.
    let session = match store
        .set_session_label(bearer.user_id, session_id, label.as_deref(), now, policy)
        .await?
    {
        LabelOutcome::Labelled(session) => session,
        LabelOutcome::NotFound => return Err(ApiError::session_not_found()),
        LabelOutcome::NotActive => {
            return Err(ApiError::Conflict {
                detail: "The session has ended; its label can no longer change.",
                code: "session_not_active",
            });
        }
    };
    audit::session_renamed(
        bearer.user_id,
        session_id,
        label.is_some(),
        &client_ip(&req, &state.config),
    );
    json(
        StatusCode::OK,
        &session.to_response(
            now,
            policy,
            &caller.cutoffs,
            Some(&caller.session.session_id),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cleaned_limited_and_clearable() {
        assert_eq!(
            clean_label(Some("  work\u{0007} laptop \n")).unwrap(),
            Some("work laptop".to_owned())
        );
        assert_eq!(clean_label(Some("   ")).unwrap(), None);
        assert_eq!(clean_label(None).unwrap(), None);
        let max = "ä".repeat(MAX_LABEL_CHARS);
        assert_eq!(clean_label(Some(&max)).unwrap(), Some(max.clone()));
        let over = format!("{max}x");
        assert_eq!(
            clean_label(Some(&over)).unwrap_err().code(),
            "label_too_long"
        );
    }
}
