//! The logs of a whole session lifecycle, captured as the functions write them (JSON lines),
//! hold the audit events and never an access token, a refresh token, a password or a raw
//! session id.

use api_tests::{Capture, TestApp, TestEnv};
use serde_json::json;
use shared::domain::UserId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_audit_events_and_no_secret() {
    let capture = Capture::default();
    // The functions' format (shared::logging), into a buffer; set before the harness's own.
    shared::logging::builder()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(capture.clone())
        .init();

    let env = TestEnv::seeded().await;
    let s = &env.state;
    let password = "correct horse battery staple 42";
    let new_password = "another horse battery staple 43";
    let mut secrets: Vec<String> = vec![
        password.into(),
        new_password.into(),
        "wrong horse battery 44".into(),
    ];

    let app = TestApp::new(s);
    let reg = app
        .register(json!({"email": "logs@example.com", "password": password}))
        .await;
    assert_eq!(reg.status, 201);
    let login = |ua: &'static str, pw: &'static str| {
        let device = app.clone().with_user_agent(ua);
        async move { device.login("logs@example.com", pw).await }
    };
    let a = login(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
        "correct horse battery staple 42",
    )
    .await;
    let b = login("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) Version/17.6 Mobile/15E148 Safari/604.1", "correct horse battery staple 42").await;
    assert_eq!(login("curl/8", "wrong horse battery 44").await.status, 401);
    for r in [&a, &b] {
        secrets.push(r.body["access_token"].as_str().unwrap().into());
        secrets.push(r.body["refresh_token"].as_str().unwrap().into());
        secrets.push(r.body["session"]["id"].as_str().unwrap().into());
    }
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let first_refresh = a.body["refresh_token"].as_str().unwrap().to_owned();
    let r = app.refresh(&first_refresh).await;
    assert_eq!(r.status, 200);
    secrets.push(r.body["access_token"].as_str().unwrap().into());
    secrets.push(r.body["refresh_token"].as_str().unwrap().into());

    assert_eq!(app.list_my_sessions(&access, "").await.status, 200);
    assert_eq!(
        app.change_password(&access, password, new_password)
            .await
            .status,
        200
    );
    let (_, admin) = env
        .login(shared::testkit::demo::ADMIN_ID, shared::domain::Role::Admin)
        .await;
    secrets.push(admin.clone());
    let user_id = reg.body["user_id"].as_u64().unwrap();
    assert_eq!(
        app.get_user_sessions(&admin, &user_id.to_string(), "include_inactive=true")
            .await
            .status,
        200
    );
    // Reuse of the first refresh token after the grace window ends the session.
    let session_id = a.body["session"]["id"].as_str().unwrap();
    let mut stored = s
        .store
        .get_session(UserId::of(user_id), session_id)
        .await
        .unwrap()
        .unwrap();
    stored.refresh_rotated_at = Some(api_tests::now() - 60);
    env.put_session(&stored).await;
    assert_eq!(app.refresh(&first_refresh).await.status, 401);
    assert_eq!(app.logout(&access).await.status, 401);

    let logs = capture.text();
    for event in [
        "user_registered",
        "session_created",
        "login_failed",
        "session_refreshed",
        "session_ended",
        "password_changed",
        "admin_listing",
        "refresh_token_reuse_detected",
    ] {
        assert!(
            logs.contains(&format!("\"audit\":\"{event}\"")),
            "audit event {event} missing"
        );
    }
    for line in logs.lines().filter(|l| l.contains("\"audit\"")) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("timestamp").is_some(), "{line}");
    }
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the logs: {}…",
            &secret[..8]
        );
        // Nor a recognisable piece of a token.
        if secret.len() > 40 {
            assert!(
                !logs.contains(&secret[secret.len() - 24..]),
                "a token's tail reached the logs"
            );
        }
    }
}
