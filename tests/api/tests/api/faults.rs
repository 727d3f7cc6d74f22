//! Faults between the functions and DynamoDB: a store that is slow, throttling or refusing
//! connections gives 503 + `Retry-After` within the configured bound, leaves no partial state,
//! and the next request after recovery succeeds. [`api_tests::proxy::Proxy`] in front of
//! Dynoxide injects the faults.

use api_tests::proxy::{Mode, Proxy};
use api_tests::{TestApp, TestEnv};
use serde_json::json;
use shared::domain::Role;
use shared::domain::UserId;
use shared::testkit::demo::ADMIN_ID;
use std::time::{Duration, Instant};

/// A state whose DynamoDB traffic goes through a proxy, with the production timeouts.
async fn behind_proxy(env: &TestEnv) -> (Proxy, shared::AppState) {
    let proxy = Proxy::start(&env.endpoint).await;
    let state = api_tests::state_for(&api_tests::env_for(&proxy.endpoint))
        .await
        .with_signer(shared::tokens::keys::dev_signing_key())
        .unwrap()
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
    (proxy, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_throttling_or_refusing_store_gives_a_quick_503_and_recovers() {
    let env = TestEnv::seeded().await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let (proxy, state) = behind_proxy(&env).await;
    let app = TestApp::new(&state);
    assert_eq!(
        app.get_user_sessions(&token, "74", "").await.status,
        200,
        "through the proxy, healthy"
    );

    for mode in [
        Mode::Delay(Duration::from_secs(5)),
        Mode::Throttle("*"),
        Mode::Close,
    ] {
        proxy.set(mode);
        let started = Instant::now();
        let r = app.get_user_sessions(&token, "74", "").await;
        let elapsed = started.elapsed();
        r.assert_error(503, "service_unavailable");
        assert_eq!(r.header("retry-after"), Some("1"), "{mode:?}");
        // The configured operation timeout (1.6 s) bounds it; SDK defaults would take far longer.
        assert!(
            elapsed < Duration::from_secs(4),
            "{mode:?} took {elapsed:?}"
        );

        proxy.set(Mode::Pass);
        assert_eq!(
            app.get_user_sessions(&token, "74", "").await.status,
            200,
            "recovered after {mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_that_fails_half_way_leaves_nothing_behind() {
    let env = TestEnv::seeded().await;
    let (proxy, state) = behind_proxy(&env).await;
    let app = TestApp::new(&state);
    let halfway = json!({"email": "halfway@example.com", "password": "a long enough secret"});
    // The id is allocated, then the transaction writing user and email is throttled.
    proxy.set(Mode::Throttle("TransactWriteItems"));
    app.register(halfway.clone())
        .await
        .assert_error(503, "service_unavailable");
    assert_eq!(
        env.state
            .store
            .user_id_by_email("halfway@example.com")
            .await
            .unwrap(),
        None,
        "no email claimed"
    );
    let next_id = env.state.store.allocate_user_id().await.unwrap();
    for id in 1..next_id.get() {
        if let Some(user) = env.state.store.get_user(UserId::of(id)).await.unwrap() {
            assert_ne!(user.email, "halfway@example.com", "no user item");
        }
    }
    // After recovery the same email registers normally.
    proxy.set(Mode::Pass);
    assert_eq!(app.register(halfway).await.status, 201);
}
