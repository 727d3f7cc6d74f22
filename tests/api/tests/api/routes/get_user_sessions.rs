//! `GET /sessions/user/{user_id}`, the admin listing: its exact contract, inactive sessions,
//! authentication before authorisation before input, paging and cursors, and the activity
//! write. (What every route shares, shown through this one, is in `cross_route`.)

use api_tests::{TestApp, TestEnv, now};
use shared::domain::Role;
use shared::testkit::demo::{ADMIN_ID, PLAIN_USER_ID, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sees_active_sessions_with_the_exact_contract() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = app.get_user_sessions(&token, "74", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("x-next-cursor").is_none());
    let list = r.body.as_array().expect("a JSON array");
    assert_eq!(list.len(), 3, "the ended session is not listed by default");
    for s in list {
        assert!(s["id"].as_str().is_some_and(|id| id.len() >= 22));
        assert_eq!(s["user_id"].as_u64(), Some(USER_ID.get()));
        assert!(s["device_name"].is_string());
        assert!(["web", "mobile"].contains(&s["device_type"].as_str().unwrap()));
        assert!(s["browser"].is_string());
        assert!(s["ip_address"].is_string());
        for field in ["created_at", "last_activity"] {
            let t = s[field].as_str().unwrap();
            assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
            assert!(t.ends_with('Z') && t.len() == 20, "{t}");
        }
        assert_eq!(s["is_active"], true);
    }
    let names: Vec<&str> = list
        .iter()
        .map(|s| s["device_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Chrome on Windows 10",
            "Safari on iOS 17",
            "Chrome on Android 14"
        ],
        "most recent activity first"
    );
    assert_eq!(list[0]["ip_address"], "192.168.1.1");
    assert_eq!(list[1]["device_type"], "mobile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_inactive_adds_ended_sessions() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = app
        .get_user_sessions(&token, "74", "include_inactive=true")
        .await;
    assert_eq!(r.status, 200);
    let list = r.body.as_array().unwrap();
    assert_eq!(list.len(), 4);
    let ended: Vec<_> = list.iter().filter(|s| s["is_active"] == false).collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["device_name"], "Firefox on Ubuntu");
    assert_eq!(ended[0]["status"], "revoked");
    assert_eq!(ended[0]["ended_reason"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_idle_sessions_count_as_inactive_without_ttl() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let policy = env.state.config.sessions;
    let (mut expired, _) = env.login(PLAIN_USER_ID, Role::User).await;
    expired.expires_at = now() - 10;
    env.put_session(&expired).await;
    let (mut idle, _) = env.login(PLAIN_USER_ID, Role::User).await;
    idle.last_activity = now() - policy.idle_timeout_seconds - 10;
    env.put_session(&idle).await;
    let (live, _) = env.login(PLAIN_USER_ID, Role::User).await;

    let r = app.get_user_sessions(&token, "75", "").await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.session_id.as_str()]);

    let r = app
        .get_user_sessions(&token, "75", "include_inactive=true")
        .await;
    let mut statuses: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["active", "expired", "idle"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_user_without_sessions_is_an_empty_list_unknown_user_is_404() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = app.get_user_sessions(&token, "75", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::json!([]));
    app.get_user_sessions(&token, "9999", "")
        .await
        .assert_error(404, "user_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_401_with_www_authenticate() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let r = app
        .call("get-user-sessions", "/sessions/user/74", None, None)
        .await;
    r.assert_error(401, "not_authenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));

    let r = app.get_user_sessions("not.a.jwt", "74", "").await;
    r.assert_error(401, "invalid_token");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    // Expired.
    let (session, _) = env.login(ADMIN_ID, Role::Admin).await;
    let mut claims = env
        .signer
        .claims(ADMIN_ID, &session.session_id, Role::Admin, now() - 3600);
    claims.exp = now() - 60;
    let expired = env.signer.sign_claims(&claims).unwrap();
    app.get_user_sessions(&expired, "74", "")
        .await
        .assert_error(401, "token_expired");

    // Signed by a key the service does not trust.
    let stranger =
        shared::tokens::keys::SigningKey::generate(shared::tokens::keys::DEV_ONLY_KID).unwrap();
    let forged = shared::tokens::TokenSigner::new(&stranger, &env.state.config.tokens, 900)
        .issue(ADMIN_ID, &session.session_id, Role::Admin, now())
        .unwrap();
    app.get_user_sessions(&forged, "74", "")
        .await
        .assert_error(401, "invalid_token");

    // 401 comes before 400: a bad token with a bad id is still 401.
    app.get_user_sessions("garbage", "abc", "")
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_an_ended_session_is_refused_at_once() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (mut session, token) = env.login(ADMIN_ID, Role::Admin).await;
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
    session.revoked_at = Some(now());
    session.revoked_reason = Some(shared::domain::EndReason::Logout);
    env.put_session(&session).await;
    app.get_user_sessions(&token, "74", "")
        .await
        .assert_error(401, "session_ended");
    // A token naming a session that never existed.
    let ghost = env
        .signer
        .issue(ADMIN_ID, "AAAAAAAAAAAAAAAAAAAAAAAAAAA", Role::Admin, now())
        .unwrap();
    app.get_user_sessions(&ghost, "74", "")
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_are_403_before_any_400_or_404() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, user_token) = env.login(PLAIN_USER_ID, Role::User).await;
    app.get_user_sessions(&user_token, "74", "")
        .await
        .assert_error(403, "admin_required");
    app.get_user_sessions(&user_token, "abc", "")
        .await
        .assert_error(403, "admin_required");
    app.get_user_sessions(&user_token, "9999", "")
        .await
        .assert_error(403, "admin_required");
    app.get_user_sessions(&user_token, "74", "limit=0")
        .await
        .assert_error(403, "admin_required");

    // A user token that claims the admin role: the users table decides.
    let (session, _) = env.login(PLAIN_USER_ID, Role::User).await;
    let lying = env
        .signer
        .issue(PLAIN_USER_ID, &session.session_id, Role::Admin, now())
        .unwrap();
    app.get_user_sessions(&lying, "74", "")
        .await
        .assert_error(403, "admin_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoted_or_disabled_admins_lose_access_at_once() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
    env.update_user(ADMIN_ID, "user", false).await;
    app.get_user_sessions(&token, "74", "")
        .await
        .assert_error(403, "admin_required");
    env.update_user(ADMIN_ID, "admin", true).await;
    app.get_user_sessions(&token, "74", "")
        .await
        .assert_error(403, "account_disabled");
    env.update_user(ADMIN_ID, "admin", false).await;
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_user_ids_and_own_id_are_400() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    for bad in [
        "abc",
        "0",
        "-1",
        "1.5",
        "+7",
        " 7",
        "%20 7",
        "123456789012345678901234567890",
        "9007199254740992",
    ] {
        app.get_user_sessions(&token, bad, "")
            .await
            .assert_error(400, "invalid_user_id");
    }
    app.get_user_sessions(&token, "1", "")
        .await
        .assert_error(400, "own_user_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_are_400() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=abc", "invalid_limit"),
        ("limit=-5", "invalid_limit"),
        ("limit=%2B5", "invalid_limit"),
        ("include_inactive=yes", "invalid_include_inactive"),
        ("cursor=garbage", "invalid_cursor"),
    ] {
        app.get_user_sessions(&token, "74", query)
            .await
            .assert_error(400, code);
    }
    // The unknown user with a bad query: input is checked before existence.
    app.get_user_sessions(&token, "9999", "limit=0")
        .await
        .assert_error(400, "invalid_limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_walks_every_session_once_in_order() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    // Seven sessions, several sharing a last_activity second.
    let mut expected = Vec::new();
    for i in 0..7 {
        let (mut s, _) = env.login(PLAIN_USER_ID, Role::User).await;
        s.last_activity = now() - (i / 2) * 60;
        env.put_session(&s).await;
        expected.push(s);
    }
    expected.sort_by_key(|s| std::cmp::Reverse(s.last_activity));

    let mut seen: Vec<String> = Vec::new();
    let mut query = "limit=3".to_owned();
    let mut pages = 0;
    loop {
        let r = app.get_user_sessions(&token, "75", &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let list = r.body.as_array().unwrap();
        assert!(list.len() <= 3);
        seen.extend(list.iter().map(|s| s["id"].as_str().unwrap().to_owned()));
        match r.header("x-next-cursor") {
            Some(cursor) => {
                let link = r.header("link").unwrap();
                assert!(
                    link.starts_with("</sessions/user/75?limit=3&cursor="),
                    "{link}"
                );
                assert!(link.ends_with(">; rel=\"next\""));
                assert!(link.contains(cursor));
                query = format!("limit=3&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "no session twice");
    let activities: Vec<i64> = seen
        .iter()
        .map(|id| {
            expected
                .iter()
                .find(|s| &s.session_id == id)
                .unwrap()
                .last_activity
        })
        .collect();
    assert!(
        activities.windows(2).all(|w| w[0] >= w[1]),
        "{activities:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_foreign_cursors_are_400() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = app.get_user_sessions(&token, "74", "limit=1").await;
    let cursor = r.header("x-next-cursor").unwrap().to_owned();
    assert_eq!(
        app.get_user_sessions(&token, "74", &format!("limit=1&cursor={cursor}"))
            .await
            .status,
        200
    );

    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    app.get_user_sessions(&token, "74", &format!("limit=1&cursor={tampered}"))
        .await
        .assert_error(400, "invalid_cursor");
    // Another user's listing, or another filter.
    app.get_user_sessions(&token, "75", &format!("cursor={cursor}"))
        .await
        .assert_error(400, "invalid_cursor");
    app.get_user_sessions(
        &token,
        "74",
        &format!("include_inactive=true&cursor={cursor}"),
    )
    .await
    .assert_error(400, "invalid_cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_activity_of_the_admin_session_moves_at_most_once_a_minute() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent("admin-panel-test");
    let (mut session, token) = env.login(ADMIN_ID, Role::Admin).await;
    let stale = now() - 600;
    session.last_activity = stale;
    env.put_session(&session).await;
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
    let after = env
        .state
        .store
        .get_session(ADMIN_ID, &session.session_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        after.last_activity >= now() - 5,
        "stale activity was recorded"
    );

    // Fresh activity is not rewritten.
    let fresh = now() - 30;
    let mut s = after.clone();
    s.last_activity = fresh;
    env.put_session(&s).await;
    assert_eq!(app.get_user_sessions(&token, "74", "").await.status, 200);
    let again = env
        .state
        .store
        .get_session(ADMIN_ID, &session.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.last_activity, fresh);
}
