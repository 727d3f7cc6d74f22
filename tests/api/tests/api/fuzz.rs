//! Bad input, generated: request bodies, path and query parameters and headers of every kind
//! always get a 4xx with `{"detail", "code"}` (or a success), never a panic or a 5xx, and what
//! is stored is sanitised. Bounded case counts keep it inside `make test`.

use api_tests::{Reply, TestEnv, event, send};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::domain::Role;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID};
use std::sync::LazyLock;
use tokio::runtime::Runtime;

struct World {
    rt: Runtime,
    env: TestEnv,
    admin: String,
    user: String,
    user_session: String,
}

/// One seeded Dynoxide for all cases of this file.
static WORLD: LazyLock<World> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (env, admin, user, user_session) = rt.block_on(async {
        let env = TestEnv::seeded().await;
        let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
        let (session, user) = env.login(PLAIN_USER_ID, Role::User).await;
        (env, admin, user, session.session_id)
    });
    World {
        rt,
        env,
        admin,
        user,
        user_session,
    }
});

fn check(r: &Reply, what: &str) {
    assert!(r.status < 500, "{what}: {} {}", r.status, r.body);
    if r.status >= 400 {
        assert!(
            r.body["detail"].is_string() && r.body["code"].is_string(),
            "{what}: {}",
            r.body
        );
    }
}

/// Sends raw body bytes (base64-encoded in the event, as API Gateway does for binary bodies).
fn post_raw(route: &str, token: Option<&str>, body: &[u8]) -> Reply {
    let w = &*WORLD;
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let mut ev = if route == "/sessions/{session_id}" {
        let path = format!("/sessions/{}", w.user_session);
        event("PATCH", route, &path, "", &headers)
    } else {
        event("POST", route, route, "", &headers)
    };
    ev["body"] = Value::String(STANDARD.encode(body));
    ev["isBase64Encoded"] = Value::Bool(true);
    let s = &w.env.state;
    w.rt.block_on(async {
        match route {
            "/auth/register" => send(s, &ev, register::handle).await,
            "/auth/login" => send(s, &ev, login::handle).await,
            "/auth/refresh" => send(s, &ev, refresh::handle).await,
            "/auth/not-me" => send(s, &ev, report_sign_in::handle).await,
            "/auth/password" => send(s, &ev, change_password::handle).await,
            "/auth/reauthenticate" => send(s, &ev, reauthenticate::handle).await,
            "/sessions/{session_id}" => send(s, &ev, rename_session::handle).await,
            other => panic!("{other}"),
        }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("jane@example.com")),
        Just(json!(DEMO_PASSWORD)),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("email".to_owned()),
                    Just("password".to_owned()),
                    Just("refresh_token".to_owned()),
                    Just("current_password".to_owned()),
                    Just("new_password".to_owned()),
                    Just("device_name".to_owned()),
                    Just("device_type".to_owned()),
                    Just("label".to_owned()),
                    ".{0,12}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The routes that take a JSON body (PATCH for the session label, POST for the rest).
const ROUTES: [&str; 7] = [
    "/auth/register",
    "/auth/login",
    "/auth/refresh",
    "/auth/not-me",
    "/auth/password",
    "/auth/reauthenticate",
    "/sessions/{session_id}",
];

/// The routes of [`ROUTES`] that need the user's token.
fn needs_token(route: usize) -> bool {
    route >= 4
}

proptest! {
    // A fixed seed: the same cases on every run, so CI is deterministic.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5e55_1015),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_as_a_body_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..2048), route in 0usize..ROUTES.len()) {
        let w = &*WORLD;
        let token = needs_token(route).then_some(w.user.as_str());
        check(&post_raw(ROUTES[route], token, &body), ROUTES[route]);
    }

    #[test]
    fn arbitrary_json_as_a_body_is_refused_cleanly(value in json_value(), route in 0usize..ROUTES.len()) {
        let w = &*WORLD;
        let token = needs_token(route).then_some(w.user.as_str());
        check(&post_raw(ROUTES[route], token, value.to_string().as_bytes()), ROUTES[route]);
    }

    #[test]
    fn arbitrary_path_and_query_parameters_are_refused_cleanly(
        user_id in ".{0,40}",
        session_id in ".{0,40}",
        limit in ".{0,12}",
        cursor in ".{0,80}",
        include in ".{0,8}",
    ) {
        let w = &*WORLD;
        let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        let query = format!("limit={}&cursor={}&include_inactive={}", enc(&limit), enc(&cursor), enc(&include));
        let admin = format!("Bearer {}", w.admin);
        let user = format!("Bearer {}", w.user);
        let s = &w.env.state;
        let mut list = event("GET", "/sessions/user/{user_id}", "/sessions/user/x", &query, &[("authorization", &admin)]);
        list["pathParameters"]["user_id"] = Value::String(user_id.clone());
        list["queryStringParameters"] = json!({"limit": limit, "cursor": cursor, "include_inactive": include});
        let mut revoke = event("DELETE", "/sessions/user/{user_id}/{session_id}", "/sessions/user/x/y", "", &[("authorization", &admin)]);
        revoke["pathParameters"] = json!({"user_id": user_id, "session_id": session_id});
        let mut mine = event("DELETE", "/sessions/{session_id}", "/sessions/y", "", &[("authorization", &user)]);
        mine["pathParameters"] = json!({"session_id": session_id});
        let mut my_list = event("GET", "/sessions", "/sessions", &query, &[("authorization", &user)]);
        my_list["queryStringParameters"] = json!({"limit": limit, "cursor": cursor, "include_inactive": include});
        w.rt.block_on(async {
            check(&send(s, &list, get_user_sessions::handle).await, "admin listing");
            check(&send(s, &revoke, admin_revoke_session::handle).await, "admin revoke");
            check(&send(s, &mine, revoke_my_session::handle).await, "revoke mine");
            check(&send(s, &my_list, list_my_sessions::handle).await, "my listing");
        });
    }

    #[test]
    fn any_user_agent_and_device_name_is_stored_sanitised(
        // Header values are visible ASCII, spaces and tabs (anything else never reaches a
        // function); up to 10 KB of them.
        ua in prop_oneof!["[\\t\\x20-\\x7e]{0,200}", "[\\t\\x20-\\x7e]{1,64}".prop_map(|s| s.repeat(10_240 / s.len()))],
        // The body carries what headers cannot: control characters and any unicode.
        name in "[\\x00-\\x1f\\u{7f}-\\u{10ffff}a-z ]{0,100}",
    ) {
        let w = &*WORLD;
        let mut ev = event("POST", "/auth/login", "/auth/login", "", &[]);
        ev["headers"]["user-agent"] = Value::String(ua.clone());
        ev["body"] = Value::String(json!({"email": "sam@example.com", "password": DEMO_PASSWORD, "device_name": name}).to_string());
        // Header values an HTTP stack would refuse never reach a function.
        prop_assume!(lambda_http::request::from_str(&ev.to_string()).is_ok());
        let r = w.rt.block_on(send(&w.env.state, &ev, login::handle));
        check(&r, "login");
        prop_assert_eq!(r.status, 200);
        let session = &r.body["session"];
        let stored_ua = session["user_agent"].as_str().unwrap();
        prop_assert!(stored_ua.len() <= shared::domain::device::MAX_USER_AGENT_LEN);
        prop_assert!(!stored_ua.chars().any(char::is_control));
        let stored_name = session["device_name"].as_str().unwrap();
        prop_assert!(stored_name.chars().count() <= 64);
        prop_assert!(!stored_name.chars().any(char::is_control));
    }
}

#[test]
fn deep_nesting_huge_bodies_and_invalid_utf8_are_4xx() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = post_raw("/auth/login", None, deep.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    post_raw("/auth/login", None, deep.as_bytes()).assert_error(400, "invalid_body");
    let huge = vec![b' '; 1 << 20];
    post_raw("/auth/register", None, &huge).assert_error(413, "payload_too_large");
    post_raw(
        "/auth/login",
        None,
        b"{\"email\": \"\xff\xfe\", \"password\": \"x\"}",
    )
    .assert_error(400, "invalid_body");
}
