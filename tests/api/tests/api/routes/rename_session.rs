//! `PATCH /sessions/{session_id}`: users label their own sessions (both listings show it),
//! within limits, and only their own.

use api_tests::{FIREFOX_LINUX, Signed, TestApp, TestEnv};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

const SAM: &str = "sam@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_label_their_own_sessions_and_both_listings_show_it() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let Signed {
        access: token,
        session: current,
        ..
    } = app.sign_in(SAM, DEMO_PASSWORD).await;
    let other = app.sign_in(SAM, DEMO_PASSWORD).await.session;

    let r = app
        .rename_session(&token, &other, json!({"label": "  work\u{0} laptop "}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "work laptop");
    assert_eq!(r.body["id"], other.as_str());
    assert_eq!(r.body["is_current"], false);
    let r = app
        .rename_session(&token, &current, json!({"label": "this phone"}))
        .await;
    assert_eq!(r.body["is_current"], true);

    let mine = app.all_my_sessions(&token).await;
    let label = |id: &str| mine.iter().find(|s| s["id"] == id).unwrap()["label"].clone();
    assert_eq!(label(&other), "work laptop");
    assert_eq!(label(&current), "this phone");

    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    let sam = PLAIN_USER_ID.to_string();
    let listed = app.get_user_sessions(&admin, &sam, "").await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["label"] == "work laptop")
    );

    // null or blank clears.
    for clear in [json!({"label": null}), json!({"label": " \t "})] {
        let r = app.rename_session(&token, &other, clear).await;
        assert_eq!(r.status, 200);
        assert!(r.body["label"].is_null());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_limited_and_only_for_ones_own_sessions() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let Signed {
        access: token,
        session: current,
        ..
    } = app.sign_in(SAM, DEMO_PASSWORD).await;
    let janes = app.sign_in("jane@example.com", DEMO_PASSWORD).await.session;

    app.rename_session(&token, &janes, json!({"label": "mine now"}))
        .await
        .assert_error(404, "session_not_found");
    let untouched = env
        .state
        .store
        .get_session(USER_ID, &janes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.label, None);
    app.rename_session(&token, "not-a-session-id", json!({"label": "x"}))
        .await
        .assert_error(404, "session_not_found");
    app.rename_session(&token, &current, json!({"label": "x".repeat(65)}))
        .await
        .assert_error(400, "label_too_long");
    assert_eq!(
        app.rename_session(&token, &current, json!({"label": "x".repeat(64)}))
            .await
            .status,
        200
    );
    for bad in [
        json!({}),
        json!({"label": 7}),
        json!({"label": "a", "extra": 1}),
    ] {
        let r = app.rename_session(&token, &current, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
}
