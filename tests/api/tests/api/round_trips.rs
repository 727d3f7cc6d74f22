//! DynamoDB requests and sequential round trips per route, counted by an SDK interceptor on
//! the handlers' own client: the latency budget as a test, not a timer. A request that starts
//! before another one ends shares its round trip (they were awaited together). The client's
//! connector holds every response for a few milliseconds, as a network would: against an
//! in-process DynamoDB a request can otherwise finish before its sibling is even polled.

use api_tests::{Reply, TestApp, TestEnv};
use aws_sdk_dynamodb::config::http::HttpRequest;
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use shared::domain::Role;
use shared::testkit::demo::{
    ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID, TOTP_ADMIN_EMAIL, USER_ID, demo_totp_code,
};
use shared::testkit::trips::{Recorder, Trip, instrument_with, sequential};
use shared::{AppState, Store};
use std::time::Duration;

/// What the connector adds to every response.
const LATENCY: Duration = Duration::from_millis(30);

/// A client whose responses arrive `LATENCY` late.
#[derive(Debug, Clone)]
struct Late(SharedHttpClient);

impl HttpClient for Late {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LateConnector(self.0.http_connector(settings, components)))
    }
}

#[derive(Debug)]
struct LateConnector(SharedHttpConnector);

impl HttpConnector for LateConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.0.clone();
        HttpConnectorFuture::new(async move {
            let response = inner.call(request).await;
            tokio::time::sleep(LATENCY).await;
            response
        })
    }
}

/// The handlers' state with the recorder on a client whose responses come late.
fn instrumented(env: &TestEnv) -> (AppState, Recorder) {
    let recorder = Recorder::default();
    (late(env, recorder.clone()), recorder)
}

/// `env`'s state with `recorder` on a client whose responses come late.
fn late(env: &TestEnv, recorder: Recorder) -> AppState {
    let state = instrument_with(&env.state, recorder.clone());
    let config = state.store.client().config();
    // Plain HTTP to the local DynamoDB: the default client without TLS.
    let inner = aws_smithy_http_client::Builder::new().build_http();
    let client =
        aws_sdk_dynamodb::Client::from_conf(config.to_builder().http_client(Late(inner)).build());
    let wire = shared::store::dynamodb_wire(&state.sdk, &client, &state.config.dynamodb)
        .expect("wire")
        .observed(std::sync::Arc::new(recorder));
    let mut late = state.clone();
    late.store = Store::new(client, wire, state.store.tables().clone());
    late
}

fn ops(trips: &[Trip]) -> Vec<&'static str> {
    let mut sorted = trips.to_vec();
    sorted.sort_by_key(|t| t.start);
    sorted.iter().map(|t| t.op).collect()
}

async fn measure<F, Fut>(recorder: &Recorder, call: F) -> (Reply, Vec<Trip>)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    recorder.take();
    let reply = call().await;
    (reply, recorder.take())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_take_one_round_trip() {
    let env = TestEnv::seeded().await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let (mine, user) = env.login(PLAIN_USER_ID, Role::User).await;
    let jane = USER_ID.to_string();

    let (r, trips) = measure(&recorder, || app.get_user_sessions(&admin, &jane, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sequential(&trips), 1, "admin listing: {:?}", ops(&trips));
    assert_eq!(
        ops(&trips),
        ["BatchGetItem", "Query"],
        "caller's session and user, target user (one consistent batch), page"
    );

    let (r, trips) = measure(&recorder, || app.list_my_sessions(&user, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sequential(&trips), 1, "my sessions: {:?}", ops(&trips));

    // At most once a minute per session the activity write follows the reads: the one
    // request that takes a second round trip.
    let mut stale = mine.clone();
    stale.last_activity -= 120;
    env.state.store.replace_session(&stale).await.unwrap();
    let (r, trips) = measure(&recorder, || app.list_my_sessions(&user, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sequential(&trips), 2, "{:?}", ops(&trips));
    assert_eq!(ops(&trips).last(), Some(&"UpdateItem"));
    let (_, trips) = measure(&recorder, || app.list_my_sessions(&user, "")).await;
    assert_eq!(sequential(&trips), 1, "written once: {:?}", ops(&trips));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_ends_a_session_in_one_round_trip() {
    let env = TestEnv::seeded().await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let (target, _) = env.login(USER_ID, Role::User).await;
    let jane = USER_ID.to_string();
    let (r, trips) = measure(&recorder, || {
        app.admin_revoke_session(&admin, &jane, &target.session_id)
    })
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(ops(&trips), ["TransactWriteItems"]);
    // Again: already ended, still 204, still one round trip.
    let (r, trips) = measure(&recorder, || {
        app.admin_revoke_session(&admin, &jane, &target.session_id)
    })
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(sequential(&trips), 1);
    // A session that does not exist: 404 in one round trip.
    let missing = "A".repeat(27);
    let (r, trips) = measure(&recorder, || {
        app.admin_revoke_session(&admin, &jane, &missing)
    })
    .await;
    r.assert_error(404, "session_not_found");
    assert_eq!(sequential(&trips), 1);
    // A plain user's token falls back to the reads, which say 403.
    let (_, user) = env.login(PLAIN_USER_ID, Role::User).await;
    app.admin_revoke_session(&user, &jane, &target.session_id)
        .await
        .assert_error(403, "admin_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_second_factor_policy_an_aal2_admin_still_ends_a_session_in_one_round_trip() {
    let env = TestEnv::seeded_with(&[("ADMIN_REQUIRES_AAL2", "true")]).await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let code = serde_json::json!({"code": demo_totp_code(api_tests::now()).unwrap()});
    let aal2 = app
        .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, code)
        .await
        .access;
    let (target, _) = env.login(USER_ID, Role::User).await;
    let jane = USER_ID.to_string();
    let (r, trips) = measure(&recorder, || {
        app.admin_revoke_session(&aal2, &jane, &target.session_id)
    })
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The second factor is a condition of the one transaction, not another read.
    assert_eq!(ops(&trips), ["TransactWriteItems"]);
    // A password-only admin session fails that condition and the reads say why.
    let (other, _) = env.login(USER_ID, Role::User).await;
    let (_, aal1) = env.login(ADMIN_ID, Role::Admin).await;
    let (r, trips) = measure(&recorder, || {
        app.admin_revoke_session(&aal1, &jane, &other.session_id)
    })
    .await;
    r.assert_error(403, "mfa_required");
    assert_eq!(ops(&trips), ["TransactWriteItems", "BatchGetItem"]);
    let kept = env
        .state
        .store
        .get_session(USER_ID, &other.session_id)
        .await
        .unwrap();
    assert!(kept.unwrap().revoked_at.is_none(), "nothing ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_authenticating_with_a_code_takes_four_round_trips() {
    let env = TestEnv::seeded().await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let recovery = serde_json::json!({"recovery_code": "demoa-codes"});
    let token = app
        .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, recovery)
        .await
        .access;
    let code = demo_totp_code(api_tests::now()).unwrap();
    let proof = serde_json::json!({"password": DEMO_PASSWORD, "code": code});
    let (r, trips) = measure(&recorder, || app.reauthenticate_with(&token, proof.clone())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The caller; the attempt reserved while the factor is read; the code used; the session
    // moved on while the count is cleared.
    assert_eq!(sequential(&trips), 4, "{:?}", ops(&trips));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_own_factor_takes_two_round_trips() {
    let env = TestEnv::seeded().await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let recovery = serde_json::json!({"recovery_code": "demoa-codes"});
    let token = app.sign_in_totp_admin(recovery).await.access;
    // The caller (session and user, the factor's presence with it), then one conditional
    // write: no read of the factor before it.
    let (r, trips) = measure(&recorder, || app.regenerate_recovery_codes(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ops(&trips), ["BatchGetItem", "UpdateItem"]);
    let (r, trips) = measure(&recorder, || app.remove_totp(&token)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(ops(&trips), ["BatchGetItem", "UpdateItem"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_takes_at_most_three_round_trips_and_refresh_two() {
    for limit in ["0", "5"] {
        let env = TestEnv::seeded_with(&[("SESSION_LIMIT", limit)]).await;
        let (state, recorder) = instrumented(&env);
        let app = TestApp::new(&state);
        let (r, trips) = measure(&recorder, || app.login("sam@example.com", DEMO_PASSWORD)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            sequential(&trips) <= 3,
            "limit {limit}: {} round trips: {:?}",
            sequential(&trips),
            ops(&trips)
        );
        let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
        let (r, trips) = measure(&recorder, || app.refresh(&refresh)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // The rotation reads what it depends on (session, user, epochs) before it commits, so
        // that nothing but signing can fail after the old token stopped working.
        assert_eq!(sequential(&trips), 2, "refresh: {:?}", ops(&trips));
        assert_eq!(ops(&trips), ["BatchGetItem", "UpdateItem"]);
    }
}

/// A clock that moves one second each time it is read.
fn ticks() -> Duration {
    static TICKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    Duration::from_secs(TICKS.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
}

/// The benchmark tells a handler's own CPU from the SDK's by reading the thread's clock when
/// the first request starts and the last one ends: requests awaited together are one span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_is_read_around_each_round_trip() {
    let env = TestEnv::seeded().await;
    let recorder = Recorder::with_clock(ticks);
    let state = late(&env, recorder.clone());
    let app = TestApp::new(&state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let (_, user) = env.login(PLAIN_USER_ID, Role::User).await;
    let jane = USER_ID.to_string();

    recorder.take_inside();
    let (r, trips) = measure(&recorder, || app.get_user_sessions(&admin, &jane, "")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(trips.len(), 2);
    // Two requests in one round trip: one span, the clock read at its two ends.
    assert_eq!(recorder.take_inside(), Duration::from_secs(1));

    // Sign-out: the caller's session and user read together, then the session ended.
    let (r, trips) = measure(&recorder, || app.logout(&user)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(sequential(&trips), 2, "{:?}", ops(&trips));
    assert_eq!(recorder.take_inside(), Duration::from_secs(2));
    assert_eq!(recorder.take_inside(), Duration::ZERO, "taken");
}

/// Requests and sequential round trips of the routes that read a user's sessions, for a user
/// with 20 active sessions and `ended` ended ones still retained.
async fn costs_with_history(ended: usize) -> Vec<(&'static str, usize, usize)> {
    let env = TestEnv::seeded_with(&[("SESSION_LIMIT", "40")]).await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let mut template = None;
    for _ in 0..20 {
        let (session, _) = env.login(USER_ID, Role::User).await;
        env.age_session(USER_ID, &session.session_id, 120).await;
        template = Some(session);
    }
    let template = template.unwrap();
    // Ended a moment ago and active until then, more recently than the active ones: nothing
    // about them but their end tells them from the active ones.
    let now = api_tests::now();
    let history: Vec<_> = (0..ended)
        .map(|_| {
            let mut s = template.clone();
            s.session_id = shared::domain::ids::new_session_id().unwrap();
            s.last_activity = now - 5;
            s.revoked_at = Some(now - 5);
            s.revoked_by = Some(USER_ID.get());
            s.revoked_reason = Some(shared::domain::EndReason::Logout);
            s
        })
        .collect();
    env.put_sessions(&history).await;
    // Signed in now, not before the history was written (which can take longer than the
    // activity write interval): its first request never also records its activity.
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;

    let jane = USER_ID.to_string();
    let mut costs = Vec::new();
    let mut record = |name, trips: Vec<Trip>| costs.push((name, trips.len(), sequential(&trips)));
    let (r, trips) = measure(&recorder, || {
        app.get_user_sessions(&admin, &jane, "limit=10")
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.as_array().map(Vec::len), Some(10));
    record("admin listing, first page", trips);
    let (r, trips) = measure(&recorder, || app.login("jane@example.com", DEMO_PASSWORD)).await;
    let signed = r.signed();
    record("sign-in under a session limit", trips);
    let (r, trips) = measure(&recorder, || {
        app.list_my_sessions(&signed.access, "limit=10")
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    record("my sessions, first page", trips);
    let (r, trips) = measure(&recorder, || {
        app.revoke_other_sessions(&signed.access, "scope=others")
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["revoked"].as_u64() >= Some(20), "{}", r.body);
    record("end my other sessions", trips);
    for _ in 0..20 {
        env.login(USER_ID, Role::User).await;
    }
    let (r, trips) = measure(&recorder, || app.admin_revoke_user_sessions(&admin, &jane)).await;
    assert!(
        r.status == 200 || r.status == 204,
        "{} {}",
        r.status,
        r.body
    );
    record("admin ends every session", trips);
    costs
}

/// A user's history of ended sessions costs nothing: with 10,000 of them retained, the
/// listings, a sign-in under the session limit and both ways of ending sessions send the same
/// requests, in the same round trips, as with none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_follows_active_sessions_not_history() {
    let without = costs_with_history(0).await;
    let with = costs_with_history(10_000).await;
    assert_eq!(
        with, without,
        "(route, requests, round trips) with 10,000 ended sessions"
    );
}

/// Live-index reads come a page of 250 sessions at a time (a page's whole items stay small in
/// a 128 MB function): a user with more live sessions than a page loses none of them to the
/// paging. Over 600 live sessions: the admin listing sees every one, and ending them all
/// reads three pages and ends every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sessions_beyond_one_page_are_all_read_and_ended() {
    let env = TestEnv::seeded().await;
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let (template, _) = env.login(USER_ID, Role::User).await;
    let now = api_tests::now();
    let live: Vec<_> = (0..599)
        .map(|i| {
            let mut s = template.clone();
            s.session_id = shared::domain::ids::new_session_id().unwrap();
            s.last_activity = now - 1 - i;
            s
        })
        .collect();
    env.put_sessions(&live).await;
    // The demo's own sessions of the user besides.
    let total = env.active_sessions(USER_ID).await;
    assert!((600..750).contains(&total), "{total}");

    let jane = USER_ID.to_string();
    let mut listed = std::collections::HashSet::new();
    let mut query = "limit=100".to_owned();
    loop {
        let r = app.get_user_sessions(&admin, &jane, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for s in r.body.as_array().unwrap() {
            assert!(
                listed.insert(s["id"].as_str().unwrap().to_owned()),
                "listed twice"
            );
        }
        match r.header("x-next-cursor") {
            Some(c) => query = format!("limit=100&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), total, "every live session listed");

    let (r, trips) = measure(&recorder, || app.admin_revoke_user_sessions(&admin, &jane)).await;
    assert!(
        r.status == 200 || r.status == 204,
        "{} {}",
        r.status,
        r.body
    );
    let queries = trips.iter().filter(|t| t.op == "Query").count();
    assert_eq!(queries, 3, "pages of 250: {:?}", ops(&trips));
    assert_eq!(env.active_sessions(USER_ID).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_history_that_ttl_has_not_deleted_costs_no_request_per_entry() {
    use shared::domain::activity::{Activity, at_id};
    use shared::domain::end_reason::EndedBy;
    let env = TestEnv::seeded().await;
    let now = api_tests::now();
    // Five live entries, then sixty past their retention that TTL has not deleted yet.
    let entry = |i: i64, ttl: i64| {
        let id = format!("e{i}-session.created");
        Activity {
            user_id: PLAIN_USER_ID,
            at_id: at_id(now - i, &id),
            id,
            kind: "session.created".to_owned(),
            time: now - i,
            session_id: None,
            actor_type: EndedBy::System,
            actor_user_id: None,
            data: serde_json::json!({}),
            ttl,
        }
    };
    let history: Vec<Activity> = (1..=65)
        .map(|i| entry(i, if i <= 5 { now + 3600 } else { now - 10 }))
        .collect();
    env.state.store.record_activity(&history).await.unwrap();
    let (state, recorder) = instrumented(&env);
    let app = TestApp::new(&state);
    let (_, admin) = env.login(ADMIN_ID, Role::Admin).await;
    let sam = PLAIN_USER_ID.to_string();
    let (r, trips) = measure(&recorder, || app.get_user_activity(&admin, &sam, "limit=5")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.as_array().unwrap().len(), 5, "{}", r.body);
    assert!(
        r.header("x-next-cursor").is_none(),
        "the expired ones are no next page"
    );
    let queries = trips.iter().filter(|t| t.op == "Query").count();
    assert!(queries <= 2, "{queries} queries: {:?}", ops(&trips));
}
