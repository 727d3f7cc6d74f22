//! What every route shares, checked across them: an ended session's token is refused by every
//! authenticated route, and sensitive actions need a recent sign-in (step-up); and what the
//! wrapper every function runs in (`shared::http::serve`) does, shown through the admin
//! listing: a quick 503 when DynamoDB is unreachable, 405 and CORS, and the refusal of direct
//! calls behind CloudFront.

use api_tests::{CHROME_WINDOWS, FIREFOX_LINUX, Reply, Signed, TestApp, TestEnv, claims, now};
use serde_json::json;
use shared::domain::EndReason;
use shared::domain::Role;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authenticated_route_refuses_an_ended_sessions_token() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        access: admin,
        session: admin_session,
        ..
    } = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let Signed {
        access: user,
        session: user_session,
        ..
    } = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
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
    let (a, u) = (admin.as_str(), user.as_str());
    let app = TestApp::new(&env.state);
    let sid = "AAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let cases: Vec<(&str, Reply)> = vec![
        (
            "get-user-sessions",
            app.get_user_sessions(a, "74", "").await,
        ),
        (
            "admin-revoke-user-sessions",
            app.admin_revoke_user_sessions(a, "74").await,
        ),
        (
            "admin-revoke-session",
            app.admin_revoke_session(a, "74", sid).await,
        ),
        (
            "update-user",
            app.update_user(a, "74", json!({"disabled": true})).await,
        ),
        ("logout", app.logout(u).await),
        (
            "change-password",
            app.change_password(u, DEMO_PASSWORD, "a brand new secret")
                .await,
        ),
        ("list-my-sessions", app.list_my_sessions(u, "").await),
        ("revoke-my-session", app.revoke_my_session(u, sid).await),
        (
            "revoke-other-sessions",
            app.revoke_other_sessions(u, "scope=others").await,
        ),
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
async fn sensitive_actions_need_a_recent_sign_in() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let Signed {
        access: token,
        session: id,
        ..
    } = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let Signed {
        access: admin,
        session: admin_session,
        ..
    } = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    env.age_session(PLAIN_USER_ID, &id, 901).await;
    env.age_session(ADMIN_ID, &admin_session, 901).await;
    // The sensitive actions: ending the others, a password change, an admin's user update.
    let jane = USER_ID.to_string();
    let demote_jane = json!({"role": "user"});
    let new_password = "another long secret";

    for r in [
        app.revoke_other_sessions(&token, "scope=others").await,
        app.change_password(&token, DEMO_PASSWORD, new_password)
            .await,
        app.update_user(&admin, &jane, demote_jane.clone()).await,
    ] {
        r.assert_error(401, "reauthentication_required");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"insufficient_user_authentication\"")
        );
    }
    // Everyday routes still work with the same token.
    assert_eq!(app.all_my_sessions(&token).await.len(), 1);

    // A wrong password changes nothing; the right one moves auth_time for this session only.
    app.reauthenticate(&token, "not the password")
        .await
        .assert_error(403, "invalid_password");
    let r = app.reauthenticate(&token, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(
        r.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rt2.")
    );
    let fresh = r.body["access_token"].as_str().unwrap();
    assert!(claims(fresh)["auth_time"].as_i64().unwrap() >= now() - 5);
    assert_eq!(claims(fresh)["sid"], id.as_str(), "the same session");
    assert_eq!(
        env.active_sessions(PLAIN_USER_ID).await,
        1,
        "no new session"
    );
    // Only tokens issued at or after the re-authentication count: the older one (stolen
    // before, say) still may not act; the fresh one may.
    app.revoke_other_sessions(&token, "scope=others")
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(
        app.revoke_other_sessions(fresh, "scope=others")
            .await
            .status,
        200
    );
    assert_eq!(
        app.change_password(fresh, DEMO_PASSWORD, new_password)
            .await
            .status,
        200
    );
    // The admin's own session still needs it.
    app.update_user(&admin, &jane, demote_jane.clone())
        .await
        .assert_error(401, "reauthentication_required");
    let r = app.reauthenticate(&admin, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200);
    let admin_fresh = r.body["access_token"].as_str().unwrap();
    app.update_user(&admin, &jane, demote_jane.clone())
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(
        app.update_user(admin_fresh, &jane, demote_jane)
            .await
            .status,
        200
    );
}

// ------------------------------------------------ the wrapper every function runs in

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_dynamodb_is_a_quick_503_with_retry_after() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    // A listener that accepts connections and never answers: the slowest kind of failure.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let broken = api_tests::state_for(&api_tests::env_for(&endpoint)).await;
    let started = std::time::Instant::now();
    let r = TestApp::new(&broken)
        .get_user_sessions(&token, "74", "")
        .await;
    let elapsed = started.elapsed();
    r.assert_error(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    // The configured operation timeout bounds the wait; the SDK default would hang far longer.
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "took {elapsed:?}"
    );

    // And nothing about the healthy store changed: the next request succeeds.
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_405_and_cors_is_answered_for_configured_origins() {
    let mut vars = api_tests::env_for("http://127.0.0.1:1");
    vars.insert(
        "CORS_ALLOWED_ORIGINS".into(),
        "http://localhost:5173".into(),
    );
    let state = api_tests::state_for(&vars).await;
    // Without a token: the answers come before any authentication.
    let path = "/sessions/user/74";
    let r = TestApp::new(&state)
        .with_method("OPTIONS")
        .with_header("origin", "http://localhost:5173")
        .with_header("access-control-request-method", "GET")
        .call("get-user-sessions", path, None, None)
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );

    let r = TestApp::new(&state)
        .with_method("OPTIONS")
        .with_header("origin", "http://evil.example")
        .call("get-user-sessions", path, None, None)
        .await;
    assert!(r.header("access-control-allow-origin").is_none());

    let r = TestApp::new(&state)
        .with_method("POST")
        .with_header("origin", "http://localhost:5173")
        .call("get-user-sessions", path, None, None)
        .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("X-Next-Cursor")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_page_on_this_machine_may_call_the_local_stack_but_not_a_deployed_one() {
    /// A browser's CORS preflight from a page at `origin`.
    fn preflight<'a>(state: &'a shared::AppState, origin: &str) -> TestApp<'a> {
        TestApp::new(state)
            .with_method("OPTIONS")
            .with_header("origin", origin)
            .with_header("access-control-request-method", "GET")
    }
    let path = "/sessions/user/74";
    let local = api_tests::state_for(&api_tests::env_for("http://127.0.0.1:1")).await;
    for origin in [
        "http://localhost:4321",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
    ] {
        let r = preflight(&local, origin)
            .call("get-user-sessions", path, None, None)
            .await;
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    }
    let r = preflight(&local, "http://evil.example:4321")
        .call("get-user-sessions", path, None, None)
        .await;
    assert!(r.header("access-control-allow-origin").is_none());

    // A deployed stack (APP_ENV not local) allows only its configured origins.
    let key = shared::tokens::keys::SigningKey::generate("k1").unwrap();
    let keys = serde_json::to_string(&shared::tokens::keys::JwkSet {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    let mut vars = api_tests::env_for("http://127.0.0.1:1");
    vars.remove("APP_ENV");
    vars.insert("JWT_PUBLIC_KEYS".into(), keys);
    vars.insert(
        "CURSOR_SECRET".into(),
        "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".into(),
    );
    vars.insert(
        "CORS_ALLOWED_ORIGINS".into(),
        "https://admin.example.com".into(),
    );
    let deployed = api_tests::state_for(&vars).await;
    let r = preflight(&deployed, "http://localhost:4321")
        .call("get-user-sessions", path, None, None)
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    let r = preflight(&deployed, "https://admin.example.com")
        .call("get-user-sessions", path, None, None)
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://admin.example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_a_direct_call_is_refused_before_the_handler() {
    let secret = "cf-origin-secret-0123456789";
    let env = TestEnv::seeded_with(&[
        ("ORIGIN_VERIFY_SECRET", secret),
        ("ORIGIN_VERIFY_REQUIRED", "true"),
    ])
    .await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let direct = TestApp::new(&env.state);
    direct
        .get_user_sessions(&token, "74", "")
        .await
        .assert_error(403, "direct_access_refused");
    direct
        .clone()
        .with_header("x-origin-verify", "not-the-secret-at-all")
        .get_user_sessions(&token, "74", "")
        .await
        .assert_error(403, "direct_access_refused");
    let r = direct
        .with_header("x-origin-verify", secret)
        .get_user_sessions(&token, "74", "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
