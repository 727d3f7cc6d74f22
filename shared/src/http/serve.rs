//! The wrapper every function runs its route in: errors to responses, CORS, no caching.

use super::request::through_cloudfront;
use super::response::{EXPOSED_HEADERS, error_response};
use crate::AppState;
use crate::error::{ApiError, cause_chain};
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, ORIGIN, VARY,
};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use std::future::Future;

/// Whether an origin is a page served from this machine over plain HTTP, on any port:
/// `http://localhost:5173`, `http://127.0.0.1:3000`, `http://[::1]:8080`.
pub fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let after_host = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .find_map(|host| rest.strip_prefix(host));
    match after_host {
        Some("") => true,
        Some(port) => port.strip_prefix(':').is_some_and(|digits| {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }),
        None => false,
    }
}

/// The allowed CORS origin of this request, if it has one: a configured origin, or, only in
/// the local stack (`APP_ENV=local`), any page on this machine, so that a frontend's dev server
/// on whatever port can call `make dev`'s API. A deployed stack allows only its configured
/// origins (and there the HTTP API answers CORS itself).
fn allowed_origin(state: &AppState, req: &Request) -> Option<HeaderValue> {
    let origin = req.headers().get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    let local = state.config.app_env == crate::config::AppEnv::Local && is_loopback_origin(text);
    let configured = state
        .config
        .cors_allowed_origins
        .iter()
        .any(|o| o == text || o == "*");
    (local || configured).then(|| origin.clone())
}

/// Runs a handler for one request and turns its result into the response: errors become
/// `{"detail", "code"}` (server errors logged with their cause chain), every response gets
/// `Cache-Control: no-store`, and configured origins get CORS headers and preflight answers.
pub async fn serve<'a, F, Fut>(
    state: &'a AppState,
    req: Request,
    handler: F,
) -> Result<Response<Body>, lambda_http::Error>
where
    F: FnOnce(&'a AppState, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let origin = allowed_origin(state, &req);
    if req.method() == Method::OPTIONS {
        return Ok(preflight(origin));
    }
    // Behind CloudFront every request must come through it (its WAF rules included): a direct
    // call to the API's own address is refused before the handler runs.
    let direct = state.config.origin_verify_required
        && !through_cloudfront(&req, state.config.origin_verify_secret.as_deref());
    let result = if direct {
        Err(ApiError::Forbidden {
            detail: "Call the API through its public address.",
            code: "direct_access_refused",
        })
    } else {
        handler(state, req).await
    };
    let mut response = result.unwrap_or_else(|err| failed(state, &err));
    let h = response.headers_mut();
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Some(origin) = origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        h.insert(VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

/// The answer to a CORS preflight: 204, with the CORS headers for an allowed origin.
fn preflight(origin: Option<HeaderValue>) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PATCH, DELETE, OPTIONS"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// An error's response, counted in the metrics and logged: server errors with their cause
/// chain, refusals with their code.
fn failed(state: &AppState, err: &ApiError) -> Response<Body> {
    match err {
        ApiError::Unavailable(_) => {
            crate::metrics::emit(crate::metrics::Metric::ServiceUnavailable)
        }
        ApiError::Internal(_) => crate::metrics::emit(crate::metrics::Metric::ServerError),
        _ => {}
    }
    if err.is_server_error() {
        tracing::error!(
            status = err.status().as_u16(),
            error = %cause_chain(err),
            "request failed"
        );
    } else {
        tracing::info!(
            status = err.status().as_u16(),
            code = err.code(),
            "request refused"
        );
    }
    error_response(err, state.config.retry_after_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_pages_on_this_machine_only() {
        for ok in [
            "http://localhost:5173",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:4200",
            "http://localhost",
        ] {
            assert!(is_loopback_origin(ok), "{ok}");
        }
        for bad in [
            "https://localhost:5173",
            "http://localhost.evil.example",
            "http://localhost:5173.evil.example",
            "http://evil.example",
            "http://127.0.0.2:80",
            "http://localhost:",
            "http://localhost:123456",
            "http://user@localhost:80",
            "null",
            "",
        ] {
            assert!(!is_loopback_origin(bad), "{bad}");
        }
    }
}
