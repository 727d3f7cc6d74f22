//! New-sign-in alerts and `POST /auth/not-me`: who is told, what the "This wasn't me" link
//! ends (exactly its session, once), and what an expired, altered or reused link gets.

use api_tests::{ALERT_LINK_URL, CHROME_WINDOWS, SAFARI_IPHONE, Signed, TestApp, TestEnv, now};
use shared::services::alerts::Mail;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};
use shared::tokens::link::LinkKey;

const SAM: &str = "sam@example.com";
const ORIGIN_SECRET: &str = "cf-origin-secret-0123456789";

/// The token of an alert's link.
fn token(mail: &Mail) -> String {
    let prefix = format!("{ALERT_LINK_URL}#token=");
    assert!(mail.text.contains(&mail.link), "the body carries the link");
    mail.link.strip_prefix(&prefix).unwrap().to_owned()
}

/// The alerts Sam was sent (the demo data's devices alert Jane).
fn sams(env: &TestEnv) -> Vec<Mail> {
    env.outbox().into_iter().filter(|m| m.to == SAM).collect()
}

/// The one alert Sam was sent.
fn only_alert(env: &TestEnv) -> Mail {
    let mut sent = sams(env);
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent.remove(0)
}

/// Sam on his laptop, told nothing (first sign-in), then on a new phone, told once: both
/// sessions and the alert's link token.
async fn sam_on_a_new_phone(env: &TestEnv) -> (Signed, Signed, String) {
    let laptop = TestApp::browser(&env.state, CHROME_WINDOWS)
        .sign_in(SAM, DEMO_PASSWORD)
        .await;
    env.publish_events().await;
    let phone = TestApp::browser(&env.state, SAFARI_IPHONE)
        .sign_in(SAM, DEMO_PASSWORD)
        .await;
    env.publish_events().await;
    let mail = only_alert(env);
    (laptop, phone, token(&mail))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_or_country_is_told_and_the_first_or_a_known_sign_in_is_not() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    let from = |country: &'static str| {
        TestApp::browser(&env.state, CHROME_WINDOWS).with_headers(&[
            ("x-origin-verify", ORIGIN_SECRET),
            ("cloudfront-viewer-address", "203.0.113.9:46532"),
            ("cloudfront-viewer-country", country),
        ])
    };
    // The first sign-in ever, then the same device from the same country: nothing.
    from("DE").sign_in(SAM, DEMO_PASSWORD).await;
    env.publish_events().await;
    from("DE").sign_in(SAM, DEMO_PASSWORD).await;
    env.publish_events().await;
    assert!(sams(&env).is_empty(), "{:?}", sams(&env));
    // Same device, new country: told, with where and what.
    let fr = from("FR").sign_in(SAM, DEMO_PASSWORD).await;
    env.publish_events().await;
    let mail = only_alert(&env);
    assert_eq!(mail.to, SAM);
    assert!(mail.text.contains("a new country"), "{}", mail.text);
    assert!(mail.text.contains("Chrome on Windows"), "{}", mail.text);
    assert!(mail.text.contains("203.0.113.9 (FR)"), "{}", mail.text);
    let link = LinkKey::dev().verify(&token(&mail), now()).unwrap();
    assert_eq!((link.user_id, link.session_id), (PLAIN_USER_ID, fr.session));
    // Known now: the same again is no second alert.
    from("FR").sign_in(SAM, DEMO_PASSWORD).await;
    env.publish_events().await;
    assert_eq!(sams(&env).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_ends_exactly_its_session_once_without_a_sign_in() {
    let env = TestEnv::seeded().await;
    let (laptop, phone, token) = sam_on_a_new_phone(&env).await;
    let app = TestApp::new(&env.state);
    let r = app.report_sign_in(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["session_id"], phone.session.as_str());
    assert_eq!(r.body["ended"], true);
    assert_eq!(r.body["password_change_required"], true);
    // The phone's session is over, by its user, for the reason; the laptop's is untouched.
    assert!(!app.usable(&phone).await);
    assert!(app.usable(&laptop).await);
    let mine = app.all_my_sessions(&laptop.access).await;
    let ended = mine
        .iter()
        .find(|s| s["id"] == phone.session.as_str())
        .unwrap();
    assert_eq!(ended["ended_reason"], "reported");
    assert_eq!(ended["ended_by"], "user");
    // Used once: a second use ends nothing and says so.
    app.report_sign_in(&token)
        .await
        .assert_error(410, "link_used");
    // The history tells it, and the phone is forgotten: whoever has it is reported again.
    env.publish_events().await;
    TestApp::browser(&env.state, SAFARI_IPHONE)
        .sign_in(SAM, DEMO_PASSWORD)
        .await;
    env.publish_events().await;
    assert_eq!(sams(&env).len(), 2, "{:?}", sams(&env));
    let history = app.list_my_activity(&laptop.access, "").await.body;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"session.reported"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_uses_at_once_end_the_session_once() {
    let env = TestEnv::seeded().await;
    let (_, phone, token) = sam_on_a_new_phone(&env).await;
    // Each use from its own task on the multi-threaded runtime: real parallelism.
    let used = |state: shared::AppState, token: String| {
        tokio::spawn(async move { TestApp::new(&state).report_sign_in(&token).await.status })
    };
    let (a, b) = tokio::join!(
        used(env.state.clone(), token.clone()),
        used(env.state.clone(), token.clone()),
    );
    let mut statuses = [a.unwrap(), b.unwrap()];
    statuses.sort();
    assert_eq!(statuses, [200, 410]);
    assert!(!TestApp::new(&env.state).usable(&phone).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_altered_or_foreign_link_ends_nothing() {
    let env = TestEnv::seeded().await;
    let (laptop, phone, token) = sam_on_a_new_phone(&env).await;
    let app = TestApp::new(&env.state);
    // Expired: issued with the key, but its day is over.
    let expired = LinkKey::dev().issue(PLAIN_USER_ID, &phone.session, now() - 1);
    app.report_sign_in(&expired)
        .await
        .assert_error(410, "link_expired");
    // Pointed at another session (the laptop's), or made under another key: not a link.
    let redirected = token.replace(&phone.session, &laptop.session);
    app.report_sign_in(&redirected)
        .await
        .assert_error(400, "invalid_link");
    let foreign =
        LinkKey::new(&[7; 32])
            .unwrap()
            .issue(PLAIN_USER_ID, &laptop.session, now() + 600);
    app.report_sign_in(&foreign)
        .await
        .assert_error(400, "invalid_link");
    app.report_sign_in("")
        .await
        .assert_error(400, "invalid_link");
    assert!(app.usable(&laptop).await && app.usable(&phone).await);
    // A session already signed out is marked reported, once.
    assert_eq!(app.logout(&phone.access).await.status, 204);
    let r = app.report_sign_in(&token).await;
    assert_eq!(
        (r.status, &r.body["ended"]),
        (200, &serde_json::json!(false))
    );
    app.report_sign_in(&token)
        .await
        .assert_error(410, "link_used");
    assert!(app.usable(&laptop).await);
}
