//! `GET /me/activity`: the caller's own history, and no one else's.

use api_tests::{CHROME_WINDOWS, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_their_own_history_and_no_one_elses() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let r = app
        .change_password(&jane.access, DEMO_PASSWORD, "a-new-password-456")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    env.publish_events().await;

    let r = app.list_my_activity(&sam.access, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mine = r.body.as_array().unwrap();
    // Newest first, to the second (within one second the order is not defined).
    let times: Vec<&str> = mine.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let mut kinds: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["session.created", "user.created"], "none of jane's");
    let created = mine
        .iter()
        .find(|e| e["type"] == "session.created")
        .unwrap();
    assert_eq!(created["session_id"], sam.session.as_str());
    // Exactly a page's worth: no cursor to an empty page.
    let r = app.list_my_activity(&sam.access, "limit=2").await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    assert!(r.header("x-next-cursor").is_none() && r.header("link").is_none());

    let r = app.list_my_activity(&jane.access, "limit=1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert!(r.header("x-next-cursor").is_some());
    let all = app.list_my_activity(&jane.access, "limit=100").await.body;
    let kinds: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"user.password_changed"), "{kinds:?}");
    assert!(kinds.contains(&"user.sessions_ended"), "{kinds:?}");
    // Sam's cursor is no way into Jane's history.
    let r = app.list_my_activity(&sam.access, "limit=1").await;
    let cursor = r.header("x-next-cursor").unwrap().to_owned();
    app.list_my_activity(&jane.access, &format!("cursor={cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_learns_an_admin_acted_but_not_which_admin() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let other = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let r = app
        .admin_revoke_session(&admin.access, "75", &other.session)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    env.publish_events().await;
    let mine = app.list_my_activity(&sam.access, "").await.body;
    let ended: Vec<&serde_json::Value> = mine
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "session.ended")
        .collect();
    assert_eq!(ended.len(), 1, "{mine}");
    assert_eq!(ended[0]["actor"], serde_json::json!({"type": "admin"}));
    assert_eq!(ended[0]["data"]["ended_by"], "admin");
    // The admins' view names them.
    let theirs = app.get_user_activity(&admin.access, "75", "").await.body;
    let ended = theirs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "session.ended")
        .unwrap()
        .clone();
    assert_eq!(
        ended["actor"],
        serde_json::json!({"type": "admin", "user_id": 1})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_reads_nothing() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    assert_eq!(app.logout(&sam.access).await.status, 204);
    app.list_my_activity(&sam.access, "")
        .await
        .assert_error(401, "session_ended");
    app.list_my_activity(&sam.access, "include_inactive=true")
        .await
        .assert_error(401, "session_ended");
}
