//! Spoofing text: bidi controls, zero-width and combining-mark floods never reach a listing,
//! and listings say where each device name came from.

use super::{SAM, client};
use api_tests::TestEnv;
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofing_characters_never_reach_a_listing() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let body = json!({
        "email": SAM,
        "password": DEMO_PASSWORD,
        "device_name": "Work\u{202E}CP\u{200B} \u{2066}laptop\u{2069}",
        "device_type": "mobile"
    });
    let r = app.login_with(body).await;
    let me = r.signed();
    assert_eq!(r.body["session"]["device_name"], "WorkCP laptop");
    assert_eq!(r.body["session"]["device_name_source"], "client");
    let from_ua = app.sign_in(SAM, DEMO_PASSWORD).await;

    let label = |id: &str, label: &str| {
        let (id, body) = (id.to_owned(), json!({"label": label}));
        let access = me.access.clone();
        async move { client(s).rename_session(&access, &id, body).await }
    };
    let r = label(
        &me.session,
        "\u{2066}admin\u{2069} \u{202E}lanretni\u{200D}",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "admin lanretni");
    let zalgo = format!("o{}k", "\u{0301}\u{0316}\u{0324}\u{0331}".repeat(8));
    let r = label(&me.session, &zalgo).await;
    assert_eq!(r.body["label"].as_str().unwrap().chars().count(), 2 + 3);
    assert_eq!(
        label(&me.session, "Cafe\u{0301}").await.body["label"],
        "Café"
    );

    // Both listings say where each name came from.
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let user = PLAIN_USER_ID.to_string();
    let list = app.get_user_sessions(&admin.access, &user, "").await;
    let source = |id: &str| {
        list.body
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()["device_name_source"]
            .clone()
    };
    assert_eq!(source(&me.session), "client");
    assert_eq!(source(&from_ua.session), "user_agent");

    // An ended session's label no longer changes.
    assert_eq!(
        app.revoke_my_session(&me.access, &from_ua.session)
            .await
            .status,
        204
    );
    label(&from_ua.session, "renamed after the end")
        .await
        .assert_error(409, "session_not_active");
}
