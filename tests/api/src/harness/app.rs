//! [`TestApp`]: the API as a client calls it, one method per route, and what the route tests
//! share on top of it: a sign-in that must succeed ([`TestApp::sign_in`], giving [`Signed`]),
//! the caller's whole session list, whether a session is still [usable](TestApp::usable), and
//! the User-Agents of the devices they sign in from.

use super::event::{Reply, event, send, with_body};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::AppState;

/// Chrome on Windows 10, a `web` device.
pub const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// Safari on an iPhone, a `mobile` device.
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1";
/// Firefox on Linux, a `web` device.
pub const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// The `X-Forwarded-For` a [`TestApp::browser`] sends: anyone can set it, so it must never
/// become a session's recorded address.
pub const SPOOFED_FORWARDED_FOR: &str = "6.6.6.6";

/// A successful sign-in: its tokens and the session's id.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
    /// The session's id.
    pub session: String,
}

impl Reply {
    /// The tokens and session id of a sign-in reply, asserting it is a 200.
    pub fn signed(&self) -> Signed {
        assert_eq!(self.status, 200, "{}", self.body);
        Signed {
            access: self.body["access_token"].as_str().unwrap().to_owned(),
            refresh: self.body["refresh_token"].as_str().unwrap().to_owned(),
            session: self.body["session"]["id"].as_str().unwrap().to_owned(),
        }
    }
}

/// The claims of a JWT, decoded without checking its signature (to read what a token says).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The API as a client calls it, in process: one method per route, each building the API
/// Gateway event the route gets and returning the reply. Requests come from
/// `198.51.100.20` with no `User-Agent` unless set with [`TestApp::from_ip`],
/// [`TestApp::with_user_agent`] and [`TestApp::with_header`].
#[derive(Clone)]
pub struct TestApp<'a> {
    state: &'a AppState,
    ip: Option<String>,
    method: Option<String>,
    headers: Vec<(String, String)>,
}

impl<'a> TestApp<'a> {
    /// A client of the functions built on `state`.
    pub fn new(state: &'a AppState) -> Self {
        Self {
            state,
            ip: None,
            method: None,
            headers: Vec::new(),
        }
    }

    /// A browser: `user_agent`, and an `X-Forwarded-For` ([`SPOOFED_FORWARDED_FOR`]) that the
    /// API must ignore (the recorded address is the gateway's source IP).
    pub fn browser(state: &'a AppState, user_agent: &str) -> Self {
        Self::new(state)
            .with_user_agent(user_agent)
            .with_header("x-forwarded-for", SPOOFED_FORWARDED_FOR)
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

    /// The same client, sending more headers.
    pub fn with_headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |app, (name, value)| app.with_header(name, value))
    }

    /// The same client, using `method` instead of the route's own (a CORS preflight, a 405).
    pub fn with_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
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
        let method = self.method.as_deref().unwrap_or(route.method);
        let mut ev = event(method, route.path, path, query, &headers);
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

    /// `POST /auth/login`, asserting a 200: the new session's tokens and id.
    pub async fn sign_in(&self, email: &str, password: &str) -> Signed {
        self.login(email, password).await.signed()
    }

    /// `POST /auth/mfa`: the second step of a sign-in, with any body.
    pub async fn login_mfa(&self, body: Value) -> Reply {
        self.call("login-mfa", "/auth/mfa", None, Some(body)).await
    }

    /// `POST /auth/login` for a user with a second factor, asserting the challenge: the
    /// challenge.
    pub async fn challenge(&self, email: &str, password: &str) -> String {
        let r = self.login(email, password).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["mfa_required"], true, "{}", r.body);
        assert!(r.body.get("access_token").is_none(), "no tokens yet");
        r.body["challenge"].as_str().unwrap().to_owned()
    }

    /// Both steps of a sign-in with a second factor: the password, then `second`
    /// (`{"code": ...}` or `{"recovery_code": ...}`) with the challenge; the session's tokens.
    pub async fn sign_in_with_second_factor(
        &self,
        email: &str,
        password: &str,
        mut second: Value,
    ) -> Signed {
        second["challenge"] = json!(self.challenge(email, password).await);
        self.login_mfa(second).await.signed()
    }

    /// The demo admin with a second factor signed in in two steps: the demo password, then
    /// `second` (`{"code": ...}`, see [`demo_code_now`], or `{"recovery_code": ...}`).
    pub async fn sign_in_totp_admin(&self, second: Value) -> Signed {
        use shared::testkit::demo::{DEMO_PASSWORD, TOTP_ADMIN_EMAIL};
        self.sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, second)
            .await
    }

    /// `POST /me/mfa/totp`.
    pub async fn enrol_totp(&self, token: &str) -> Reply {
        self.call("enrol-totp", "/me/mfa/totp", Some(token), None)
            .await
    }

    /// `POST /me/mfa/totp/confirm` with `code` and `password`.
    pub async fn confirm_totp(&self, token: &str, code: &str, password: &str) -> Reply {
        let body = json!({"code": code, "password": password});
        let path = "/me/mfa/totp/confirm";
        self.call("confirm-totp", path, Some(token), Some(body))
            .await
    }

    /// `GET /sessions/current`.
    pub async fn current_session(&self, token: &str) -> Reply {
        self.call(
            "get-current-session",
            "/sessions/current",
            Some(token),
            None,
        )
        .await
    }

    /// `POST /auth/introspect` as another backend sends it: a form with `token`, through the
    /// IAM authorizer as the principal `signer` (`None`: a request without one).
    pub async fn introspect(&self, token: &str, signer: Option<&str>) -> Reply {
        let route = crate::routes::route("introspect").expect("the introspection route");
        let form = [("content-type", "application/x-www-form-urlencoded")];
        let mut ev = event("POST", route.path, route.path, "", &form);
        ev["body"] = json!(format!("token={token}&token_type_hint=access_token"));
        if let Some(arn) = signer {
            ev["requestContext"]["authorizer"] =
                json!({"iam": {"userArn": arn, "accountId": "123456789012"}});
        }
        send(self.state, &ev, route.handler).await
    }

    /// `DELETE /me/mfa/totp`.
    pub async fn remove_totp(&self, token: &str) -> Reply {
        self.call("remove-totp", "/me/mfa/totp", Some(token), None)
            .await
    }

    /// `POST /me/mfa/recovery-codes`.
    pub async fn regenerate_recovery_codes(&self, token: &str) -> Reply {
        let path = "/me/mfa/recovery-codes";
        self.call("regenerate-recovery-codes", path, Some(token), None)
            .await
    }

    /// `POST /auth/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let body = json!({"refresh_token": refresh_token});
        self.call("refresh", "/auth/refresh", None, Some(body))
            .await
    }

    /// `POST /auth/not-me`: a new-sign-in alert's "This wasn't me" link token.
    pub async fn report_sign_in(&self, token: &str) -> Reply {
        let body = json!({"token": token});
        self.call("report-sign-in", "/auth/not-me", None, Some(body))
            .await
    }

    /// `POST /auth/logout`.
    pub async fn logout(&self, token: &str) -> Reply {
        self.call("logout", "/auth/logout", Some(token), None).await
    }

    /// `POST /auth/password`.
    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Reply {
        let body = json!({"current_password": current, "new_password": new});
        self.change_password_with(token, body).await
    }

    /// `POST /auth/password` with any body.
    pub async fn change_password_with(&self, token: &str, body: Value) -> Reply {
        self.call("change-password", "/auth/password", Some(token), Some(body))
            .await
    }

    /// `POST /auth/reauthenticate`.
    pub async fn reauthenticate(&self, token: &str, password: &str) -> Reply {
        self.reauthenticate_with(token, json!({"password": password}))
            .await
    }

    /// `POST /auth/reauthenticate` with any body (a second factor's code as well).
    pub async fn reauthenticate_with(&self, token: &str, body: Value) -> Reply {
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

    /// `GET /sessions?include_inactive=true`, asserting a 200: the caller's sessions, ended
    /// ones too (one page).
    pub async fn all_my_sessions(&self, token: &str) -> Vec<Value> {
        let r = self.list_my_sessions(token, "include_inactive=true").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body.as_array().unwrap().clone()
    }

    /// Whether anything of a session still works: its access token (`GET /sessions`), or its
    /// refresh token (`POST /auth/refresh`, which rotates it when it works).
    pub async fn usable(&self, who: &Signed) -> bool {
        self.list_my_sessions(&who.access, "").await.status == 200
            || self.refresh(&who.refresh).await.status == 200
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

    /// `GET /users/{user_id}/activity?{query}`.
    pub async fn get_user_activity(&self, token: &str, user_id: &str, query: &str) -> Reply {
        let path = format!("/users/{user_id}/activity?{query}");
        self.call("get-user-activity", &path, Some(token), None)
            .await
    }

    /// `GET /me/activity?{query}`.
    pub async fn list_my_activity(&self, token: &str, query: &str) -> Reply {
        let path = format!("/me/activity?{query}");
        self.call("list-my-activity", &path, Some(token), None)
            .await
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Reply {
        self.call("jwks", "/.well-known/jwks.json", None, None)
            .await
    }
}

/// `{"code": ...}` with the TOTP demo admin's code now.
pub fn demo_code_now() -> Value {
    let code = shared::testkit::demo::demo_totp_code(crate::now()).expect("a code for now");
    json!({ "code": code })
}
