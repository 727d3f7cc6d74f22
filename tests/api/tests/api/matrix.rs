//! The authorisation matrix: every authenticated route × every kind of credential → the exact
//! status, under a deployed stack's default policy (`ADMIN_REQUIRES_AAL2=true`: the admin
//! routes need a session signed in with a second factor). The table is data;
//! `docs/security.md` carries the same table (checked below).
//! The public routes (`register`, `login`, `refresh`, `not-me`, `jwks`) ignore `Authorization`.

use api_tests::{Reply, TestApp, TestEnv, now};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use shared::domain::EndReason;
use shared::domain::Role;
use shared::testkit::demo::{
    ADMIN_ID, DEMO_PASSWORD, DEMO_RECOVERY_CODES, PLAIN_USER_ID, TOTP_ADMIN_EMAIL, TOTP_ADMIN_ID,
    USER_ID, demo_totp_code,
};
use shared::tokens::AccessClaims;
use shared::tokens::keys::{SigningKey, dev_signing_key};
use shared::tokens::refresh::RefreshKey;

/// The columns, in order.
const ROUTES: [&str; 19] = [
    "GET /sessions/user/{user_id}",
    "DELETE /sessions/user/{user_id}/{session_id}",
    "DELETE /sessions/user/{user_id}",
    "PATCH /users/{user_id}",
    "POST /auth/logout",
    "POST /auth/password",
    "GET /sessions",
    "DELETE /sessions/{session_id}",
    "DELETE /sessions?scope=others",
    "PATCH /sessions/{session_id}",
    "POST /auth/reauthenticate",
    "POST /me/mfa/totp",
    "POST /me/mfa/totp/confirm",
    "DELETE /me/mfa/totp",
    "POST /me/mfa/recovery-codes",
    "GET /sessions/current",
    "DELETE /sessions?scope=global",
    "GET /users/{user_id}/activity",
    "GET /me/activity",
];

/// The rows: a kind of credential and the status each route must answer.
const MATRIX: [(&str, [u16; 19]); 21] = [
    ("no token", [401; 19]),
    ("garbage", [401; 19]),
    ("expired", [401; 19]),
    ("nbf in the future", [401; 19]),
    ("wrong aud", [401; 19]),
    ("wrong iss", [401; 19]),
    ("alg none (and None, NONE, nOnE)", [401; 19]),
    ("HS256 signed with the public key", [401; 19]),
    ("unknown kid", [401; 19]),
    ("jku header (never fetched)", [401; 19]),
    ("x5u header (never fetched)", [401; 19]),
    ("tampered payload", [401; 19]),
    ("refresh token as bearer", [401; 19]),
    ("token of an ended session", [401; 19]),
    (
        "token of a disabled user",
        [
            403, 403, 403, 403, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401,
            403, 401,
        ],
    ),
    (
        "token claiming admin, users table says user",
        [
            403, 403, 403, 403, 204, 200, 200, 204, 200, 200, 200, 200, 409, 409, 409, 200, 200,
            403, 200,
        ],
    ),
    (
        "plain user",
        [
            403, 403, 403, 403, 204, 200, 200, 204, 200, 200, 200, 200, 409, 409, 409, 200, 200,
            403, 200,
        ],
    ),
    (
        "another user's session id",
        [
            403, 403, 403, 403, 204, 200, 200, 404, 200, 404, 200, 200, 409, 409, 409, 200, 200,
            403, 200,
        ],
    ),
    (
        "admin, password only (aal1)",
        [
            403, 403, 403, 403, 204, 200, 200, 204, 200, 200, 200, 200, 409, 409, 409, 200, 200,
            403, 200,
        ],
    ),
    (
        "admin, password + TOTP (aal2)",
        [
            200, 204, 200, 200, 204, 200, 200, 204, 200, 200, 200, 409, 409, 204, 200, 200, 200,
            200, 200,
        ],
    ),
    (
        "admin, password + recovery code (aal2)",
        [
            200, 204, 200, 200, 204, 200, 200, 204, 200, 200, 200, 409, 409, 204, 200, 200, 200,
            200, 200,
        ],
    ),
];

/// The policy every cell runs under: a deployed stack's default.
const POLICY: [(&str, &str); 1] = [("ADMIN_REQUIRES_AAL2", "true")];

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Signs claims with the dev key under a custom header (for headers TokenSigner never sets).
fn sign_with_header(header: Header, claims: &AccessClaims) -> String {
    let key = EncodingKey::from_ed_der(dev_signing_key().pkcs8());
    shared::tokens::crypto::install();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Builds the credential of a row: (token, the session id `DELETE /sessions/{id}` targets).
async fn credential(env: &TestEnv, kind: &str) -> (Option<String>, String) {
    let (own, token) = env.login(PLAIN_USER_ID, Role::User).await;
    let (spare, _) = env.login(PLAIN_USER_ID, Role::User).await;
    let claims = env
        .signer
        .claims(PLAIN_USER_ID, &own.session_id, Role::User, now());
    let signed = |c: &AccessClaims| env.signer.sign_claims(c).unwrap();
    let dev_header = || {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(shared::tokens::keys::DEV_ONLY_KID.to_owned());
        h.typ = Some("at+jwt".to_owned());
        h
    };
    let target = spare.session_id.clone();
    let token = match kind {
        "no token" => None,
        "garbage" => Some("garbage.garbage.garbage".to_owned()),
        "expired" => {
            let mut c = claims.clone();
            c.iat = now() - 3600;
            c.exp = now() - 60;
            Some(signed(&c))
        }
        "nbf in the future" => {
            let mut c = claims.clone();
            c.nbf = now() + 600;
            Some(signed(&c))
        }
        "wrong aud" => {
            let mut c = claims.clone();
            c.aud = "another-api".into();
            Some(signed(&c))
        }
        "wrong iss" => {
            let mut c = claims.clone();
            c.iss = "https://evil.example".into();
            Some(signed(&c))
        }
        "alg none (and None, NONE, nOnE)" => {
            // One spelling per call keeps the row's shape; all four are refused in auth.rs tests.
            let header =
                json!({"alg": "none", "typ": "at+jwt", "kid": shared::tokens::keys::DEV_ONLY_KID});
            Some(format!(
                "{}.{}.",
                b64(&header),
                b64(&serde_json::to_value(&claims).unwrap())
            ))
        }
        "HS256 signed with the public key" => {
            let public = URL_SAFE_NO_PAD
                .decode(dev_signing_key().public_jwk().x)
                .unwrap();
            // Built by hand: the functions' JWT provider refuses to make HMAC signatures.
            let header =
                json!({"alg": "HS256", "typ": "at+jwt", "kid": shared::tokens::keys::DEV_ONLY_KID});
            let body = format!(
                "{}.{}",
                b64(&header),
                b64(&serde_json::to_value(&claims).unwrap())
            );
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public);
            let mac = ring::hmac::sign(&key, body.as_bytes());
            Some(format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())))
        }
        "unknown kid" => {
            let stranger = SigningKey::generate("unknown-kid").unwrap();
            let s = shared::tokens::TokenSigner::new(&stranger, &env.state.config.tokens, 900);
            Some(s.sign_claims(&claims).unwrap())
        }
        "jku header (never fetched)" => {
            let mut h = dev_header();
            h.jku = Some("https://evil.example/jwks.json".into());
            Some(sign_with_header(h, &claims))
        }
        "x5u header (never fetched)" => {
            let mut h = dev_header();
            h.x5u = Some("https://evil.example/cert.pem".into());
            Some(sign_with_header(h, &claims))
        }
        "tampered payload" => {
            let good = signed(&claims);
            let parts: Vec<&str> = good.split('.').collect();
            let mut evil = claims.clone();
            evil.sub = ADMIN_ID.to_string();
            evil.role = Role::Admin;
            Some(format!(
                "{}.{}.{}",
                parts[0],
                b64(&serde_json::to_value(&evil).unwrap()),
                parts[2]
            ))
        }
        "refresh token as bearer" => Some(
            RefreshKey::dev()
                .issue(PLAIN_USER_ID, &own.session_id, "family", 0)
                .expose(),
        ),
        "token of an ended session" => {
            let policy = env.state.config.sessions;
            env.state
                .store
                .end_session(
                    PLAIN_USER_ID,
                    &own.session_id,
                    PLAIN_USER_ID,
                    EndReason::Logout,
                    now(),
                    &policy,
                )
                .await
                .unwrap();
            Some(token)
        }
        "token of a disabled user" => {
            env.update_user(PLAIN_USER_ID, "user", true).await;
            Some(token)
        }
        "token claiming admin, users table says user" => Some(
            env.signer
                .issue(PLAIN_USER_ID, &own.session_id, Role::Admin, now())
                .unwrap(),
        ),
        "plain user" => Some(token),
        "another user's session id" => {
            let (jane, _) = env.login(USER_ID, Role::User).await;
            return (Some(token), jane.session_id);
        }
        "admin, password only (aal1)" => {
            let (admin_spare, _) = env.login(ADMIN_ID, Role::Admin).await;
            let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
            return (Some(admin), admin_spare.session_id);
        }
        "admin, password + TOTP (aal2)" | "admin, password + recovery code (aal2)" => {
            // Signed in the way the admin would: the password, then the second factor.
            let app = TestApp::new(&env.state);
            let second = if kind.contains("TOTP") {
                json!({"code": demo_totp_code(now()).unwrap()})
            } else {
                json!({"recovery_code": DEMO_RECOVERY_CODES[0]})
            };
            let admin = app
                .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, second)
                .await
                .access;
            let (spare, _) = env.login(TOTP_ADMIN_ID, Role::Admin).await;
            return (Some(admin), spare.session_id);
        }
        other => panic!("no credential for {other}"),
    };
    (token, target)
}

/// Calls a column's route with a row's credential (`own_target` for the routes that name one
/// of the caller's own sessions).
async fn call(env: &TestEnv, route: &str, token: Option<&str>, own_target: &str) -> Reply {
    let (jane_session, _) = env.login(USER_ID, Role::User).await;
    let (function, path, body) = match route {
        "GET /sessions/user/{user_id}" => {
            ("get-user-sessions", "/sessions/user/74".to_owned(), None)
        }
        "DELETE /sessions/user/{user_id}/{session_id}" => (
            "admin-revoke-session",
            format!("/sessions/user/74/{}", jane_session.session_id),
            None,
        ),
        "DELETE /sessions/user/{user_id}" => (
            "admin-revoke-user-sessions",
            "/sessions/user/74".to_owned(),
            None,
        ),
        "PATCH /users/{user_id}" => (
            "update-user",
            "/users/74".to_owned(),
            Some(json!({"disabled": false})),
        ),
        "POST /auth/logout" => ("logout", "/auth/logout".to_owned(), None),
        "POST /auth/password" => (
            "change-password",
            "/auth/password".to_owned(),
            Some(json!({"current_password": DEMO_PASSWORD, "new_password": "a brand new secret"})),
        ),
        "GET /sessions" => ("list-my-sessions", "/sessions".to_owned(), None),
        "DELETE /sessions/{session_id}" => {
            ("revoke-my-session", format!("/sessions/{own_target}"), None)
        }
        "DELETE /sessions?scope=others" => (
            "revoke-other-sessions",
            "/sessions?scope=others".to_owned(),
            None,
        ),
        "PATCH /sessions/{session_id}" => (
            "rename-session",
            format!("/sessions/{own_target}"),
            Some(json!({"label": "matrix"})),
        ),
        "POST /auth/reauthenticate" => (
            "reauthenticate",
            "/auth/reauthenticate".to_owned(),
            Some(json!({"password": DEMO_PASSWORD})),
        ),
        "POST /me/mfa/totp" => ("enrol-totp", "/me/mfa/totp".to_owned(), None),
        "POST /me/mfa/totp/confirm" => (
            "confirm-totp",
            "/me/mfa/totp/confirm".to_owned(),
            Some(json!({"code": "123456", "password": DEMO_PASSWORD})),
        ),
        "DELETE /me/mfa/totp" => ("remove-totp", "/me/mfa/totp".to_owned(), None),
        "POST /me/mfa/recovery-codes" => (
            "regenerate-recovery-codes",
            "/me/mfa/recovery-codes".to_owned(),
            None,
        ),
        "GET /sessions/current" => ("get-current-session", "/sessions/current".to_owned(), None),
        "DELETE /sessions?scope=global" => (
            "revoke-other-sessions",
            "/sessions?scope=global".to_owned(),
            None,
        ),
        "GET /users/{user_id}/activity" => {
            ("get-user-activity", "/users/74/activity".to_owned(), None)
        }
        "GET /me/activity" => ("list-my-activity", "/me/activity".to_owned(), None),
        other => panic!("no request for {other}"),
    };
    TestApp::new(&env.state)
        .with_user_agent("matrix")
        .call(function, &path, token, body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_credential_exactly() {
    let mut failures = Vec::new();
    for (kind, expected) in MATRIX {
        for (route, want) in ROUTES.iter().zip(expected) {
            // A fresh world per cell: a successful call changes state.
            let env = TestEnv::seeded_with(&POLICY).await;
            let (token, own_target) = credential(&env, kind).await;
            let r = call(&env, route, token.as_deref(), &own_target).await;
            if r.status != want {
                failures.push(format!(
                    "{kind} × {route}: want {want}, got {} {}",
                    r.status, r.body
                ));
            }
            if r.status >= 400 {
                assert!(
                    r.body["detail"].is_string() && r.body["code"].is_string(),
                    "{kind} × {route}"
                );
            }
            if r.status == 401 {
                assert!(
                    r.header("www-authenticate")
                        .is_some_and(|h| h.starts_with("Bearer")),
                    "{kind} × {route}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The matrix as the Markdown table `docs/security.md` carries.
fn markdown() -> String {
    let mut out = format!(
        "| credential | {} |\n",
        ROUTES.map(|r| format!("`{r}`")).join(" | ")
    );
    out.push_str(&format!("|---|{}\n", "---|".repeat(ROUTES.len())));
    for (kind, statuses) in MATRIX {
        out.push_str(&format!(
            "| {kind} | {} |\n",
            statuses.map(|s| s.to_string()).join(" | ")
        ));
    }
    out
}

#[test]
fn docs_security_md_carries_the_same_matrix() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/security.md"
    ))
    .unwrap();
    let table = markdown();
    assert!(
        doc.contains(&table),
        "docs/security.md must contain exactly:\n{table}"
    );
}
