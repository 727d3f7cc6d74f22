//! `POST /auth/refresh`: rotation, a just-rotated token's 409 and reuse after the grace window,
//! dead sessions, disabled users and foreign tokens refused, activity and address moved, one
//! winner among concurrent refreshes, and `auth_time` kept (a refresh is not a sign-in).

use api_tests::{CHROME_WINDOWS, FIREFOX_LINUX, Signed, TestApp, TestEnv, claims, now};
use shared::domain::EndReason;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_just_rotated_token_gets_409_without_harm() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        refresh: first,
        session: session_id,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let r = app.refresh(&first).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(
        env.state
            .verifier
            .verify(r.body["access_token"].as_str().unwrap())
            .is_ok()
    );

    app.refresh(&first)
        .await
        .assert_error(409, "refresh_token_rotated");
    let stored = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_none(), "the session lives");
    assert_eq!(
        app.refresh(&second).await.status,
        200,
        "the newest token still works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_after_the_grace_window_ends_the_session() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        access,
        refresh: first,
        session: session_id,
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let second = app.refresh(&first).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut s = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    s.refresh_rotated_at = Some(now() - 60);
    env.put_session(&s).await;

    app.refresh(&first)
        .await
        .assert_error(401, "refresh_token_reused");
    let ended = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.revoked_reason, Some(EndReason::RefreshTokenReuse));
    // Neither the thief's nor the owner's tokens work any more.
    app.refresh(&second)
        .await
        .assert_error(401, "session_ended");
    app.list_my_sessions(&access, "")
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_refuses_dead_sessions_disabled_users_and_foreign_tokens() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let policy = env.state.config.sessions;
    for (label, mutate) in [
        (
            "ended",
            Box::new(|s: &mut shared::domain::Session| s.revoked_at = Some(now()))
                as Box<dyn Fn(&mut _)>,
        ),
        (
            "expired",
            Box::new(|s: &mut shared::domain::Session| s.expires_at = now() - 1),
        ),
        (
            "idle",
            Box::new(move |s: &mut shared::domain::Session| {
                s.last_activity = now() - policy.idle_timeout_seconds - 1
            }),
        ),
    ] {
        let Signed {
            refresh: refresh_token,
            session: session_id,
            ..
        } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
        let mut s = env
            .state
            .store
            .get_session(USER_ID, &session_id)
            .await
            .unwrap()
            .unwrap();
        mutate(&mut s);
        env.put_session(&s).await;
        let r = app.refresh(&refresh_token).await;
        assert_eq!(r.status, 401, "{label}: {}", r.body);
    }
    let Signed {
        access,
        refresh: refresh_token,
        ..
    } = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    env.update_user(PLAIN_USER_ID, "user", true).await;
    app.refresh(&refresh_token)
        .await
        .assert_error(401, "account_disabled");
    for junk in [
        "",
        "garbage",
        access.as_str(),
        "rt1.74.AAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        app.refresh(junk)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_moves_last_activity_and_ip() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        refresh: refresh_token,
        session: session_id,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let mut s = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    s.last_activity = now() - 3600;
    s.ip_address = "192.0.2.99".into();
    env.put_session(&s).await;
    assert_eq!(app.refresh(&refresh_token).await.status, 200);
    let after = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.last_activity >= now() - 5);
    assert_eq!(after.ip_address, "198.51.100.20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_with_one_token_yield_exactly_one_new_token() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let Signed {
        refresh: refresh_token,
        session: session_id,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let state = env.state.clone();
        let token = refresh_token.clone();
        tasks.spawn(async move { TestApp::new(&state).refresh(&token).await });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        match r.status {
            200 => winners.push(r.body["refresh_token"].as_str().unwrap().to_owned()),
            409 | 401 => {}
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = env
        .state
        .store
        .get_session(USER_ID, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_none());
    assert_eq!(app.refresh(&winners[0]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_carry_auth_time_and_refresh_keeps_it() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let before = now();
    let r = app.login("sam@example.com", DEMO_PASSWORD).await;
    let token = r.body["access_token"].as_str().unwrap();
    let auth_time = claims(token)["auth_time"].as_i64().unwrap();
    assert!(auth_time >= before && auth_time <= now());
    let id = r.body["session"]["id"].as_str().unwrap();
    env.age_session(PLAIN_USER_ID, id, 500).await;
    let r = app.refresh(r.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refreshed = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        claims(refreshed)["auth_time"].as_i64().unwrap(),
        auth_time - 500,
        "a refresh is not a sign-in"
    );
}

const ORIGIN_SECRET: &str = "cf-origin-secret-0123456789";

/// CloudFront's headers for a viewer in `country` at `lat`, `lon`.
fn viewer_at(
    address: &'static str,
    country: &'static str,
    (lat, lon): (&'static str, &'static str),
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("x-origin-verify", ORIGIN_SECRET),
        ("cloudfront-viewer-address", address),
        ("cloudfront-viewer-country", country),
        ("cloudfront-viewer-latitude", lat),
        ("cloudfront-viewer-longitude", lon),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_from_elsewhere_or_another_browser_flags_the_session_once() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    let berlin = viewer_at("203.0.113.9:443", "DE", ("52.52000", "13.40500"));
    let app = TestApp::browser(&env.state, CHROME_WINDOWS).with_headers(&berlin);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    // From the same place and browser: nothing to say.
    let r = app.refresh(&signed.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = app.all_my_sessions(&signed.access).await;
    assert_eq!(listed[0]["risk_flags"], serde_json::json!([]));
    // Minutes later from Sydney, in Firefox: another country, another browser, and no flight
    // is that fast. The session lives (flags inform; the option below ends it).
    let sydney = viewer_at("198.51.100.7:443", "AU", ("-33.86880", "151.20930"));
    let elsewhere = TestApp::browser(&env.state, FIREFOX_LINUX).with_headers(&sydney);
    let r = elsewhere
        .refresh(r.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let all = ["location_changed", "browser_changed", "impossible_travel"];
    let listed = app.all_my_sessions(&signed.access).await;
    assert_eq!(listed[0]["risk_flags"], serde_json::json!(all));
    // Kept, never doubled, and the admin sees them too.
    let r = elsewhere
        .refresh(r.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = env
        .state
        .store
        .get_session(PLAIN_USER_ID, &signed.session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.risk_flags.len(), 3, "{:?}", stored.risk_flags);
    let (_, admin) = env
        .login(shared::testkit::demo::ADMIN_ID, shared::domain::Role::Admin)
        .await;
    let seen = app.get_user_sessions(&admin, "75", "").await;
    assert_eq!(
        seen.body[0]["risk_flags"],
        serde_json::json!(all),
        "{}",
        seen.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_stack_says_so_another_browser_ends_the_session() {
    let env = TestEnv::seeded_with(&[("END_SESSION_ON_BROWSER_CHANGE", "true")]).await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let r = app.refresh(&signed.refresh).await;
    assert_eq!(r.status, 200, "the same browser: {}", r.body);
    let firefox = TestApp::browser(&env.state, FIREFOX_LINUX);
    firefox
        .refresh(r.body["refresh_token"].as_str().unwrap())
        .await
        .assert_error(401, "session_ended");
    let fresh = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let listed = app.all_my_sessions(&fresh.access).await;
    let ended = listed
        .iter()
        .find(|s| s["id"] == signed.session.as_str())
        .unwrap();
    assert_eq!(
        (&ended["ended_reason"], &ended["ended_by"]),
        (&"browser_changed".into(), &"system".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_without_a_location_keeps_the_flags_and_drops_the_place() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    let berlin = viewer_at("203.0.113.9:443", "DE", ("52.52000", "13.40500"));
    let app = TestApp::browser(&env.state, CHROME_WINDOWS).with_headers(&berlin);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    // Another browser, and no CloudFront: flagged, and the old place is not kept as a guess.
    let direct = TestApp::browser(&env.state, FIREFOX_LINUX);
    let r = direct.refresh(&signed.refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = app.all_my_sessions(&signed.access).await;
    assert_eq!(
        listed[0]["risk_flags"],
        serde_json::json!(["browser_changed"])
    );
    assert!(listed[0]["location"].is_null(), "{}", listed[0]);
    // The same browser again later: the flag stays.
    let r = app.refresh(r.body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = app.all_my_sessions(&signed.access).await;
    assert_eq!(
        listed[0]["risk_flags"],
        serde_json::json!(["browser_changed"])
    );
}
