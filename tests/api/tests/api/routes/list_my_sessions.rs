//! `GET /sessions`: only the caller's sessions, the current one marked, and paging whose
//! cursors work for no other listing.

use api_tests::{CHROME_WINDOWS, SAFARI_IPHONE, Signed, TestApp, TestEnv};
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_sessions_lists_only_mine_and_marks_the_current_one() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE);
    let Signed {
        access: laptop,
        session: laptop_id,
        ..
    } = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let phone_id = phone
        .sign_in("sam@example.com", DEMO_PASSWORD)
        .await
        .session;
    let r = app.list_my_sessions(&laptop, "").await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s["user_id"] == PLAIN_USER_ID.get()));
    for s in list {
        assert_eq!(s["is_current"], s["id"] == laptop_id.as_str());
    }
    assert!(
        list.iter()
            .any(|s| s["id"] == phone_id.as_str() && s["device_type"] == "mobile")
    );
    // Paging, and an admin-scope cursor does not work here.
    let page = app.list_my_sessions(&laptop, "limit=1").await;
    let cursor = page.header("x-next-cursor").unwrap().to_owned();
    let next = app
        .list_my_sessions(&laptop, &format!("limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next.body.as_array().unwrap().len(), 1);
    assert!(next.header("x-next-cursor").is_none());
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    let sam = PLAIN_USER_ID.to_string();
    let admin_page = app.get_user_sessions(&admin, &sam, "limit=1").await;
    let admin_cursor = admin_page.header("x-next-cursor").unwrap().to_owned();
    app.list_my_sessions(&laptop, &format!("limit=1&cursor={admin_cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
    // Jane's cursor is no use to Sam either.
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await.access;
    let jane_cursor = app
        .list_my_sessions(&jane, "limit=1")
        .await
        .header("x-next-cursor")
        .unwrap()
        .to_owned();
    app.list_my_sessions(&laptop, &format!("limit=1&cursor={jane_cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
}
