//! `DELETE /sessions?scope=others`: every other session of the caller ends, the current one
//! stays, other users are untouched.

use api_tests::{CHROME_WINDOWS, SAFARI_IPHONE, TestApp, TestEnv};
use serde_json::json;
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_all_other_sessions_keeps_the_current_one() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let current = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(phone.sign_in("sam@example.com", DEMO_PASSWORD).await.access);
    }
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await.access;
    app.revoke_other_sessions(&current, "")
        .await
        .assert_error(400, "invalid_scope");
    app.revoke_other_sessions(&current, "scope=all")
        .await
        .assert_error(400, "invalid_scope");
    let r = app.revoke_other_sessions(&current, "scope=others").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"revoked": 3}));
    for token in &others {
        app.list_my_sessions(token, "")
            .await
            .assert_error(401, "session_ended");
    }
    assert_eq!(
        app.list_my_sessions(&current, "")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.list_my_sessions(&jane, "").await.status,
        200,
        "other users untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_ends_this_session_too_after_a_recent_sign_in() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let current = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let other = phone.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await.access;
    // Signed in long ago (a stolen token, say): it cannot sign the owner out everywhere.
    let sam = shared::testkit::demo::PLAIN_USER_ID;
    env.age_session(sam, &current.session, 3600).await;
    for scope in ["scope=global", "scope=all", ""] {
        app.revoke_other_sessions(&current.access, scope)
            .await
            .assert_error(401, "reauthentication_required");
    }
    let r = app.reauthenticate(&current.access, DEMO_PASSWORD).await;
    let current = api_tests::Signed {
        access: r.body["access_token"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
        session: current.session.clone(),
    };
    let r = app
        .revoke_other_sessions(&current.access, "scope=global")
        .await;
    assert_eq!(r.body, json!({"revoked": 2}), "{}", r.body);
    for signed in [&current, &other] {
        app.current_session(&signed.access)
            .await
            .assert_error(401, "session_ended");
        app.refresh(&signed.refresh)
            .await
            .assert_error(401, "session_ended");
    }
    assert_eq!(
        app.current_session(&jane).await.status,
        200,
        "others untouched"
    );
    // Both are listed as signed out, by the user.
    let listed = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let r = app.list_my_sessions(&listed, "include_inactive=true").await;
    let ended: Vec<&serde_json::Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["is_active"] == false)
        .collect();
    assert_eq!(ended.len(), 2, "{}", r.body);
    assert!(
        ended
            .iter()
            .all(|s| s["ended_reason"] == "logout" && s["ended_by"] == "user"),
        "{}",
        r.body
    );
}
