//! The session lifecycle end to end against Dynoxide: sign-up, sign-in with device capture,
//! refresh rotation and reuse detection, sign-out, self-service and admin actions.

use api_tests::{Reply, TestApp, TestEnv, event, now, send, with_body};
use serde_json::{Value, json};
use shared::domain::EndReason;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1";

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

async fn register(env: &TestEnv, body: Value) -> Reply {
    TestApp::new(&env.state).register(body).await
}

/// Signs in from a device; the spoofed `X-Forwarded-For` must never be the recorded address.
async fn login_as(env: &TestEnv, email: &str, password: &str, ua: &str) -> Reply {
    TestApp::new(&env.state)
        .with_user_agent(ua)
        .with_header("x-forwarded-for", "6.6.6.6")
        .login(email, password)
        .await
}

/// Signs in and returns (access token, refresh token, session id).
async fn sign_in(env: &TestEnv, email: &str, ua: &str) -> (String, String, String) {
    let r = login_as(env, email, DEMO_PASSWORD, ua).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
        r.body["session"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn refresh_with(env: &TestEnv, refresh_token: &str) -> Reply {
    TestApp::new(&env.state).refresh(refresh_token).await
}

async fn my_sessions(env: &TestEnv, token: &str, query: &str) -> Reply {
    TestApp::new(&env.state)
        .list_my_sessions(token, query)
        .await
}

async fn admin_list(env: &TestEnv, token: &str, user: u64, query: &str) -> Reply {
    let user = user.to_string();
    TestApp::new(&env.state)
        .get_user_sessions(token, &user, query)
        .await
}

async fn logout_with(env: &TestEnv, token: &str) -> Reply {
    TestApp::new(&env.state).logout(token).await
}

async fn patch_user(env: &TestEnv, token: &str, user: &str, body: Value) -> Reply {
    TestApp::new(&env.state)
        .update_user(token, user, body)
        .await
}

// ---------------------------------------------------------------- register

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_creates_a_user_with_a_fresh_id_and_normalised_email() {
    let env = TestEnv::seeded().await;
    let r = register(&env, json!({"email": "  New.User@Example.COM ", "password": "a long enough secret", "display_name": "New\u{0} User"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["email"], "new.user@example.com");
    assert_eq!(r.body["display_name"], "New User");
    assert_eq!(r.body["role"], "user");
    assert!(r.body.get("password_hash").is_none());
    let id = r.body["user_id"].as_u64().unwrap();
    assert!(
        id > PLAIN_USER_ID,
        "ids never collide with existing users: {id}"
    );
    let stored = env.state.store.get_user(id).await.unwrap().unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));

    let again = register(
        &env,
        json!({"email": "NEW.user@example.com", "password": "another long secret"}),
    )
    .await;
    again.assert_error(409, "email_taken");
    let next = register(
        &env,
        json!({"email": "third@example.com", "password": "a long enough secret"}),
    )
    .await;
    assert!(
        next.body["user_id"].as_u64().unwrap() > id + 1,
        "the id taken by the failed attempt is not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refuses_bad_input() {
    let env = TestEnv::start().await;
    for (body, code) in [
        (
            json!({"email": "not-an-email", "password": "a long enough secret"}),
            "invalid_email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129)}),
            "invalid_password",
        ),
        (
            json!({"email": "a@example.com", "password": "password1"}),
            "common_password",
        ),
        (
            json!({"email": "a@example.com", "password": "iloveyou"}),
            "common_password",
        ),
        (json!({"email": "a@example.com"}), "invalid_body"),
        (
            json!({"email": 7, "password": "a long enough secret"}),
            "invalid_body",
        ),
        (
            json!({"email": "a@example.com", "password": "a long enough secret", "role": "admin"}),
            "invalid_body",
        ),
    ] {
        register(&env, body).await.assert_error(400, code);
    }
    let mut ev = event("POST", "/auth/register", "/auth/register", "", &[]);
    ev["body"] = Value::String("{not json".into());
    send(&env.state, &ev, register::handle)
        .await
        .assert_error(400, "invalid_body");
    ev["body"] = Value::String(format!("{{\"email\":\"{}\"}}", "a".repeat(20_000)));
    send(&env.state, &ev, register::handle)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_exactly_one_user() {
    let env = TestEnv::start().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let state = env.state.clone();
        tasks.spawn(async move {
            let ev = with_body(
                event("POST", "/auth/register", "/auth/register", "", &[]),
                &json!({"email": "race@example.com", "password": "a long enough secret"}),
            );
            send(&state, &ev, register::handle).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_can_be_switched_off() {
    let env = TestEnv::start().await;
    let mut vars = api_tests::env_for(&env.endpoint);
    vars.insert("REGISTRATION_ENABLED".into(), "false".into());
    let closed = api_tests::state_for(&vars).await;
    let ev = with_body(
        event("POST", "/auth/register", "/auth/register", "", &[]),
        &json!({"email": "a@example.com", "password": "a long enough secret"}),
    );
    send(&closed, &ev, register::handle)
        .await
        .assert_error(403, "registration_disabled");
}

// ---------------------------------------------------------------- login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_records_the_device_and_the_gateway_source_ip() {
    let env = TestEnv::seeded().await;
    let r = login_as(&env, "Jane@Example.com", DEMO_PASSWORD, CHROME_WINDOWS).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let session = &r.body["session"];
    assert_eq!(session["user_id"], USER_ID);
    assert_eq!(session["device_name"], "Chrome on Windows 10");
    assert_eq!(session["device_type"], "web");
    assert_eq!(session["browser"], "Chrome");
    assert_eq!(
        session["ip_address"], "198.51.100.20",
        "from the request context, not X-Forwarded-For"
    );
    assert_eq!(session["is_current"], true);
    let access = r.body["access_token"].as_str().unwrap();
    assert!(env.state.verifier.verify(access).is_ok());
    let mine = my_sessions(&env, access, "").await;
    assert_eq!(mine.status, 200);
    assert!(
        mine.body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["is_current"] == true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_apps_may_name_their_device_within_limits() {
    let env = TestEnv::seeded().await;
    let ev = with_body(
        event(
            "POST",
            "/auth/login",
            "/auth/login",
            "",
            &[("user-agent", "MyApp/2.1 CFNetwork/1490 Darwin/23.2.0")],
        ),
        &json!({"email": "jane@example.com", "password": DEMO_PASSWORD,
                "device_name": format!("Jane's\u{7} iPhone {}", "x".repeat(100)), "device_type": "mobile"}),
    );
    let r = send(&env.state, &ev, login::handle).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let name = r.body["session"]["device_name"].as_str().unwrap();
    assert!(name.starts_with("Jane's iPhone x"), "{name}");
    assert_eq!(name.chars().count(), 64);
    assert_eq!(r.body["session"]["device_type"], "mobile");
    let bad = with_body(
        event("POST", "/auth/login", "/auth/login", "", &[]),
        &json!({"email": "jane@example.com", "password": DEMO_PASSWORD, "device_type": "toaster"}),
    );
    send(&env.state, &bad, login::handle)
        .await
        .assert_error(400, "invalid_body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_look_the_same() {
    let env = TestEnv::seeded().await;
    let wrong = login_as(&env, "jane@example.com", "not the password", CHROME_WINDOWS).await;
    let unknown = login_as(
        &env,
        "nobody@example.com",
        "not the password",
        CHROME_WINDOWS,
    )
    .await;
    let malformed = login_as(&env, "not an email", "not the password", CHROME_WINDOWS).await;
    for r in [&wrong, &unknown, &malformed] {
        r.assert_error(401, "invalid_credentials");
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, malformed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_users_cannot_sign_in_but_learn_it_only_with_the_right_password() {
    let env = TestEnv::seeded().await;
    env.update_user(USER_ID, "user", true).await;
    login_as(&env, "jane@example.com", DEMO_PASSWORD, CHROME_WINDOWS)
        .await
        .assert_error(403, "account_disabled");
    login_as(&env, "jane@example.com", "wrong password!", CHROME_WINDOWS)
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_refused_with_429_and_retry_after() {
    let env = TestEnv::seeded().await;
    for _ in 0..5 {
        login_as(&env, "jane@example.com", "wrong password!", CHROME_WINDOWS)
            .await
            .assert_error(401, "invalid_credentials");
    }
    let r = login_as(&env, "jane@example.com", DEMO_PASSWORD, CHROME_WINDOWS).await;
    r.assert_error(429, "too_many_attempts");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Unknown emails are throttled the same way.
    for _ in 0..5 {
        login_as(&env, "ghost@example.com", "wrong password!", CHROME_WINDOWS).await;
    }
    login_as(&env, "ghost@example.com", "wrong password!", CHROME_WINDOWS)
        .await
        .assert_error(429, "too_many_attempts");
    // Other accounts are not affected.
    assert_eq!(
        login_as(&env, "sam@example.com", DEMO_PASSWORD, CHROME_WINDOWS)
            .await
            .status,
        200
    );
}

// ---------------------------------------------------------------- refresh

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_just_rotated_token_gets_409_without_harm() {
    let env = TestEnv::seeded().await;
    let (_, first, session_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let r = refresh_with(&env, &first).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(
        env.state
            .verifier
            .verify(r.body["access_token"].as_str().unwrap())
            .is_ok()
    );

    refresh_with(&env, &first)
        .await
        .assert_error(409, "refresh_token_rotated");
    let stored = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_none(), "the session lives");
    assert_eq!(
        refresh_with(&env, &second).await.status,
        200,
        "the newest token still works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_after_the_grace_window_ends_the_session() {
    let env = TestEnv::seeded().await;
    let (access, first, session_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let second = refresh_with(&env, &first).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut s = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    s.refresh_rotated_at = Some(now() - 60);
    env.put_session(&s).await;

    refresh_with(&env, &first)
        .await
        .assert_error(401, "refresh_token_reused");
    let ended = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.revoked_reason, Some(EndReason::RefreshTokenReuse));
    // Neither the thief's nor the owner's tokens work any more.
    refresh_with(&env, &second)
        .await
        .assert_error(401, "session_ended");
    my_sessions(&env, &access, "")
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_refuses_dead_sessions_disabled_users_and_foreign_tokens() {
    let env = TestEnv::seeded().await;
    let policy = env.state.config.sessions;
    for (label, mutate) in [
        (
            "ended",
            Box::new(|s: &mut shared::domain::Session| s.revoked_at = Some(now()))
                as Box<dyn Fn(&mut _)>,
        ),
        (
            "expired",
            Box::new(|s: &mut shared::domain::Session| s.expires_at = now() - 1),
        ),
        (
            "idle",
            Box::new(move |s: &mut shared::domain::Session| {
                s.last_activity = now() - policy.idle_timeout_seconds - 1
            }),
        ),
    ] {
        let (_, refresh_token, session_id) =
            sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
        let mut s = env
            .state
            .store
            .get_session(USER_ID, &session_id)
            .await
            .unwrap()
            .unwrap();
        mutate(&mut s);
        env.put_session(&s).await;
        let r = refresh_with(&env, &refresh_token).await;
        assert_eq!(r.status, 401, "{label}: {}", r.body);
    }
    let (access, refresh_token, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    env.update_user(PLAIN_USER_ID, "user", true).await;
    refresh_with(&env, &refresh_token)
        .await
        .assert_error(401, "account_disabled");
    for junk in [
        "",
        "garbage",
        access.as_str(),
        "rt1.74.AAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        refresh_with(&env, junk)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_moves_last_activity_and_ip() {
    let env = TestEnv::seeded().await;
    let (_, refresh_token, session_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let mut s = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    s.last_activity = now() - 3600;
    s.ip_address = "192.0.2.99".into();
    env.put_session(&s).await;
    assert_eq!(refresh_with(&env, &refresh_token).await.status, 200);
    let after = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.last_activity >= now() - 5);
    assert_eq!(after.ip_address, "198.51.100.20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_with_one_token_yield_exactly_one_new_token() {
    let env = TestEnv::seeded().await;
    let (_, refresh_token, session_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let state = env.state.clone();
        let token = refresh_token.clone();
        tasks.spawn(async move {
            let ev = with_body(
                event("POST", "/auth/refresh", "/auth/refresh", "", &[]),
                &json!({"refresh_token": token}),
            );
            send(&state, &ev, refresh::handle).await
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        match r.status {
            200 => winners.push(r.body["refresh_token"].as_str().unwrap().to_owned()),
            409 | 401 => {}
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_none());
    assert_eq!(refresh_with(&env, &winners[0]).await.status, 200);
}

// ---------------------------------------------------------------- sign-out and self-service

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_for_both_tokens() {
    let env = TestEnv::seeded().await;
    let (access, refresh_token, _) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let r = logout_with(&env, &access).await;
    assert_eq!(r.status, 204);
    my_sessions(&env, &access, "")
        .await
        .assert_error(401, "session_ended");
    refresh_with(&env, &refresh_token)
        .await
        .assert_error(401, "session_ended");
    logout_with(&env, &access)
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_sessions_lists_only_mine_and_marks_the_current_one() {
    let env = TestEnv::seeded().await;
    let (laptop, _, laptop_id) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let (_, _, phone_id) = sign_in(&env, "sam@example.com", SAFARI_IPHONE).await;
    let r = my_sessions(&env, &laptop, "").await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s["user_id"] == PLAIN_USER_ID));
    for s in list {
        assert_eq!(s["is_current"], s["id"] == laptop_id.as_str());
    }
    assert!(
        list.iter()
            .any(|s| s["id"] == phone_id.as_str() && s["device_type"] == "mobile")
    );
    // Paging, and an admin-scope cursor does not work here.
    let page = my_sessions(&env, &laptop, "limit=1").await;
    let cursor = page.header("x-next-cursor").unwrap().to_owned();
    let next = my_sessions(&env, &laptop, &format!("limit=1&cursor={cursor}")).await;
    assert_eq!(next.body.as_array().unwrap().len(), 1);
    assert!(next.header("x-next-cursor").is_none());
    let (admin, _, _) = sign_in(&env, "admin@example.com", CHROME_WINDOWS).await;
    let admin_page = admin_list(&env, &admin, PLAIN_USER_ID, "limit=1").await;
    let admin_cursor = admin_page.header("x-next-cursor").unwrap().to_owned();
    my_sessions(&env, &laptop, &format!("limit=1&cursor={admin_cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
    // Jane's cursor is no use to Sam either.
    let (jane, _, _) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let jane_cursor = my_sessions(&env, &jane, "limit=1")
        .await
        .header("x-next-cursor")
        .unwrap()
        .to_owned();
    my_sessions(&env, &laptop, &format!("limit=1&cursor={jane_cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_end_their_own_sessions_only() {
    let env = TestEnv::seeded().await;
    let (sam, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let (sam_phone, _, sam_phone_id) = sign_in(&env, "sam@example.com", SAFARI_IPHONE).await;
    let (jane, _, jane_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let delete = |token: String, id: String| {
        let env = &env;
        async move {
            let ev = event(
                "DELETE",
                "/sessions/{session_id}",
                &format!("/sessions/{id}"),
                "",
                &[("authorization", &auth(&token))],
            );
            send(&env.state, &ev, revoke_my_session::handle).await
        }
    };
    // Jane's session id is not Sam's to end, and Jane's session keeps working.
    delete(sam.clone(), jane_id.clone())
        .await
        .assert_error(404, "session_not_found");
    assert_eq!(my_sessions(&env, &jane, "").await.status, 200);
    delete(sam.clone(), "not-a-session-id".into())
        .await
        .assert_error(404, "session_not_found");
    // Sam ends his phone's session: its token is refused at once.
    assert_eq!(delete(sam.clone(), sam_phone_id.clone()).await.status, 204);
    my_sessions(&env, &sam_phone, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(my_sessions(&env, &sam, "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_all_other_sessions_keeps_the_current_one() {
    let env = TestEnv::seeded().await;
    let (current, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(sign_in(&env, "sam@example.com", SAFARI_IPHONE).await.0);
    }
    let (jane, _, _) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let call = |query: &'static str| {
        let ev = event(
            "DELETE",
            "/sessions",
            "/sessions",
            query,
            &[("authorization", &auth(&current))],
        );
        let state = env.state.clone();
        async move { send(&state, &ev, revoke_other_sessions::handle).await }
    };
    call("").await.assert_error(400, "invalid_scope");
    call("scope=all").await.assert_error(400, "invalid_scope");
    let r = call("scope=others").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"revoked": 3}));
    for token in &others {
        my_sessions(&env, token, "")
            .await
            .assert_error(401, "session_ended");
    }
    assert_eq!(
        my_sessions(&env, &current, "")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        my_sessions(&env, &jane, "").await.status,
        200,
        "other users untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_other_sessions_by_default() {
    let env = TestEnv::seeded().await;
    let (current, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let (other, _, _) = sign_in(&env, "sam@example.com", SAFARI_IPHONE).await;
    let change = |body: Value| {
        let ev = with_body(
            event(
                "POST",
                "/auth/password",
                "/auth/password",
                "",
                &[("authorization", &auth(&current))],
            ),
            &body,
        );
        let state = env.state.clone();
        async move { send(&state, &ev, change_password::handle).await }
    };
    change(json!({"current_password": "wrong password!", "new_password": "a brand new secret"}))
        .await
        .assert_error(403, "invalid_current_password");
    change(json!({"current_password": DEMO_PASSWORD, "new_password": "password"}))
        .await
        .assert_error(400, "common_password");
    change(json!({"current_password": DEMO_PASSWORD, "new_password": DEMO_PASSWORD}))
        .await
        .assert_error(400, "password_unchanged");
    let r =
        change(json!({"current_password": DEMO_PASSWORD, "new_password": "a brand new secret"}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked_other_sessions"], 1);
    my_sessions(&env, &other, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(my_sessions(&env, &current, "").await.status, 200);
    login_as(&env, "sam@example.com", DEMO_PASSWORD, CHROME_WINDOWS)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        login_as(
            &env,
            "sam@example.com",
            "a brand new secret",
            CHROME_WINDOWS
        )
        .await
        .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_always_ends_the_other_sessions() {
    let env = TestEnv::seeded().await;
    let (current, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let (other, _, _) = sign_in(&env, "sam@example.com", SAFARI_IPHONE).await;
    let ev = with_body(
        event(
            "POST",
            "/auth/password",
            "/auth/password",
            "",
            &[("authorization", &auth(&current))],
        ),
        &json!({"current_password": DEMO_PASSWORD, "new_password": "a brand new secret", "revoke_other_sessions": false}),
    );
    // Keeping them is no longer offered: a session of the old password must not outlive it.
    send(&env.state, &ev, change_password::handle)
        .await
        .assert_error(400, "invalid_body");
    assert_eq!(
        my_sessions(&env, &other, "").await.status,
        200,
        "nothing changed"
    );
}

// ---------------------------------------------------------------- admin actions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_end_one_session_or_all_of_a_users() {
    let env = TestEnv::seeded().await;
    let (admin, _, _) = sign_in(&env, "admin@example.com", CHROME_WINDOWS).await;
    let (jane1, _, jane1_id) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let (jane2, _, _) = sign_in(&env, "jane@example.com", SAFARI_IPHONE).await;
    let (sam, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;

    let one = |token: String, user: &'static str, id: String| {
        let ev = event(
            "DELETE",
            "/sessions/user/{user_id}/{session_id}",
            &format!("/sessions/user/{user}/{id}"),
            "",
            &[("authorization", &auth(&token))],
        );
        let state = env.state.clone();
        async move { send(&state, &ev, admin_revoke_session::handle).await }
    };
    one(sam.clone(), "74", jane1_id.clone())
        .await
        .assert_error(403, "admin_required");
    one(admin.clone(), "abc", jane1_id.clone())
        .await
        .assert_error(400, "invalid_user_id");
    one(admin.clone(), "75", jane1_id.clone())
        .await
        .assert_error(404, "session_not_found");
    one(admin.clone(), "74", "AAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
        .await
        .assert_error(404, "session_not_found");
    assert_eq!(one(admin.clone(), "74", jane1_id.clone()).await.status, 204);
    my_sessions(&env, &jane1, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(my_sessions(&env, &jane2, "").await.status, 200);
    let listed = admin_list(&env, &admin, USER_ID, "include_inactive=true").await;
    let ended = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == jane1_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(ended["ended_reason"], "admin");

    let all = |token: String, user: &'static str| {
        let ev = event(
            "DELETE",
            "/sessions/user/{user_id}",
            &format!("/sessions/user/{user}"),
            "",
            &[("authorization", &auth(&token))],
        );
        let state = env.state.clone();
        async move { send(&state, &ev, admin_revoke_user_sessions::handle).await }
    };
    all(sam.clone(), "74")
        .await
        .assert_error(403, "admin_required");
    all(sam.clone(), "abc")
        .await
        .assert_error(403, "admin_required");
    all(admin.clone(), "9999")
        .await
        .assert_error(404, "user_not_found");
    all(admin.clone(), "1")
        .await
        .assert_error(400, "own_user_id");
    let r = all(admin.clone(), "74").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // jane2 plus the three seeded active sessions.
    assert_eq!(r.body, json!({"revoked": 4}));
    my_sessions(&env, &jane2, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(admin_list(&env, &admin, USER_ID, "").await.body, json!([]));
    assert_eq!(my_sessions(&env, &sam, "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_every_session_and_blocks_sign_in() {
    let env = TestEnv::seeded().await;
    let (admin, _, _) = sign_in(&env, "admin@example.com", CHROME_WINDOWS).await;
    let (jane, jane_refresh, _) = sign_in(&env, "jane@example.com", CHROME_WINDOWS).await;
    let (sam, _, _) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;

    patch_user(&env, &sam, "74", json!({"disabled": true}))
        .await
        .assert_error(403, "admin_required");
    patch_user(&env, &admin, "abc", json!({"disabled": true}))
        .await
        .assert_error(400, "invalid_user_id");
    patch_user(&env, &admin, "9999", json!({"disabled": true}))
        .await
        .assert_error(404, "user_not_found");
    patch_user(&env, &admin, "74", json!({}))
        .await
        .assert_error(400, "invalid_body");
    patch_user(&env, &admin, "74", json!({"disabled": "yes"}))
        .await
        .assert_error(400, "invalid_body");
    patch_user(&env, &admin, "1", json!({"disabled": true}))
        .await
        .assert_error(400, "cannot_modify_self");
    patch_user(&env, &admin, "1", json!({"role": "user"}))
        .await
        .assert_error(400, "cannot_modify_self");
    // The harmless changes of oneself go through (schemathesis once found them a 500).
    let r = patch_user(
        &env,
        &admin,
        "1",
        json!({"disabled": false, "role": "admin"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["role"], "admin");

    let r = patch_user(&env, &admin, "74", json!({"disabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled"], true);
    assert_eq!(r.body["revoked_sessions"], 4);
    my_sessions(&env, &jane, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(refresh_with(&env, &jane_refresh).await.status, 401);
    login_as(&env, "jane@example.com", DEMO_PASSWORD, CHROME_WINDOWS)
        .await
        .assert_error(403, "account_disabled");

    let r = patch_user(&env, &admin, "74", json!({"disabled": false})).await;
    assert_eq!(r.body["disabled"], false);
    assert_eq!(
        login_as(&env, "jane@example.com", DEMO_PASSWORD, CHROME_WINDOWS)
            .await
            .status,
        200
    );

    // Promotion takes effect on the next request, without a new token.
    let r = patch_user(&env, &admin, "75", json!({"role": "admin"})).await;
    assert_eq!(r.body["role"], "admin");
    assert_eq!(admin_list(&env, &sam, USER_ID, "").await.status, 200);
}

// ---------------------------------------------------------------- jwks and the ended-session rule

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_verifying_keys() {
    let env = TestEnv::start().await;
    let r = send(
        &env.state,
        &event(
            "GET",
            "/.well-known/jwks.json",
            "/.well-known/jwks.json",
            "",
            &[],
        ),
        jwks::handle,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let key = &r.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], shared::tokens::keys::DEV_ONLY_KID);
    assert!(key.get("d").is_none(), "never the private key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authenticated_route_refuses_an_ended_sessions_token() {
    let env = TestEnv::seeded().await;
    let (admin, _, admin_session) = sign_in(&env, "admin@example.com", CHROME_WINDOWS).await;
    let (user, _, user_session) = sign_in(&env, "sam@example.com", CHROME_WINDOWS).await;
    let policy = env.state.config.sessions;
    env.state
        .store
        .end_session(
            ADMIN_ID,
            &admin_session,
            ADMIN_ID,
            EndReason::Logout,
            now(),
            &policy,
        )
        .await
        .unwrap();
    env.state
        .store
        .end_session(
            PLAIN_USER_ID,
            &user_session,
            PLAIN_USER_ID,
            EndReason::Logout,
            now(),
            &policy,
        )
        .await
        .unwrap();
    let a = auth(&admin);
    let u = auth(&user);
    let sid = "AAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let cases: Vec<(&str, Reply)> = vec![
        ("get-user-sessions", send(&env.state, &event("GET", "/sessions/user/{user_id}", "/sessions/user/74", "", &[("authorization", &a)]), get_user_sessions::handle).await),
        ("admin-revoke-user-sessions", send(&env.state, &event("DELETE", "/sessions/user/{user_id}", "/sessions/user/74", "", &[("authorization", &a)]), admin_revoke_user_sessions::handle).await),
        ("admin-revoke-session", send(&env.state, &event("DELETE", "/sessions/user/{user_id}/{session_id}", &format!("/sessions/user/74/{sid}"), "", &[("authorization", &a)]), admin_revoke_session::handle).await),
        ("update-user", send(&env.state, &with_body(event("PATCH", "/users/{user_id}", "/users/74", "", &[("authorization", &a)]), &json!({"disabled": true})), update_user::handle).await),
        ("logout", send(&env.state, &event("POST", "/auth/logout", "/auth/logout", "", &[("authorization", &u)]), logout::handle).await),
        ("change-password", send(&env.state, &with_body(event("POST", "/auth/password", "/auth/password", "", &[("authorization", &u)]), &json!({"current_password": DEMO_PASSWORD, "new_password": "a brand new secret"})), change_password::handle).await),
        ("list-my-sessions", send(&env.state, &event("GET", "/sessions", "/sessions", "", &[("authorization", &u)]), list_my_sessions::handle).await),
        ("revoke-my-session", send(&env.state, &event("DELETE", "/sessions/{session_id}", &format!("/sessions/{sid}"), "", &[("authorization", &u)]), revoke_my_session::handle).await),
        ("revoke-other-sessions", send(&env.state, &event("DELETE", "/sessions", "/sessions", "scope=others", &[("authorization", &u)]), revoke_other_sessions::handle).await),
    ];
    for (route, r) in cases {
        assert_eq!(r.status, 401, "{route}: {}", r.body);
        assert_eq!(r.body["code"], "session_ended", "{route}");
    }
    // Nothing was changed by the refused requests.
    assert!(
        !env.state
            .store
            .get_user(USER_ID)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_through_the_admin_cli_path_follow_the_same_rules() {
    use shared::domain::Role;
    use shared::services::accounts::{NewUser, create_user};
    let env = TestEnv::seeded().await;
    let new = |email: &'static str, password: &'static str| NewUser {
        email,
        password,
        display_name: None,
        role: Role::Admin,
        user_id: None,
    };
    let user = create_user(
        &env.state.store,
        &env.state.passwords,
        new(" Root@Example.com", "a long enough secret"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(user.email, "root@example.com");
    assert_eq!(user.display_name, "root");
    let err = create_user(
        &env.state.store,
        &env.state.passwords,
        new("root@example.com", "a long enough secret"),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "email_taken");
    let err = create_user(
        &env.state.store,
        &env.state.passwords,
        new("x@example.com", "password"),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "common_password");
    let r = login_as(
        &env,
        "root@example.com",
        "a long enough secret",
        CHROME_WINDOWS,
    )
    .await;
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(admin_list(&env, &token, USER_ID, "").await.status, 200);
}
