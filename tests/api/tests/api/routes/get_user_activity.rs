//! `GET /users/{user_id}/activity`: an admin reads what happened to a user, newest first and
//! paged, in the sessions listing's order of answers (401, 403, 400, 404); cursors are bound to
//! the user and the route.

use api_tests::{CHROME_WINDOWS, TestApp, TestEnv};
use shared::domain::Role;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID};

/// Every entry of `user_id`'s history, page by page (`limit` each), following the cursors.
async fn all_pages(
    app: &TestApp<'_>,
    admin: &str,
    user_id: &str,
    limit: usize,
) -> Vec<serde_json::Value> {
    let mut entries = Vec::new();
    let mut query = format!("limit={limit}");
    for _ in 0..100 {
        let r = app.get_user_activity(admin, user_id, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.body.as_array().unwrap().clone();
        assert!(page.len() <= limit);
        entries.extend(page);
        match r.header("x-next-cursor") {
            Some(cursor) => {
                let link = r.header("link").unwrap();
                assert!(link.contains(&format!("/users/{user_id}/activity?limit={limit}&cursor=")));
                query = format!("limit={limit}&cursor={cursor}");
            }
            None => return entries,
        }
    }
    panic!("more than 100 pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reads_what_happened_to_a_user_newest_first_across_pages() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let other = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    assert_eq!(app.logout(&sam.access).await.status, 204);
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let r = app
        .admin_revoke_session(&admin.access, "75", &other.session)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    env.publish_events().await;

    let entries = all_pages(&app, &admin.access, "75", 2).await;
    // Everything that happened to user 75, and nothing of anyone else's.
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "session.created").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "session.ended").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"user.created"), "{kinds:?}");
    let ids: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), entries.len(), "no entry twice across pages");
    let times: Vec<&str> = entries
        .iter()
        .map(|e| e["time"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    for e in &entries {
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        assert!(e["data"].is_object(), "{e}");
        assert!(e.get("session_id").is_some(), "{e}");
    }
    // Who ended what: the user signed out of one, the admin ended the other.
    let ended: Vec<(&str, &str, serde_json::Value)> = entries
        .iter()
        .filter(|e| e["type"] == "session.ended")
        .map(|e| {
            (
                e["session_id"].as_str().unwrap(),
                e["data"]["ended_by"].as_str().unwrap(),
                e["actor"].clone(),
            )
        })
        .collect();
    assert!(ended.contains(&(
        sam.session.as_str(),
        "user",
        serde_json::json!({"type": "user", "user_id": 75})
    )));
    assert!(ended.contains(&(
        other.session.as_str(),
        "admin",
        serde_json::json!({"type": "admin", "user_id": 1})
    )));
    // Delivered again (a publisher retry): the history does not change.
    let kept = api_tests::Checkpoint::new("activity-again");
    let again = TestEnv::relay(&env, &kept).await;
    again
        .poll(&mut shared::testkit::relay::Discard)
        .await
        .unwrap();
    assert_eq!(all_pages(&app, &admin.access, "75", 100).await, entries);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_401_then_403_then_400_then_404_and_binds_cursors_to_the_user() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let (_, user) = env.login(PLAIN_USER_ID, Role::User).await;
    app.call("get-user-activity", "/users/74/activity", None, None)
        .await
        .assert_error(401, "not_authenticated");
    app.get_user_activity("not.a.jwt", "74", "")
        .await
        .assert_error(401, "invalid_token");
    // A plain user, even with a bad id: 403 before 400.
    app.get_user_activity(&user, "x", "")
        .await
        .assert_error(403, "admin_required");
    app.get_user_activity(&admin, "x", "")
        .await
        .assert_error(400, "invalid_user_id");
    app.get_user_activity(&admin, "1", "")
        .await
        .assert_error(400, "own_user_id");
    app.get_user_activity(&admin, "74", "limit=0")
        .await
        .assert_error(400, "invalid_limit");
    app.get_user_activity(&admin, "74", "include_inactive=true")
        .await
        .assert_error(400, "invalid_query");
    app.get_user_activity(&admin, "99999", "")
        .await
        .assert_error(404, "user_not_found");
    // A user known but quiet since the history began: an empty page.
    let r = app.get_user_activity(&admin, "75", "").await;
    assert_eq!((r.status, r.body.clone()), (200, serde_json::json!([])));

    // A cursor of user 74's history is no key to user 75's, nor to the user's own listing.
    env.publish_events().await;
    let r = app.get_user_activity(&admin, "74", "limit=1").await;
    let cursor = r
        .header("x-next-cursor")
        .expect("user 74 has history")
        .to_owned();
    app.get_user_activity(&admin, "75", &format!("cursor={cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
    let r = app.get_user_sessions(&admin, "74", "limit=1").await;
    let sessions_cursor = r.header("x-next-cursor").unwrap().to_owned();
    app.get_user_activity(&admin, "74", &format!("cursor={sessions_cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
}
