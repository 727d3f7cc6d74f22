//! `POST /auth/login`: the device and the gateway's source IP recorded, device names from
//! native apps, one answer for a wrong password and an unknown email, disabled users, the
//! throttle; the concurrent session limit (evict or refuse, under concurrent sign-ins); and the
//! location, believed only from CloudFront.

use api_tests::{CHROME_WINDOWS, FIREFOX_LINUX, Signed, TestApp, TestEnv, state_for};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

const SAM: &str = "sam@example.com";
const ORIGIN_SECRET: &str = "cf-origin-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_records_the_device_and_the_gateway_source_ip() {
    let env = TestEnv::seeded().await;
    // The browser also sends a spoofed X-Forwarded-For.
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let r = app.login("Jane@Example.com", DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let session = &r.body["session"];
    assert_eq!(session["user_id"], USER_ID.get());
    assert_eq!(session["device_name"], "Chrome on Windows 10");
    assert_eq!(session["device_type"], "web");
    assert_eq!(session["browser"], "Chrome");
    assert_eq!(
        session["ip_address"], "198.51.100.20",
        "from the request context, not X-Forwarded-For"
    );
    assert_eq!(session["is_current"], true);
    let access = r.body["access_token"].as_str().unwrap();
    assert!(env.state.verifier.verify(access).is_ok());
    let mine = app.list_my_sessions(access, "").await;
    assert_eq!(mine.status, 200);
    assert!(
        mine.body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["is_current"] == true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_apps_may_name_their_device_within_limits() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let r = app
        .clone()
        .with_user_agent("MyApp/2.1 CFNetwork/1490 Darwin/23.2.0")
        .login_with(json!({"email": "jane@example.com", "password": DEMO_PASSWORD,
                "device_name": format!("Jane's\u{7} iPhone {}", "x".repeat(100)), "device_type": "mobile"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let name = r.body["session"]["device_name"].as_str().unwrap();
    assert!(name.starts_with("Jane's iPhone x"), "{name}");
    assert_eq!(name.chars().count(), 64);
    assert_eq!(r.body["session"]["device_type"], "mobile");
    app.login_with(
        json!({"email": "jane@example.com", "password": DEMO_PASSWORD, "device_type": "toaster"}),
    )
    .await
    .assert_error(400, "invalid_body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_look_the_same() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let wrong = app.login("jane@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    let malformed = app.login("not an email", "not the password").await;
    for r in [&wrong, &unknown, &malformed] {
        r.assert_error(401, "invalid_credentials");
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, malformed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_users_cannot_sign_in_but_learn_it_only_with_the_right_password() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    env.update_user(USER_ID, "user", true).await;
    app.login("jane@example.com", DEMO_PASSWORD)
        .await
        .assert_error(403, "account_disabled");
    app.login("jane@example.com", "wrong password!")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_are_refused_with_429_and_retry_after() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    for _ in 0..5 {
        app.login("jane@example.com", "wrong password!")
            .await
            .assert_error(401, "invalid_credentials");
    }
    let r = app.login("jane@example.com", DEMO_PASSWORD).await;
    r.assert_error(429, "too_many_attempts");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Unknown emails are throttled the same way.
    for _ in 0..5 {
        app.login("ghost@example.com", "wrong password!").await;
    }
    app.login("ghost@example.com", "wrong password!")
        .await
        .assert_error(429, "too_many_attempts");
    // Other accounts are not affected.
    assert_eq!(
        app.login("sam@example.com", DEMO_PASSWORD).await.status,
        200
    );
}

// ---------------------------------------------------------------- session limit

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_a_sign_in_evicts_the_least_recently_active_session() {
    let env = TestEnv::seeded_with(&[("SESSION_LIMIT", "2")]).await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let Signed {
        access: a_token,
        session: a,
        ..
    } = app.sign_in(SAM, DEMO_PASSWORD).await;
    let b = app.sign_in(SAM, DEMO_PASSWORD).await.session;
    env.age_session(PLAIN_USER_ID, &a, 300).await;
    env.age_session(PLAIN_USER_ID, &b, 100).await;

    let Signed {
        access: c_token,
        session: c,
        ..
    } = app.sign_in(SAM, DEMO_PASSWORD).await;
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, 2);
    let sessions = app.all_my_sessions(&c_token).await;
    let find = |id: &str| sessions.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(find(&a)["status"], "revoked");
    assert_eq!(find(&a)["ended_reason"], "evicted");
    assert_eq!(find(&b)["is_active"], true);
    assert_eq!(find(&c)["is_active"], true);
    // The evicted session's token stops working at once.
    app.list_my_sessions(&a_token, "")
        .await
        .assert_error(401, "session_ended");

    // Next time the least recently active is b.
    env.age_session(PLAIN_USER_ID, &c, 10).await;
    let d = app.sign_in(SAM, DEMO_PASSWORD).await.session;
    let sessions = app.all_my_sessions(&c_token).await;
    let status = |id: &str| {
        sessions.iter().find(|s| s["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        [status(&b), status(&c), status(&d)],
        ["revoked", "active", "active"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_a_sign_in_can_be_refused_instead() {
    let env =
        TestEnv::seeded_with(&[("SESSION_LIMIT", "2"), ("SESSION_LIMIT_ACTION", "refuse")]).await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let first = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    app.sign_in(SAM, DEMO_PASSWORD).await;
    app.login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(409, "session_limit_reached");
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, 2);
    // Ending one frees its slot.
    assert_eq!(app.logout(&first).await.status, 204);
    app.sign_in(SAM, DEMO_PASSWORD).await;
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, 2);
    // Other users have their own limit.
    app.sign_in("admin@example.com", DEMO_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_never_leave_more_than_the_limit_active() {
    for (action, limit, attempts) in [("evict", 3, 12), ("refuse", 3, 10)] {
        // One client signing in a dozen times at once: above the password throttle's
        // per-client limit, which is not what this test is about.
        let env = TestEnv::seeded_with(&[
            ("SESSION_LIMIT", &limit.to_string()),
            ("SESSION_LIMIT_ACTION", action),
            ("LOGIN_MAX_FAILURES", "100"),
        ])
        .await;
        let state = std::sync::Arc::new(env.state.clone());
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..attempts {
            let state = state.clone();
            tasks.spawn(async move {
                TestApp::new(&state)
                    .with_user_agent(FIREFOX_LINUX)
                    .login(SAM, DEMO_PASSWORD)
                    .await
            });
        }
        let mut ok = 0;
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            match r.status {
                200 => ok += 1,
                409 if action == "refuse" => r.assert_error(409, "session_limit_reached"),
                other => panic!("{action}: unexpected {other} {}", r.body),
            }
        }
        let active = env.active_sessions(PLAIN_USER_ID).await;
        assert_eq!(active, limit, "{action}: active sessions after the race");
        if action == "evict" {
            assert_eq!(
                ok, attempts,
                "every sign-in succeeds, older ones are evicted"
            );
        } else {
            assert_eq!(ok, limit, "exactly the limit succeeds");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_from_before_the_limit_count_and_go_first() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let mut old = Vec::new();
    for i in 0..4 {
        let id = app.sign_in(SAM, DEMO_PASSWORD).await.session;
        env.age_session(PLAIN_USER_ID, &id, 100 * (4 - i)).await;
        old.push(id);
    }
    // The same tables, now with a limit of 2.
    let mut vars = api_tests::env_for(&env.endpoint);
    vars.insert("SESSION_LIMIT".into(), "2".into());
    let limited = state_for(&vars)
        .await
        .with_signer(shared::tokens::keys::dev_signing_key())
        .unwrap()
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
    let app = TestApp::new(&limited).with_user_agent(FIREFOX_LINUX);
    let Signed {
        access: token,
        session: new,
        ..
    } = app.sign_in(SAM, DEMO_PASSWORD).await;
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, 2);
    let sessions = app.all_my_sessions(&token).await;
    let active: Vec<&str> = sessions
        .iter()
        .filter(|s| s["is_active"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        active,
        [new.as_str(), old[3].as_str()],
        "the newest old one stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_limit_sign_ins_are_unbounded() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    for _ in 0..12 {
        app.sign_in(SAM, DEMO_PASSWORD).await;
    }
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, 12);
}

// ---------------------------------------------------------------- location

/// What CloudFront adds to a request it forwards, with `secret` as the origin secret.
fn cloudfront_headers(secret: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("x-origin-verify", secret),
        ("cloudfront-viewer-address", "203.0.113.9:46532"),
        ("cloudfront-viewer-country", "DE"),
        ("cloudfront-viewer-country-region", "BE"),
        ("cloudfront-viewer-city", "Berlin"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_comes_from_cloudfront_and_follows_refreshes() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let r = app
        .clone()
        .with_headers(&cloudfront_headers(ORIGIN_SECRET))
        .login(SAM, DEMO_PASSWORD)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = &r.body["session"];
    assert_eq!(
        session["location"],
        json!({"country": "DE", "region": "BE", "city": "Berlin"})
    );
    assert_eq!(
        session["ip_address"], "203.0.113.9",
        "the viewer, not the edge"
    );
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();

    // A refresh from a place CloudFront cannot locate: the old place is not kept as a guess.
    let r = app
        .clone()
        .with_header("x-origin-verify", ORIGIN_SECRET)
        .refresh(&refresh)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = app.all_my_sessions(&token).await;
    assert!(listed[0]["location"].is_null(), "{}", listed[0]);
    assert_eq!(listed[0]["ip_address"], "198.51.100.20");

    // A refresh through CloudFront from elsewhere.
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let elsewhere = [
        ("x-origin-verify", ORIGIN_SECRET),
        ("cloudfront-viewer-address", "[2001:db8::7]:443"),
        ("cloudfront-viewer-country", "FR"),
    ];
    assert_eq!(
        app.clone()
            .with_headers(&elsewhere)
            .refresh(&refresh)
            .await
            .status,
        200
    );
    let listed = app.all_my_sessions(&token).await;
    assert_eq!(
        listed[0]["location"],
        json!({"country": "FR", "region": null, "city": null})
    );
    assert_eq!(listed[0]["ip_address"], "2001:db8::7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_headers_on_a_direct_call_are_ignored() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let sending = |headers: &[(&str, &str)]| app.clone().with_headers(headers);
    for secret in ["", "wrong-secret-0123456789", "cf-origin-secret-012345678"] {
        let r = sending(&cloudfront_headers(secret))
            .login(SAM, DEMO_PASSWORD)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["session"]["location"].is_null(), "{secret:?}");
        assert_eq!(r.body["session"]["ip_address"], "198.51.100.20");
    }
    // Malformed values are dropped, never stored.
    let mut bad = cloudfront_headers(ORIGIN_SECRET);
    bad[2] = ("cloudfront-viewer-country", "Germany");
    let r = sending(&bad).login(SAM, DEMO_PASSWORD).await;
    assert!(r.body["session"]["location"].is_null());
    let mut odd = cloudfront_headers(ORIGIN_SECRET);
    odd[3] = ("cloudfront-viewer-country-region", "<script>");
    odd[4] = ("cloudfront-viewer-city", " \tSaint-Denis ");
    let r = sending(&odd).login(SAM, DEMO_PASSWORD).await;
    assert_eq!(
        r.body["session"]["location"],
        json!({"country": "DE", "region": null, "city": "Saint-Denis"})
    );

    // Without a configured secret nothing is believed, whatever is sent.
    let plain = TestEnv::seeded().await;
    let r = TestApp::new(&plain.state)
        .with_user_agent(FIREFOX_LINUX)
        .with_headers(&cloudfront_headers(ORIGIN_SECRET))
        .login(SAM, DEMO_PASSWORD)
        .await;
    assert!(r.body["session"]["location"].is_null());
    assert_eq!(r.body["session"]["ip_address"], "198.51.100.20");
}
