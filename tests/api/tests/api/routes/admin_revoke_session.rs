//! `DELETE /sessions/user/{user_id}/{session_id}`, with `DELETE /sessions/user/{user_id}` in the
//! same story: admins end one session of a user, or all of them; nobody else can.

use api_tests::{CHROME_WINDOWS, SAFARI_IPHONE, Signed, TestApp, TestEnv};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_end_one_session_or_all_of_a_users() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    let Signed {
        access: jane1,
        session: jane1_id,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let jane2 = phone
        .sign_in("jane@example.com", DEMO_PASSWORD)
        .await
        .access;
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    let jane = USER_ID.to_string();

    app.admin_revoke_session(&sam, "74", &jane1_id)
        .await
        .assert_error(403, "admin_required");
    app.admin_revoke_session(&admin, "abc", &jane1_id)
        .await
        .assert_error(400, "invalid_user_id");
    app.admin_revoke_session(&admin, "75", &jane1_id)
        .await
        .assert_error(404, "session_not_found");
    app.admin_revoke_session(&admin, "74", "AAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await
        .assert_error(404, "session_not_found");
    assert_eq!(
        app.admin_revoke_session(&admin, "74", &jane1_id)
            .await
            .status,
        204
    );
    app.list_my_sessions(&jane1, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(app.list_my_sessions(&jane2, "").await.status, 200);
    let listed = app
        .get_user_sessions(&admin, &jane, "include_inactive=true")
        .await;
    let ended = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == jane1_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(ended["ended_reason"], "admin");
    assert_eq!(ended["ended_by"], "admin");

    app.admin_revoke_user_sessions(&sam, "74")
        .await
        .assert_error(403, "admin_required");
    app.admin_revoke_user_sessions(&sam, "abc")
        .await
        .assert_error(403, "admin_required");
    app.admin_revoke_user_sessions(&admin, "9999")
        .await
        .assert_error(404, "user_not_found");
    app.admin_revoke_user_sessions(&admin, "1")
        .await
        .assert_error(400, "own_user_id");
    let r = app.admin_revoke_user_sessions(&admin, "74").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // jane2 plus the three seeded active sessions.
    assert_eq!(r.body, json!({"revoked": 4}));
    app.list_my_sessions(&jane2, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(
        app.get_user_sessions(&admin, &jane, "").await.body,
        json!([])
    );
    assert_eq!(app.list_my_sessions(&sam, "").await.status, 200);
}
