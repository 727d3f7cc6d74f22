//! `POST /auth/logout`: the session ends for its access and its refresh token at once.

use api_tests::{CHROME_WINDOWS, Signed, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_for_both_tokens() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        access,
        refresh: refresh_token,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let r = app.logout(&access).await;
    assert_eq!(r.status, 204);
    app.list_my_sessions(&access, "")
        .await
        .assert_error(401, "session_ended");
    app.refresh(&refresh_token)
        .await
        .assert_error(401, "session_ended");
    app.logout(&access).await.assert_error(401, "session_ended");
}
