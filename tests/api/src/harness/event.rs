//! API Gateway HTTP API (payload v2) events, sent through a handler the way a function's
//! `main.rs` runs it, and the [`Reply`] that comes back. [`TestApp`](super::TestApp) builds
//! these for every route; build one by hand only where the point is an event no client sends
//! (malformed bodies, spoofed gateway fields).

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::AppState;

/// An API Gateway HTTP API (payload v2) event, as JSON.
pub fn event(
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> Value {
    let path_params: serde_json::Map<String, Value> = route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(r, p)| {
            r.strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
                .map(|name| (name.to_owned(), Value::String(p.to_owned())))
        })
        .collect();
    let mut header_map = serde_json::Map::new();
    for (k, v) in headers {
        header_map.insert(k.to_lowercase(), Value::String((*v).to_owned()));
    }
    let mut query_params = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query_params
            .entry(k.to_owned())
            .and_modify(|old| {
                *old = Value::String(format!("{},{v}", old.as_str().unwrap_or_default()))
            })
            .or_insert_with(|| Value::String(v.to_owned()));
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "testapi",
            "domainName": "testapi.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "testapi",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.20",
                "userAgent": "integration-test"
            },
            "requestId": "test-request",
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "27/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1_795_370_400_000_i64
        },
        "isBase64Encoded": false
    });
    if !path_params.is_empty() {
        event["pathParameters"] = Value::Object(path_params);
    }
    if !query_params.is_empty() {
        event["queryStringParameters"] = Value::Object(query_params);
    }
    event
}

/// Adds a JSON body to an event.
pub fn with_body(mut event: Value, body: &Value) -> Value {
    event["body"] = Value::String(body.to_string());
    event["headers"]["content-type"] = Value::String("application/json".to_owned());
    event
}

/// Sends an event through a handler with the test's state.
pub async fn send<'a, F, Fut>(state: &'a AppState, event: &Value, handler: F) -> Reply
where
    F: FnOnce(&'a AppState, Request) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Body>, shared::ApiError>>,
{
    reply(
        shared::http::serve(state, request(event), handler)
            .await
            .unwrap(),
    )
}

/// Turns an event into the request a function receives.
pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("valid v2 event")
}

/// A response's status, headers and parsed body.
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// A response header's value, if it is there and is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error reply: status, `{"detail", "code"}` shape and the code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(self.body["detail"].is_string(), "body: {}", self.body);
        assert_eq!(
            self.body.as_object().map(|o| o.len()),
            Some(2),
            "body: {}",
            self.body
        );
    }
}

/// A handler's response as a [`Reply`] (a JSON body parsed; any other text as a string).
pub fn reply(response: Response<Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    Reply {
        status,
        headers,
        body,
    }
}
