//! Concurrency: many sign-ins for one user, and ending a session while it refreshes.

use api_tests::{TestApp, TestEnv};
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
            let ip = format!("10.0.{}.{}", i / 100, i % 100);
            let signed = TestApp::new(&state)
                .with_user_agent(&ua)
                .from_ip(&ip)
                .sign_in("sam@example.com", DEMO_PASSWORD)
                .await;
            (signed.session, signed.access)
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

    let app = TestApp::new(&env.state);
    let mut listed = Vec::new();
    let mut query = "limit=100".to_owned();
    loop {
        let r = app.list_my_sessions(&token, &query).await;
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
    let app = TestApp::new(&env.state);
    for _ in 0..10 {
        let r = app.login("sam@example.com", DEMO_PASSWORD).await;
        let access = r.body["access_token"].as_str().unwrap().to_owned();
        let refresh_token = r.body["refresh_token"].as_str().unwrap().to_owned();
        let session_id = r.body["session"]["id"].as_str().unwrap().to_owned();

        let (out, refreshed) = tokio::join!(app.logout(&access), app.refresh(&refresh_token));
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
            assert_eq!(app.list_my_sessions(new_access, "").await.status, 401);
            assert_eq!(app.refresh(new_refresh).await.status, 401);
        }
        assert_eq!(app.list_my_sessions(&access, "").await.status, 401);
    }
}
