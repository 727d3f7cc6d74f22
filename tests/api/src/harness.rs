//! The harness: a real DynamoDB wire protocol (Dynoxide, in process, in memory), fresh for
//! every test, with the service's tables, and helpers to build API Gateway v2 requests.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::config::Config;
use shared::domain::{Role, Session};
use shared::testkit::demo;
use shared::tokens::TokenSigner;
use shared::tokens::keys::dev_signing_key;
use shared::{AppState, tables};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// One test's world: its own DynamoDB and the state a function would build.
pub struct TestEnv {
    pub state: AppState,
    pub signer: TokenSigner,
    pub endpoint: String,
    _shutdown: oneshot::Sender<()>,
}

/// The environment a function gets, pointed at `endpoint`.
pub fn env_for(endpoint: &str) -> HashMap<String, String> {
    HashMap::from([
        ("APP_ENV".to_owned(), "local".to_owned()),
        ("SESSIONS_TABLE".to_owned(), "sessions".to_owned()),
        ("USERS_TABLE".to_owned(), "users".to_owned()),
        ("USER_EMAILS_TABLE".to_owned(), "user-emails".to_owned()),
        ("DYNAMODB_ENDPOINT".to_owned(), endpoint.to_owned()),
        // Real argon2id, at a cost that lets hundreds of sign-ins share two cores with the
        // in-process DynamoDB; production uses 9 MiB and 4 passes.
        ("PASSWORD_HASH_MEMORY_KIB".to_owned(), "1024".to_owned()),
        ("PASSWORD_HASH_ITERATIONS".to_owned(), "1".to_owned()),
    ])
}

/// Builds the state for an environment map.
pub async fn state_for(env: &HashMap<String, String>) -> AppState {
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test config");
    AppState::build(config).await.expect("test state")
}

impl TestEnv {
    /// Starts Dynoxide on a free loopback port and creates the tables.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`TestEnv::start`] with extra environment settings.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing::Level::INFO)
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let db = dynoxide::Database::memory().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            db,
            async move {
                let _ = rx.await;
            },
        ));
        let mut vars = env_for(&endpoint);
        // Parallel tests share two cores with their in-process emulators: generous timeouts
        // keep a busy moment from turning into a 503. The 503 test builds its own state with
        // the production timeouts.
        for (k, v) in [
            ("DYNAMODB_CONNECT_TIMEOUT_MS", "5000"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "10000"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "20000"),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let state = state_for(&vars)
            .await
            .with_signer(shared::tokens::keys::dev_signing_key())
            .expect("dev signer")
            .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
        let names = state.store.tables().clone();
        for (def, name) in
            tables::ALL
                .iter()
                .zip([&names.sessions, &names.users, &names.user_emails])
        {
            assert!(
                shared::testkit::tables::create(state.store.client(), def, name)
                    .await
                    .unwrap()
            );
        }
        let signer = TokenSigner::new(&dev_signing_key(), &state.config.tokens, 900);
        Self {
            state,
            signer,
            endpoint,
            _shutdown: tx,
        }
    }

    /// Starts and seeds the demo data.
    pub async fn seeded() -> Self {
        Self::seeded_with(&[]).await
    }

    /// [`TestEnv::seeded`] with extra environment settings.
    pub async fn seeded_with(extra: &[(&str, &str)]) -> Self {
        let env = Self::start_with(extra).await;
        assert!(demo::seed(&env.state, now()).await.unwrap());
        env
    }

    /// A new active session for `user_id` and a token for it.
    pub async fn login(&self, user_id: u64, role: Role) -> (Session, String) {
        let session = demo::start_session(
            &self.state.store,
            user_id,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
            "192.0.2.1",
            now(),
            &self.state.config.sessions,
        )
        .await
        .unwrap();
        let token = self.signer.issue_for(&session, role, now()).unwrap();
        (session, token)
    }

    /// Overwrites a session item as it is (for ended, expired or idle fixtures).
    pub async fn put_session(&self, session: &Session) {
        self.state
            .store
            .client()
            .put_item()
            .table_name(&self.state.store.tables().sessions)
            .set_item(Some(serde_dynamo::to_item(session).unwrap()))
            .send()
            .await
            .unwrap();
    }

    /// Sets attributes on a user item (role, disabled).
    pub async fn update_user(&self, user_id: u64, role: &str, disabled: bool) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.state
            .store
            .client()
            .update_item()
            .table_name(&self.state.store.tables().users)
            .key("user_id", AttributeValue::N(user_id.to_string()))
            .update_expression("SET #r = :r, disabled = :d")
            .expression_attribute_names("#r", "role")
            .expression_attribute_values(":r", AttributeValue::S(role.to_owned()))
            .expression_attribute_values(":d", AttributeValue::Bool(disabled))
            .send()
            .await
            .unwrap();
    }
}

pub fn now() -> i64 {
    shared::domain::time::now_epoch()
}

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

/// The JSON log lines a subscriber writes, captured in memory.
#[derive(Clone, Default)]
pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The audit events written since the last call (and forgets them).
    pub fn take_audit(&self) -> Vec<Value> {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap());
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("audit").is_some())
            .collect()
    }
}

/// The API as a client calls it, in process: one method per route, each building the API
/// Gateway event the route gets and returning the reply. Requests come from
/// `198.51.100.20` with no `User-Agent` unless set with [`TestApp::from_ip`],
/// [`TestApp::with_user_agent`] and [`TestApp::with_header`].
#[derive(Clone)]
pub struct TestApp<'a> {
    state: &'a AppState,
    ip: Option<String>,
    headers: Vec<(String, String)>,
}

impl<'a> TestApp<'a> {
    /// A client of the functions built on `state`.
    pub fn new(state: &'a AppState) -> Self {
        Self {
            state,
            ip: None,
            headers: Vec::new(),
        }
    }

    /// The same client, calling from `ip` (API Gateway's source IP).
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_owned());
        self
    }

    /// The same client, sending `user_agent`.
    pub fn with_user_agent(self, user_agent: &str) -> Self {
        self.with_header("user-agent", user_agent)
    }

    /// The same client, sending one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Calls `function` at `path` (with its query, if any), with a bearer token and a JSON
    /// body when given.
    pub async fn call(
        &self,
        function: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let route = crate::routes::route(function).expect("a known function");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        let mut ev = event(route.method, route.path, path, query, &headers);
        if let Some(ip) = &self.ip {
            ev["requestContext"]["http"]["sourceIp"] = json!(ip);
        }
        if let Some(body) = body {
            ev = with_body(ev, &body);
        }
        send(self.state, &ev, route.handler).await
    }

    /// `POST /auth/register`.
    pub async fn register(&self, body: Value) -> Reply {
        self.call("register", "/auth/register", None, Some(body))
            .await
    }

    /// `POST /auth/login` with an email and a password.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        let body = json!({"email": email, "password": password});
        self.login_with(body).await
    }

    /// `POST /auth/login` with any body (device name and type, unknown fields).
    pub async fn login_with(&self, body: Value) -> Reply {
        self.call("login", "/auth/login", None, Some(body)).await
    }

    /// `POST /auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let body = json!({"refresh_token": refresh_token});
        self.call("refresh", "/auth/refresh", None, Some(body))
            .await
    }

    /// `POST /auth/logout`.
    pub async fn logout(&self, token: &str) -> Reply {
        self.call("logout", "/auth/logout", Some(token), None).await
    }

    /// `POST /auth/password`.
    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Reply {
        let body = json!({"current_password": current, "new_password": new});
        self.call("change-password", "/auth/password", Some(token), Some(body))
            .await
    }

    /// `POST /auth/reauthenticate`.
    pub async fn reauthenticate(&self, token: &str, password: &str) -> Reply {
        let body = json!({"password": password});
        let path = "/auth/reauthenticate";
        self.call("reauthenticate", path, Some(token), Some(body))
            .await
    }

    /// `GET /sessions`, `query` without the `?`.
    pub async fn list_my_sessions(&self, token: &str, query: &str) -> Reply {
        let path = format!("/sessions?{query}");
        self.call("list-my-sessions", &path, Some(token), None)
            .await
    }

    /// `DELETE /sessions/{session_id}`.
    pub async fn revoke_my_session(&self, token: &str, session_id: &str) -> Reply {
        let path = format!("/sessions/{session_id}");
        self.call("revoke-my-session", &path, Some(token), None)
            .await
    }

    /// `PATCH /sessions/{session_id}`.
    pub async fn rename_session(&self, token: &str, session_id: &str, body: Value) -> Reply {
        let path = format!("/sessions/{session_id}");
        self.call("rename-session", &path, Some(token), Some(body))
            .await
    }

    /// `DELETE /sessions?{query}` (`scope=others`).
    pub async fn revoke_other_sessions(&self, token: &str, query: &str) -> Reply {
        let path = format!("/sessions?{query}");
        self.call("revoke-other-sessions", &path, Some(token), None)
            .await
    }

    /// `GET /sessions/user/{user_id}?{query}`.
    pub async fn get_user_sessions(&self, token: &str, user_id: &str, query: &str) -> Reply {
        let path = format!("/sessions/user/{user_id}?{query}");
        self.call("get-user-sessions", &path, Some(token), None)
            .await
    }

    /// `DELETE /sessions/user/{user_id}/{session_id}`.
    pub async fn admin_revoke_session(
        &self,
        token: &str,
        user_id: &str,
        session_id: &str,
    ) -> Reply {
        let path = format!("/sessions/user/{user_id}/{session_id}");
        self.call("admin-revoke-session", &path, Some(token), None)
            .await
    }

    /// `DELETE /sessions/user/{user_id}`.
    pub async fn admin_revoke_user_sessions(&self, token: &str, user_id: &str) -> Reply {
        let path = format!("/sessions/user/{user_id}");
        self.call("admin-revoke-user-sessions", &path, Some(token), None)
            .await
    }

    /// `PATCH /users/{user_id}`.
    pub async fn update_user(&self, token: &str, user_id: &str, body: Value) -> Reply {
        let path = format!("/users/{user_id}");
        self.call("update-user", &path, Some(token), Some(body))
            .await
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Reply {
        self.call("jwks", "/.well-known/jwks.json", None, None)
            .await
    }
}
