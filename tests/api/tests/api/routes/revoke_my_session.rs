//! `DELETE /sessions/{session_id}`: users end their own sessions, and only those.

use api_tests::{CHROME_WINDOWS, SAFARI_IPHONE, Signed, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_end_their_own_sessions_only() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let Signed {
        access: sam_phone,
        session: sam_phone_id,
        ..
    } = phone.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let Signed {
        access: jane,
        session: jane_id,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    // Jane's session id is not Sam's to end, and Jane's session keeps working.
    app.revoke_my_session(&sam, &jane_id)
        .await
        .assert_error(404, "session_not_found");
    assert_eq!(app.list_my_sessions(&jane, "").await.status, 200);
    app.revoke_my_session(&sam, "not-a-session-id")
        .await
        .assert_error(404, "session_not_found");
    // Sam ends his phone's session: its token is refused at once.
    assert_eq!(app.revoke_my_session(&sam, &sam_phone_id).await.status, 204);
    app.list_my_sessions(&sam_phone, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(app.list_my_sessions(&sam, "").await.status, 200);
}
