//! The audit trail of attacks and near-misses, captured as the functions write it (JSON
//! lines): a wrong current password, forged, stale and just-rotated refresh tokens each leave an
//! event; a session already ended is not counted as ended again; behind CloudFront every event
//! records the viewer's address, not the edge's.

use api_tests::{Capture, TestApp, TestEnv};
use serde_json::Value;
use shared::AppState;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

fn named<'a>(events: &'a [Value], audit: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["audit"] == audit).collect()
}

const SECRET: &str = "cf-origin-secret-0123456789";
const VIEWER: &str = "203.0.113.77";
const EDGE: &str = "130.176.0.1";

/// A client through CloudFront: the edge's address as API Gateway's source IP, the viewer's
/// in CloudFront's header, and the origin secret.
fn through_cloudfront(state: &AppState) -> TestApp<'_> {
    let viewer = format!("{VIEWER}:51234");
    TestApp::new(state).from_ip(EDGE).with_headers(&[
        ("x-origin-verify", SECRET),
        ("cloudfront-viewer-address", viewer.as_str()),
        ("cloudfront-viewer-country", "DE"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_and_near_misses_leave_audit_events() {
    let capture = Capture::default();
    shared::logging::builder()
        .with_max_level(tracing::Level::INFO)
        .with_writer(capture.clone())
        .init();
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", SECRET)]).await;
    let s = &env.state;
    capture.take_audit();

    let app = through_cloudfront(s);

    // Sign-in through CloudFront: the viewer's address, not the edge's.
    let r = app.login("sam@example.com", DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let rt0 = r.body["refresh_token"].as_str().unwrap().to_owned();
    let sid = r.body["session"]["id"].as_str().unwrap().to_owned();

    // A wrong current password.
    app.change_password(&access, "a wrong guess", "a brand new secret")
        .await
        .assert_error(403, "invalid_current_password");

    // A forged refresh token, a just-rotated one (409), then a stale one (theft).
    app.refresh(&format!("rt2.{PLAIN_USER_ID}.{sid}.0.{}", "A".repeat(43)))
        .await
        .assert_error(401, "invalid_refresh_token");
    let r1 = app.refresh(&rt0).await;
    let rt1 = r1.body["refresh_token"].as_str().unwrap().to_owned();
    app.refresh(&rt0)
        .await
        .assert_error(409, "refresh_token_rotated");
    let r2 = app.refresh(&rt1).await;
    assert_eq!(r2.status, 200);
    app.refresh(&rt0)
        .await
        .assert_error(401, "refresh_token_reused");

    let events = capture.take_audit();
    let created = named(&events, "session_created");
    assert_eq!(created.len(), 1);
    let failed = named(&events, "password_change_failed");
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0]["reason"], "invalid_current_password");
    let refused = named(&events, "refresh_refused");
    let reasons: Vec<&str> = refused
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["forged", "rotated"], "{events:#?}");
    let theft = named(&events, "refresh_token_reuse_detected");
    assert_eq!(theft.len(), 1);
    assert_eq!(theft[0]["presented_generation"], 0);
    assert_eq!(theft[0]["current_generation"], 2);
    let ended = named(&events, "session_ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["reason"], "refresh_token_reuse");
    for e in &events {
        assert_eq!(e["ip"], VIEWER, "every event records the viewer: {e}");
    }

    // An admin ends a session twice: counted once.
    let admin = app.login("admin@example.com", DEMO_PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (target, _) = env.login(PLAIN_USER_ID, shared::domain::Role::User).await;
    let user = PLAIN_USER_ID.to_string();
    for _ in 0..2 {
        let r = app
            .admin_revoke_session(&admin, &user, &target.session_id)
            .await;
        assert_eq!(r.status, 204);
    }
    let events = capture.take_audit();
    let ended = named(&events, "session_ended");
    assert_eq!(
        ended.len(),
        1,
        "already ended is not ended again: {events:#?}"
    );
    assert_eq!(ended[0]["ip"], VIEWER);
}
