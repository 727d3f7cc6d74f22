//! Session controls against Dynoxide: the concurrent session limit (evict and refuse, under
//! concurrent sign-ins), location from CloudFront's viewer headers, re-authentication for
//! sensitive actions, and session labels.

use api_tests::{Reply, TestEnv, event, now, send, state_for, with_body};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::AppState;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID, USER_ID};

const SAM: &str = "sam@example.com";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const ORIGIN_SECRET: &str = "cf-origin-secret-0123456789";

fn auth(token: &str) -> String {
    format!("Bearer {token}")
}

async fn login_with(state: &AppState, email: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("user-agent", FIREFOX_LINUX)];
    all.extend_from_slice(headers);
    let ev = with_body(
        event("POST", "/auth/login", "/auth/login", "", &all),
        &json!({"email": email, "password": DEMO_PASSWORD}),
    );
    send(state, &ev, login::handle).await
}

/// Signs in and returns (access token, refresh token, session id).
async fn sign_in(state: &AppState, email: &str) -> (String, String, String) {
    let r = login_with(state, email, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
        r.body["session"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn refresh_with(state: &AppState, refresh_token: &str, headers: &[(&str, &str)]) -> Reply {
    let ev = with_body(
        event("POST", "/auth/refresh", "/auth/refresh", "", headers),
        &json!({"refresh_token": refresh_token}),
    );
    send(state, &ev, refresh::handle).await
}

async fn my_sessions(state: &AppState, token: &str) -> Vec<Value> {
    let ev = event(
        "GET",
        "/sessions",
        "/sessions",
        "include_inactive=true",
        &[("authorization", &auth(token))],
    );
    let r = send(state, &ev, list_my_sessions::handle).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn active_count(env: &TestEnv, user_id: u64) -> usize {
    let policy = env.state.config.sessions;
    env.state
        .store
        .active_sessions(user_id, now(), &policy)
        .await
        .unwrap()
        .len()
}

/// Moves a session's last activity (and sign-in time) into the past.
async fn age(env: &TestEnv, user_id: u64, session_id: &str, seconds: i64) {
    let store = &env.state.store;
    let mut s = store
        .get_session(user_id, session_id)
        .await
        .unwrap()
        .unwrap();
    s.last_activity -= seconds;
    s.auth_time = Some(s.auth_time() - seconds);
    store.replace_session(&s).await.unwrap();
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

// ---------------------------------------------------------------- session limit

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_limit_a_sign_in_evicts_the_least_recently_active_session() {
    let env = TestEnv::seeded_with(&[("SESSION_LIMIT", "2")]).await;
    let (a_token, _, a) = sign_in(&env.state, SAM).await;
    let (_, _, b) = sign_in(&env.state, SAM).await;
    age(&env, PLAIN_USER_ID, &a, 300).await;
    age(&env, PLAIN_USER_ID, &b, 100).await;

    let (c_token, _, c) = sign_in(&env.state, SAM).await;
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 2);
    let sessions = my_sessions(&env.state, &c_token).await;
    let find = |id: &str| sessions.iter().find(|s| s["id"] == id).unwrap().clone();
    assert_eq!(find(&a)["status"], "revoked");
    assert_eq!(find(&a)["ended_reason"], "evicted");
    assert_eq!(find(&b)["is_active"], true);
    assert_eq!(find(&c)["is_active"], true);
    // The evicted session's token stops working at once.
    let ev = event(
        "GET",
        "/sessions",
        "/sessions",
        "",
        &[("authorization", &auth(&a_token))],
    );
    send(&env.state, &ev, list_my_sessions::handle)
        .await
        .assert_error(401, "session_ended");

    // Next time the least recently active is b.
    age(&env, PLAIN_USER_ID, &c, 10).await;
    let (_, _, d) = sign_in(&env.state, SAM).await;
    let sessions = my_sessions(&env.state, &c_token).await;
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
    let (first, _, _) = sign_in(&env.state, SAM).await;
    sign_in(&env.state, SAM).await;
    login_with(&env.state, SAM, &[])
        .await
        .assert_error(409, "session_limit_reached");
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 2);
    // Ending one frees its slot.
    let ev = event(
        "POST",
        "/auth/logout",
        "/auth/logout",
        "",
        &[("authorization", &auth(&first))],
    );
    assert_eq!(send(&env.state, &ev, logout::handle).await.status, 204);
    sign_in(&env.state, SAM).await;
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 2);
    // Other users have their own limit.
    sign_in(&env.state, "admin@example.com").await;
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
            tasks.spawn(async move { login_with(&state, SAM, &[]).await });
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
        let active = active_count(&env, PLAIN_USER_ID).await;
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
    let mut old = Vec::new();
    for i in 0..4 {
        let (_, _, id) = sign_in(&env.state, SAM).await;
        age(&env, PLAIN_USER_ID, &id, 100 * (4 - i)).await;
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
    let (token, _, new) = sign_in(&limited, SAM).await;
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 2);
    let sessions = my_sessions(&limited, &token).await;
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
    for _ in 0..12 {
        sign_in(&env.state, SAM).await;
    }
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 12);
}

// ---------------------------------------------------------------- location

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
    let r = login_with(&env.state, SAM, &cloudfront_headers(ORIGIN_SECRET)).await;
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
    let r = refresh_with(&env.state, &refresh, &[("x-origin-verify", ORIGIN_SECRET)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = my_sessions(&env.state, &token).await;
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
        refresh_with(&env.state, &refresh, &elsewhere).await.status,
        200
    );
    let listed = my_sessions(&env.state, &token).await;
    assert_eq!(
        listed[0]["location"],
        json!({"country": "FR", "region": null, "city": null})
    );
    assert_eq!(listed[0]["ip_address"], "2001:db8::7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_headers_on_a_direct_call_are_ignored() {
    let env = TestEnv::seeded_with(&[("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)]).await;
    for secret in ["", "wrong-secret-0123456789", "cf-origin-secret-012345678"] {
        let r = login_with(&env.state, SAM, &cloudfront_headers(secret)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["session"]["location"].is_null(), "{secret:?}");
        assert_eq!(r.body["session"]["ip_address"], "198.51.100.20");
    }
    // Malformed values are dropped, never stored.
    let mut bad = cloudfront_headers(ORIGIN_SECRET);
    bad[2] = ("cloudfront-viewer-country", "Germany");
    let r = login_with(&env.state, SAM, &bad).await;
    assert!(r.body["session"]["location"].is_null());
    let mut odd = cloudfront_headers(ORIGIN_SECRET);
    odd[3] = ("cloudfront-viewer-country-region", "<script>");
    odd[4] = ("cloudfront-viewer-city", " \tSaint-Denis ");
    let r = login_with(&env.state, SAM, &odd).await;
    assert_eq!(
        r.body["session"]["location"],
        json!({"country": "DE", "region": null, "city": "Saint-Denis"})
    );

    // Without a configured secret nothing is believed, whatever is sent.
    let plain = TestEnv::seeded().await;
    let r = login_with(&plain.state, SAM, &cloudfront_headers(ORIGIN_SECRET)).await;
    assert!(r.body["session"]["location"].is_null());
    assert_eq!(r.body["session"]["ip_address"], "198.51.100.20");
}

// ---------------------------------------------------------------- re-authentication

async fn end_others(state: &AppState, token: &str) -> Reply {
    let ev = event(
        "DELETE",
        "/sessions",
        "/sessions",
        "scope=others",
        &[("authorization", &auth(token))],
    );
    send(state, &ev, revoke_other_sessions::handle).await
}

async fn change_password(state: &AppState, token: &str) -> Reply {
    let ev = with_body(
        event(
            "POST",
            "/auth/password",
            "/auth/password",
            "",
            &[("authorization", &auth(token))],
        ),
        &json!({"current_password": DEMO_PASSWORD, "new_password": "another long secret"}),
    );
    send(state, &ev, change_password::handle).await
}

async fn reauthenticate(state: &AppState, token: &str, password: &str) -> Reply {
    let ev = with_body(
        event(
            "POST",
            "/auth/reauthenticate",
            "/auth/reauthenticate",
            "",
            &[("authorization", &auth(token))],
        ),
        &json!({"password": password}),
    );
    send(state, &ev, reauthenticate::handle).await
}

async fn patch_user(state: &AppState, token: &str) -> Reply {
    let ev = with_body(
        event(
            "PATCH",
            "/users/{user_id}",
            &format!("/users/{USER_ID}"),
            "",
            &[("authorization", &auth(token))],
        ),
        &json!({"role": "user"}),
    );
    send(state, &ev, update_user::handle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_carry_auth_time_and_refresh_keeps_it() {
    let env = TestEnv::seeded().await;
    let before = now();
    let r = login_with(&env.state, SAM, &[]).await;
    let token = r.body["access_token"].as_str().unwrap();
    let auth_time = claims(token)["auth_time"].as_i64().unwrap();
    assert!(auth_time >= before && auth_time <= now());
    let id = r.body["session"]["id"].as_str().unwrap();
    age(&env, PLAIN_USER_ID, id, 500).await;
    let r = refresh_with(&env.state, r.body["refresh_token"].as_str().unwrap(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let refreshed = r.body["access_token"].as_str().unwrap();
    assert_eq!(
        claims(refreshed)["auth_time"].as_i64().unwrap(),
        auth_time - 500,
        "a refresh is not a sign-in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_actions_need_a_recent_sign_in() {
    let env = TestEnv::seeded().await;
    let (token, _, id) = sign_in(&env.state, SAM).await;
    let (admin, _, admin_session) = sign_in(&env.state, "admin@example.com").await;
    age(&env, PLAIN_USER_ID, &id, 901).await;
    age(&env, ADMIN_ID, &admin_session, 901).await;

    for r in [
        end_others(&env.state, &token).await,
        change_password(&env.state, &token).await,
        patch_user(&env.state, &admin).await,
    ] {
        r.assert_error(401, "reauthentication_required");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer error=\"insufficient_user_authentication\"")
        );
    }
    // Everyday routes still work with the same token.
    assert_eq!(my_sessions(&env.state, &token).await.len(), 1);

    // A wrong password changes nothing; the right one moves auth_time for this session only.
    reauthenticate(&env.state, &token, "not the password")
        .await
        .assert_error(403, "invalid_password");
    let r = reauthenticate(&env.state, &token, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(
        r.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rt2.")
    );
    let fresh = r.body["access_token"].as_str().unwrap();
    assert!(claims(fresh)["auth_time"].as_i64().unwrap() >= now() - 5);
    assert_eq!(claims(fresh)["sid"], id.as_str(), "the same session");
    assert_eq!(active_count(&env, PLAIN_USER_ID).await, 1, "no new session");
    // Only tokens issued at or after the re-authentication count: the older one (stolen
    // before, say) still may not act; the fresh one may.
    end_others(&env.state, &token)
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(end_others(&env.state, fresh).await.status, 200);
    assert_eq!(change_password(&env.state, fresh).await.status, 200);
    // The admin's own session still needs it.
    patch_user(&env.state, &admin)
        .await
        .assert_error(401, "reauthentication_required");
    let r = reauthenticate(&env.state, &admin, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200);
    let admin_fresh = r.body["access_token"].as_str().unwrap();
    patch_user(&env.state, &admin)
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(patch_user(&env.state, admin_fresh).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_shares_the_sign_in_throttle_and_needs_a_live_session() {
    let env = TestEnv::seeded().await;
    let (token, _, _) = sign_in(&env.state, SAM).await;
    for _ in 0..5 {
        reauthenticate(&env.state, &token, "guess")
            .await
            .assert_error(403, "invalid_password");
    }
    let r = reauthenticate(&env.state, &token, DEMO_PASSWORD).await;
    r.assert_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    // Sign-in for the same email is throttled too.
    login_with(&env.state, SAM, &[])
        .await
        .assert_error(429, "too_many_attempts");

    let (jane, _, _) = sign_in(&env.state, "jane@example.com").await;
    let ev = event(
        "POST",
        "/auth/logout",
        "/auth/logout",
        "",
        &[("authorization", &auth(&jane))],
    );
    assert_eq!(send(&env.state, &ev, logout::handle).await.status, 204);
    reauthenticate(&env.state, &jane, DEMO_PASSWORD)
        .await
        .assert_error(401, "session_ended");
}

// ---------------------------------------------------------------- labels

async fn rename(state: &AppState, token: &str, session_id: &str, body: Value) -> Reply {
    let ev = with_body(
        event(
            "PATCH",
            "/sessions/{session_id}",
            &format!("/sessions/{session_id}"),
            "",
            &[("authorization", &auth(token))],
        ),
        &body,
    );
    send(state, &ev, rename_session::handle).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_label_their_own_sessions_and_both_listings_show_it() {
    let env = TestEnv::seeded().await;
    let (token, _, current) = sign_in(&env.state, SAM).await;
    let (_, _, other) = sign_in(&env.state, SAM).await;

    let r = rename(
        &env.state,
        &token,
        &other,
        json!({"label": "  work\u{0} laptop "}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "work laptop");
    assert_eq!(r.body["id"], other.as_str());
    assert_eq!(r.body["is_current"], false);
    let r = rename(&env.state, &token, &current, json!({"label": "this phone"})).await;
    assert_eq!(r.body["is_current"], true);

    let mine = my_sessions(&env.state, &token).await;
    let label = |id: &str| mine.iter().find(|s| s["id"] == id).unwrap()["label"].clone();
    assert_eq!(label(&other), "work laptop");
    assert_eq!(label(&current), "this phone");

    let (admin, _, _) = sign_in(&env.state, "admin@example.com").await;
    let ev = event(
        "GET",
        "/sessions/user/{user_id}",
        &format!("/sessions/user/{PLAIN_USER_ID}"),
        "",
        &[("authorization", &auth(&admin))],
    );
    let listed = send(&env.state, &ev, get_user_sessions::handle).await;
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
        let r = rename(&env.state, &token, &other, clear).await;
        assert_eq!(r.status, 200);
        assert!(r.body["label"].is_null());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_limited_and_only_for_ones_own_sessions() {
    let env = TestEnv::seeded().await;
    let (token, _, current) = sign_in(&env.state, SAM).await;
    let (_, _, janes) = sign_in(&env.state, "jane@example.com").await;

    rename(&env.state, &token, &janes, json!({"label": "mine now"}))
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
    rename(
        &env.state,
        &token,
        "not-a-session-id",
        json!({"label": "x"}),
    )
    .await
    .assert_error(404, "session_not_found");
    rename(
        &env.state,
        &token,
        &current,
        json!({"label": "x".repeat(65)}),
    )
    .await
    .assert_error(400, "label_too_long");
    assert_eq!(
        rename(
            &env.state,
            &token,
            &current,
            json!({"label": "x".repeat(64)})
        )
        .await
        .status,
        200
    );
    for bad in [
        json!({}),
        json!({"label": 7}),
        json!({"label": "a", "extra": 1}),
    ] {
        let r = rename(&env.state, &token, &current, bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
}
