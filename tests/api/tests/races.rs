//! Concurrency: many sign-ins for one user, and ending a session while it refreshes.

use api_tests::{TestEnv, event, send, with_body};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sign_ins_list_exactly_two_hundred_sessions() {
    // Correctness under load, not latency (the test harness's timeouts are generous). Each
    // from its own device and address, as such a burst would come: one client reserves at
    // most LOGIN_MAX_FAILURES password attempts at a time.
    let env = TestEnv::seeded_with(&[("LOGIN_MAX_FAILURES_PER_ACCOUNT", "100000")]).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let state = env.state.clone();
        tasks.spawn(async move {
            let ua =
                format!("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.{i}");
            let mut ev = with_body(
                event(
                    "POST",
                    "/auth/login",
                    "/auth/login",
                    "",
                    &[("user-agent", &ua)],
                ),
                &json!({"email": "sam@example.com", "password": DEMO_PASSWORD}),
            );
            ev["requestContext"]["http"]["sourceIp"] =
                json!(format!("10.0.{}.{}", i / 100, i % 100));
            let r = send(&state, &ev, login::handle).await;
            assert_eq!(r.status, 200, "{}", r.body);
            (
                r.body["session"]["id"].as_str().unwrap().to_owned(),
                r.body["access_token"].as_str().unwrap().to_owned(),
            )
        });
    }
    let mut created = HashSet::new();
    let mut token = String::new();
    while let Some(done) = tasks.join_next().await {
        let (id, access) = done.unwrap();
        created.insert(id);
        token = access;
    }
    assert_eq!(created.len(), 200);

    let mut listed = Vec::new();
    let mut query = "limit=100".to_owned();
    loop {
        let ev = event(
            "GET",
            "/sessions",
            "/sessions",
            &query,
            &[("authorization", &format!("Bearer {token}"))],
        );
        let r = send(&env.state, &ev, list_my_sessions::handle).await;
        assert_eq!(r.status, 200, "{}", r.body);
        listed.extend(
            r.body
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        match r.header("x-next-cursor") {
            Some(c) => query = format!("limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), 200, "none lost, none twice");
    assert_eq!(listed.iter().cloned().collect::<HashSet<_>>(), created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_session_while_it_refreshes_leaves_no_token_alive() {
    let env = TestEnv::seeded().await;
    for _ in 0..10 {
        let ev = with_body(
            event("POST", "/auth/login", "/auth/login", "", &[]),
            &json!({"email": "sam@example.com", "password": DEMO_PASSWORD}),
        );
        let r = send(&env.state, &ev, login::handle).await;
        let access = r.body["access_token"].as_str().unwrap().to_owned();
        let refresh_token = r.body["refresh_token"].as_str().unwrap().to_owned();
        let session_id = r.body["session"]["id"].as_str().unwrap().to_owned();

        let logout_ev = event(
            "POST",
            "/auth/logout",
            "/auth/logout",
            "",
            &[("authorization", &format!("Bearer {access}"))],
        );
        let refresh_ev = with_body(
            event("POST", "/auth/refresh", "/auth/refresh", "", &[]),
            &json!({"refresh_token": refresh_token}),
        );
        let (out, refreshed) = tokio::join!(
            send(&env.state, &logout_ev, logout::handle),
            send(&env.state, &refresh_ev, refresh::handle),
        );
        assert!(out.status == 204 || out.status == 401, "{}", out.body);

        let stored = env
            .state
            .store
            .get_session(PLAIN_USER_ID, &session_id)
            .await
            .unwrap()
            .unwrap();
        if out.status == 204 {
            assert!(stored.revoked_at.is_some(), "the session ends");
        }
        // Whatever the interleaving, no token of the session works once sign-out returned 204.
        if refreshed.status == 200 && out.status == 204 {
            let new_access = refreshed.body["access_token"].as_str().unwrap();
            let new_refresh = refreshed.body["refresh_token"].as_str().unwrap();
            let ev = event(
                "GET",
                "/sessions",
                "/sessions",
                "",
                &[("authorization", &format!("Bearer {new_access}"))],
            );
            assert_eq!(
                send(&env.state, &ev, list_my_sessions::handle).await.status,
                401
            );
            let ev = with_body(
                event("POST", "/auth/refresh", "/auth/refresh", "", &[]),
                &json!({"refresh_token": new_refresh}),
            );
            assert_eq!(send(&env.state, &ev, refresh::handle).await.status, 401);
        }
        let ev = event(
            "GET",
            "/sessions",
            "/sessions",
            "",
            &[("authorization", &format!("Bearer {access}"))],
        );
        assert_eq!(
            send(&env.state, &ev, list_my_sessions::handle).await.status,
            401
        );
    }
}
