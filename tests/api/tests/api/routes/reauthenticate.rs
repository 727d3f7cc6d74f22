//! `POST /auth/reauthenticate`: no way around the sign-in throttle, and only in a live session.
//! (What it unlocks is `cross_route::sensitive_actions_need_a_recent_sign_in`.)

use api_tests::{FIREFOX_LINUX, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

const SAM: &str = "sam@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_shares_the_sign_in_throttle_and_needs_a_live_session() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let token = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    for _ in 0..5 {
        app.reauthenticate(&token, "guess")
            .await
            .assert_error(403, "invalid_password");
    }
    let r = app.reauthenticate(&token, DEMO_PASSWORD).await;
    r.assert_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    // Sign-in for the same email is throttled too.
    app.login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");

    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await.access;
    assert_eq!(app.logout(&jane).await.status, 204);
    app.reauthenticate(&jane, DEMO_PASSWORD)
        .await
        .assert_error(401, "session_ended");
}
