//! HTTP helpers: the request wrapper every function uses, JSON and error responses, CORS.

use crate::AppState;
use crate::domain::Location;
use crate::error::{ApiError, cause_chain};
use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE, ORIGIN,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// Headers the API exposes to browsers (paging).
pub const EXPOSED_HEADERS: &str = "X-Next-Cursor, Link";

/// A JSON response with the headers every API response carries.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(body).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    detail: String,
    code: &'a str,
}

/// The response for an error: its status, `{"detail", "code"}`, `WWW-Authenticate` on a 401
/// and `Retry-After` on a 503.
pub fn error_response(err: &ApiError, retry_after_seconds: u32) -> Response<Body> {
    let body = ErrorBody {
        detail: err.detail(),
        code: err.code(),
    };
    let text = serde_json::to_string(&body).unwrap_or_else(|_| {
        r#"{"detail":"Internal server error.","code":"internal_error"}"#.into()
    });
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = err.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match err {
        ApiError::Unauthorized { code, .. } => {
            let value = if *code == "not_authenticated" {
                HeaderValue::from_static("Bearer")
            } else if *code == "reauthentication_required" {
                // RFC 9470: the token is fine, the sign-in behind it is too old.
                HeaderValue::from_static("Bearer error=\"insufficient_user_authentication\"")
            } else {
                HeaderValue::from_static("Bearer error=\"invalid_token\"")
            };
            headers.insert(WWW_AUTHENTICATE, value);
        }
        ApiError::Unavailable(_) => {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        ApiError::TooManyRequests {
            retry_after_seconds,
        } => {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        _ => {}
    }
    response
}

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An empty response with a status (e.g. 204).
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// Parses the JSON body: 413 over [`MAX_BODY_BYTES`], 400 when missing, not JSON, or not the
/// expected shape (unknown fields included, where the type refuses them).
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "a JSON body is required",
            "invalid_body",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "has wrong or missing fields",
            _ => "is not valid JSON",
        };
        ApiError::bad_request(
            format!(
                "the request body {what} (line {}, column {})",
                e.line(),
                e.column()
            ),
            "invalid_body",
        )
    })
}

/// The User-Agent header, or empty.
pub fn user_agent(req: &Request) -> &str {
    req.headers()
        .get(lambda_http::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// A path parameter, or empty.
pub fn path_param<'a>(req: &'a Request, name: &str) -> &'a str {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
}

/// The source IP as API Gateway saw it (never a client-sent header).
pub fn source_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_default()
}

/// The client's address, for sessions and audit events: behind the configured CloudFront
/// distribution the viewer's (see [`viewer`]), otherwise API Gateway's source IP, never a
/// header a client can set.
pub fn client_ip(req: &Request, config: &crate::Config) -> String {
    viewer(req, config.origin_verify_secret.as_deref()).ip
}

/// Where a request came from: the address and, behind CloudFront, the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The client's IP address.
    pub ip: String,
    /// Country (and region and city where known), from CloudFront's viewer headers.
    pub location: Option<Location>,
}

/// The value of a header sent exactly once, as text.
fn single_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    let mut values = req.headers().get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => std::str::from_utf8(v.as_bytes()).ok(),
        _ => None,
    }
}

/// Whether the request carries CloudFront's origin secret (compared in constant time).
fn through_cloudfront(req: &Request, secret: Option<&str>) -> bool {
    let (Some(secret), Some(sent)) = (secret, single_header(req, "x-origin-verify")) else {
        return false;
    };
    subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), secret.as_bytes()).into()
}

/// The address and location of the client. `CloudFront-Viewer-*` headers are believed only
/// on requests that carry the origin secret CloudFront adds (`X-Origin-Verify`): anyone can
/// send those headers on a direct call. Without them the address is API Gateway's source IP
/// and there is no location: never a guess.
pub fn viewer(req: &Request, origin_verify_secret: Option<&str>) -> Viewer {
    if !through_cloudfront(req, origin_verify_secret) {
        return Viewer {
            ip: source_ip(req),
            location: None,
        };
    }
    // `198.51.100.10:46532` or `2001:db8::1:46532`: the address, then the source port.
    let ip = single_header(req, "cloudfront-viewer-address")
        .and_then(|v| v.rsplit_once(':'))
        .and_then(|(ip, _port)| ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| source_ip(req));
    let country = single_header(req, "cloudfront-viewer-country")
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    let location = country.map(|country| Location {
        country: country.to_owned(),
        region: single_header(req, "cloudfront-viewer-country-region")
            .filter(|r| (1..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(str::to_owned),
        city: crate::domain::text::clean(
            single_header(req, "cloudfront-viewer-city"),
            MAX_CITY_CHARS,
        ),
    });
    Viewer { ip, location }
}

/// Longest city name kept.
const MAX_CITY_CHARS: usize = 64;

/// The path of the request as the client sent it (for `Link` headers).
pub fn request_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path().to_owned()
    } else {
        raw.to_owned()
    }
}

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
        return Ok(response);
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
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
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
                    error = %cause_chain(&err),
                    "request failed"
                );
            } else {
                tracing::info!(
                    status = err.status().as_u16(),
                    code = err.code(),
                    "request refused"
                );
            }
            error_response(&err, state.config.retry_after_seconds)
        }
    };
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
