//! `GET /sessions/current`: the caller's own session, as long as it is alive.

use api_tests::{CHROME_WINDOWS, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_session_is_shown_until_it_ends() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let r = app.current_session(&signed.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], signed.session.as_str());
    assert_eq!(r.body["user_id"], 75);
    assert_eq!(r.body["device_name"], "Chrome on Windows 10");
    assert_eq!(
        (&r.body["is_current"], &r.body["is_active"], &r.body["aal"]),
        (&true.into(), &true.into(), &"aal1".into())
    );
    // The same object as in the caller's own listing.
    let listed = app.list_my_sessions(&signed.access, "").await;
    assert_eq!(listed.body[0], r.body);
    assert_eq!(app.logout(&signed.access).await.status, 204);
    app.current_session(&signed.access)
        .await
        .assert_error(401, "session_ended");
}
