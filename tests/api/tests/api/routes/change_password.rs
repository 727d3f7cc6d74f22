//! `POST /auth/password`: the current password checked, the new one held to the policy, and
//! every other session ended, always.

use api_tests::{CHROME_WINDOWS, SAFARI_IPHONE, TestApp, TestEnv};
use serde_json::json;
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_ends_other_sessions_by_default() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let current = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let other = phone.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    app.change_password(&current, "wrong password!", "a brand new secret")
        .await
        .assert_error(403, "invalid_current_password");
    app.change_password(&current, DEMO_PASSWORD, "password")
        .await
        .assert_error(400, "common_password");
    app.change_password(&current, DEMO_PASSWORD, DEMO_PASSWORD)
        .await
        .assert_error(400, "password_unchanged");
    let r = app
        .change_password(&current, DEMO_PASSWORD, "a brand new secret")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["revoked_other_sessions"], 1);
    app.list_my_sessions(&other, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(app.list_my_sessions(&current, "").await.status, 200);
    app.login("sam@example.com", DEMO_PASSWORD)
        .await
        .assert_error(401, "invalid_credentials");
    assert_eq!(
        app.login("sam@example.com", "a brand new secret")
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_always_ends_the_other_sessions() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let current = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let other = phone.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    // Keeping them is no longer offered: a session of the old password must not outlive it.
    app.change_password_with(
        &current,
        json!({"current_password": DEMO_PASSWORD, "new_password": "a brand new secret", "revoke_other_sessions": false}),
    )
    .await
    .assert_error(400, "invalid_body");
    assert_eq!(
        app.list_my_sessions(&other, "").await.status,
        200,
        "nothing changed"
    );
}
