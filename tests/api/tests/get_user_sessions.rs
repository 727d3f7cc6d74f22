//! GET /sessions/user/{user_id} against a real DynamoDB wire protocol (Dynoxide).

use api_tests::{TestEnv, event, now, reply, request};
use get_user_sessions::handle;
use shared::domain::Role;
use shared::http::serve;
use shared::testkit::demo::{ADMIN_ID, PLAIN_USER_ID, USER_ID};

const ROUTE: &str = "/sessions/user/{user_id}";

async fn get(env: &TestEnv, path_id: &str, query: &str, token: Option<&str>) -> api_tests::Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("user-agent", "admin-panel-test")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let ev = event(
        "GET",
        ROUTE,
        &format!("/sessions/user/{path_id}"),
        query,
        &headers,
    );
    reply(serve(&env.state, request(&ev), handle).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sees_active_sessions_with_the_exact_contract() {
    let env = TestEnv::seeded().await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = get(&env, "74", "", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("x-next-cursor").is_none());
    let list = r.body.as_array().expect("a JSON array");
    assert_eq!(list.len(), 3, "the ended session is not listed by default");
    for s in list {
        assert!(s["id"].as_str().is_some_and(|id| id.len() >= 22));
        assert_eq!(s["user_id"].as_u64(), Some(USER_ID));
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
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = get(&env, "74", "include_inactive=true", Some(&token)).await;
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
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let policy = env.state.config.sessions;
    let (mut expired, _) = env.login(PLAIN_USER_ID, Role::User).await;
    expired.expires_at = now() - 10;
    env.put_session(&expired).await;
    let (mut idle, _) = env.login(PLAIN_USER_ID, Role::User).await;
    idle.last_activity = now() - policy.idle_timeout_seconds - 10;
    env.put_session(&idle).await;
    let (live, _) = env.login(PLAIN_USER_ID, Role::User).await;

    let r = get(&env, "75", "", Some(&token)).await;
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [live.session_id.as_str()]);

    let r = get(&env, "75", "include_inactive=true", Some(&token)).await;
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
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = get(&env, "75", "", Some(&token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::json!([]));
    get(&env, "9999", "", Some(&token))
        .await
        .assert_error(404, "user_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_401_with_www_authenticate() {
    let env = TestEnv::seeded().await;
    let r = get(&env, "74", "", None).await;
    r.assert_error(401, "not_authenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));

    let r = get(&env, "74", "", Some("not.a.jwt")).await;
    r.assert_error(401, "invalid_token");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));

    // Expired.
    let (session, _) = env.login(ADMIN_ID, Role::Admin).await;
    let mut claims = env
        .signer
        .claims(ADMIN_ID, &session.session_id, Role::Admin, now() - 3600);
    claims.exp = now() - 60;
    let expired = env.signer.sign_claims(&claims).unwrap();
    get(&env, "74", "", Some(&expired))
        .await
        .assert_error(401, "token_expired");

    // Signed by a key the service does not trust.
    let stranger =
        shared::tokens::keys::SigningKey::generate(shared::tokens::keys::DEV_ONLY_KID).unwrap();
    let forged = shared::tokens::TokenSigner::new(&stranger, &env.state.config.tokens, 900)
        .issue(ADMIN_ID, &session.session_id, Role::Admin, now())
        .unwrap();
    get(&env, "74", "", Some(&forged))
        .await
        .assert_error(401, "invalid_token");

    // 401 comes before 400: a bad token with a bad id is still 401.
    get(&env, "abc", "", Some("garbage"))
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_of_an_ended_session_is_refused_at_once() {
    let env = TestEnv::seeded().await;
    let (mut session, token) = env.login(ADMIN_ID, Role::Admin).await;
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
    session.revoked_at = Some(now());
    session.revoked_reason = Some(shared::domain::EndReason::Logout);
    env.put_session(&session).await;
    get(&env, "74", "", Some(&token))
        .await
        .assert_error(401, "session_ended");
    // A token naming a session that never existed.
    let ghost = env
        .signer
        .issue(ADMIN_ID, "AAAAAAAAAAAAAAAAAAAAAAAAAAA", Role::Admin, now())
        .unwrap();
    get(&env, "74", "", Some(&ghost))
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_are_403_before_any_400_or_404() {
    let env = TestEnv::seeded().await;
    let (_, user_token) = env.login(PLAIN_USER_ID, Role::User).await;
    get(&env, "74", "", Some(&user_token))
        .await
        .assert_error(403, "admin_required");
    get(&env, "abc", "", Some(&user_token))
        .await
        .assert_error(403, "admin_required");
    get(&env, "9999", "", Some(&user_token))
        .await
        .assert_error(403, "admin_required");
    get(&env, "74", "limit=0", Some(&user_token))
        .await
        .assert_error(403, "admin_required");

    // A user token that claims the admin role: the users table decides.
    let (session, _) = env.login(PLAIN_USER_ID, Role::User).await;
    let lying = env
        .signer
        .issue(PLAIN_USER_ID, &session.session_id, Role::Admin, now())
        .unwrap();
    get(&env, "74", "", Some(&lying))
        .await
        .assert_error(403, "admin_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoted_or_disabled_admins_lose_access_at_once() {
    let env = TestEnv::seeded().await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
    env.update_user(ADMIN_ID, "user", false).await;
    get(&env, "74", "", Some(&token))
        .await
        .assert_error(403, "admin_required");
    env.update_user(ADMIN_ID, "admin", true).await;
    get(&env, "74", "", Some(&token))
        .await
        .assert_error(403, "account_disabled");
    env.update_user(ADMIN_ID, "admin", false).await;
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_user_ids_and_own_id_are_400() {
    let env = TestEnv::seeded().await;
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
        get(&env, bad, "", Some(&token))
            .await
            .assert_error(400, "invalid_user_id");
    }
    get(&env, "1", "", Some(&token))
        .await
        .assert_error(400, "own_user_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_parameters_are_400() {
    let env = TestEnv::seeded().await;
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
        get(&env, "74", query, Some(&token))
            .await
            .assert_error(400, code);
    }
    // The unknown user with a bad query: input is checked before existence.
    get(&env, "9999", "limit=0", Some(&token))
        .await
        .assert_error(400, "invalid_limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_walks_every_session_once_in_order() {
    let env = TestEnv::seeded().await;
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
        let r = get(&env, "75", &query, Some(&token)).await;
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
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let r = get(&env, "74", "limit=1", Some(&token)).await;
    let cursor = r.header("x-next-cursor").unwrap().to_owned();
    assert_eq!(
        get(
            &env,
            "74",
            &format!("limit=1&cursor={cursor}"),
            Some(&token)
        )
        .await
        .status,
        200
    );

    let mut tampered = cursor.clone().into_bytes();
    tampered[5] = if tampered[5] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    get(
        &env,
        "74",
        &format!("limit=1&cursor={tampered}"),
        Some(&token),
    )
    .await
    .assert_error(400, "invalid_cursor");
    // Another user's listing, or another filter.
    get(&env, "75", &format!("cursor={cursor}"), Some(&token))
        .await
        .assert_error(400, "invalid_cursor");
    get(
        &env,
        "74",
        &format!("include_inactive=true&cursor={cursor}"),
        Some(&token),
    )
    .await
    .assert_error(400, "invalid_cursor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_activity_of_the_admin_session_moves_at_most_once_a_minute() {
    let env = TestEnv::seeded().await;
    let (mut session, token) = env.login(ADMIN_ID, Role::Admin).await;
    let stale = now() - 600;
    session.last_activity = stale;
    env.put_session(&session).await;
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
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
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
    let again = env
        .state
        .store
        .get_session(ADMIN_ID, &session.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.last_activity, fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_dynamodb_is_a_quick_503_with_retry_after() {
    let env = TestEnv::seeded().await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    // A listener that accepts connections and never answers: the slowest kind of failure.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let broken = api_tests::state_for(&api_tests::env_for(&endpoint)).await;
    let ev = event(
        "GET",
        ROUTE,
        "/sessions/user/74",
        "",
        &[("authorization", &format!("Bearer {token}"))],
    );
    let started = std::time::Instant::now();
    let r = reply(serve(&broken, request(&ev), handle).await.unwrap());
    let elapsed = started.elapsed();
    r.assert_error(503, "service_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    // The configured operation timeout bounds the wait; the SDK default would hang far longer.
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "took {elapsed:?}"
    );

    // And nothing about the healthy store changed: the next request succeeds.
    assert_eq!(get(&env, "74", "", Some(&token)).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_are_405_and_cors_is_answered_for_configured_origins() {
    let mut vars = api_tests::env_for("http://127.0.0.1:1");
    vars.insert(
        "CORS_ALLOWED_ORIGINS".into(),
        "http://localhost:5173".into(),
    );
    let state = api_tests::state_for(&vars).await;
    let ev = event(
        "OPTIONS",
        ROUTE,
        "/sessions/user/74",
        "",
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "GET"),
        ],
    );
    let r = reply(serve(&state, request(&ev), handle).await.unwrap());
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );

    let ev = event(
        "OPTIONS",
        ROUTE,
        "/sessions/user/74",
        "",
        &[("origin", "http://evil.example")],
    );
    let r = reply(serve(&state, request(&ev), handle).await.unwrap());
    assert!(r.header("access-control-allow-origin").is_none());

    let ev = event(
        "POST",
        ROUTE,
        "/sessions/user/74",
        "",
        &[("origin", "http://localhost:5173")],
    );
    let r = reply(serve(&state, request(&ev), handle).await.unwrap());
    r.assert_error(405, "method_not_allowed");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("X-Next-Cursor")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_page_on_this_machine_may_call_the_local_stack_but_not_a_deployed_one() {
    let preflight = |origin: &'static str| {
        event(
            "OPTIONS",
            ROUTE,
            "/sessions/user/74",
            "",
            &[("origin", origin), ("access-control-request-method", "GET")],
        )
    };
    let local = api_tests::state_for(&api_tests::env_for("http://127.0.0.1:1")).await;
    for origin in [
        "http://localhost:4321",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
    ] {
        let r = reply(
            serve(&local, request(&preflight(origin)), handle)
                .await
                .unwrap(),
        );
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    }
    let r = reply(
        serve(
            &local,
            request(&preflight("http://evil.example:4321")),
            handle,
        )
        .await
        .unwrap(),
    );
    assert!(r.header("access-control-allow-origin").is_none());

    // A deployed stack (APP_ENV not local) allows only its configured origins.
    let key = shared::tokens::keys::SigningKey::generate("k1").unwrap();
    let keys = serde_json::to_string(&shared::tokens::keys::JwkSet {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    let mut vars = api_tests::env_for("http://127.0.0.1:1");
    vars.remove("APP_ENV");
    vars.insert("JWT_PUBLIC_KEYS".into(), keys);
    vars.insert(
        "CURSOR_SECRET".into(),
        "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".into(),
    );
    vars.insert(
        "CORS_ALLOWED_ORIGINS".into(),
        "https://admin.example.com".into(),
    );
    let deployed = api_tests::state_for(&vars).await;
    let r = reply(
        serve(
            &deployed,
            request(&preflight("http://localhost:4321")),
            handle,
        )
        .await
        .unwrap(),
    );
    assert!(r.header("access-control-allow-origin").is_none());
    let r = reply(
        serve(
            &deployed,
            request(&preflight("https://admin.example.com")),
            handle,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://admin.example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_cloudfront_a_direct_call_is_refused_before_the_handler() {
    let secret = "cf-origin-secret-0123456789";
    let env = TestEnv::seeded_with(&[
        ("ORIGIN_VERIFY_SECRET", secret),
        ("ORIGIN_VERIFY_REQUIRED", "true"),
    ])
    .await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let auth = format!("Bearer {token}");
    let get = |headers: &[(&str, &str)]| event("GET", ROUTE, "/sessions/user/74", "", headers);
    let direct = get(&[("authorization", &auth)]);
    let r = reply(serve(&env.state, request(&direct), handle).await.unwrap());
    r.assert_error(403, "direct_access_refused");
    let wrong = get(&[
        ("authorization", &auth),
        ("x-origin-verify", "not-the-secret-at-all"),
    ]);
    let r = reply(serve(&env.state, request(&wrong), handle).await.unwrap());
    r.assert_error(403, "direct_access_refused");
    let through = get(&[("authorization", &auth), ("x-origin-verify", secret)]);
    let r = reply(serve(&env.state, request(&through), handle).await.unwrap());
    assert_eq!(r.status, 200, "{}", r.body);
}
