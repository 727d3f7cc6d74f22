//! Domain events, end to end against Dynoxide's table streams: each route's write becomes its
//! events through the relay (the local stack's publisher, running the deployed publisher's
//! decoding), with who did it and why; and neither a function nor a publisher killed after a
//! write loses an event.

use api_tests::{CHROME_WINDOWS, Checkpoint, TestApp, TestEnv, now};
use shared::domain::EndReason;
use shared::error::BoxError;
use shared::events::Envelope;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, USER_ID};
use shared::testkit::relay::{Relay, Sink};

/// Keeps what it is given.
#[derive(Default)]
struct Collected(Vec<Envelope>);

impl Sink for Collected {
    fn deliver(&mut self, events: &[Envelope]) -> Result<(), BoxError> {
        self.0.extend_from_slice(events);
        Ok(())
    }
}

/// A checkpoint file of this test's own, removed when dropped: kept as long as its relay.
fn checkpoint(name: &str) -> Checkpoint {
    Checkpoint::new(&format!("events-{name}"))
}

/// Everything the relay delivers from its checkpoint on.
async fn next(relay: &Relay) -> Vec<Envelope> {
    let mut sink = Collected::default();
    relay.poll(&mut sink).await.unwrap();
    sink.0
}

fn of<'a>(events: &'a [Envelope], kind: &str) -> Vec<&'a Envelope> {
    events.iter().filter(|e| e.kind() == kind).collect()
}

fn json(e: &Envelope) -> serde_json::Value {
    serde_json::to_value(e).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_tell_when_they_start_and_who_ended_them_why() {
    let env = TestEnv::seeded().await;
    let kept = checkpoint("sessions");
    let relay = env.relay(&kept).await;
    let seeded = next(&relay).await;
    // The demo data is the operator's doing, not the users'.
    let created = of(&seeded, "user.created");
    assert_eq!(created.len(), 4, "the demo users");
    assert!(
        created
            .iter()
            .all(|e| json(e)["actor"] == serde_json::json!({"type": "system"}))
    );
    let factor = json(of(&seeded, "user.mfa_enabled")[0]);
    assert_eq!(factor["user_id"], 2);
    assert_eq!(factor["actor"]["type"], "system");
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);

    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let r = app
        .admin_revoke_session(&admin.access, "74", &jane.session)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let events = next(&relay).await;
    let created = of(&events, "session.created");
    assert_eq!(created.len(), 2);
    let mine = json(created[0]);
    assert_eq!(mine["user_id"], 74);
    assert_eq!(mine["session_id"], jane.session.as_str());
    assert_eq!(
        mine["actor"],
        serde_json::json!({"type": "user", "user_id": 74})
    );
    assert_eq!(mine["data"]["browser"], "Chrome");
    assert_eq!(mine["data"]["amr"], serde_json::json!(["pwd"]));
    let ended = of(&events, "session.ended");
    assert_eq!(ended.len(), 1);
    let ended = json(ended[0]);
    assert_eq!(ended["session_id"], jane.session.as_str());
    assert_eq!(ended["data"]["reason"], "admin");
    assert_eq!(ended["data"]["ended_by"], "admin");
    assert_eq!(
        ended["actor"],
        serde_json::json!({"type": "admin", "user_id": 1})
    );
    assert_eq!(ended["version"], 1);
    // Each event once: nothing is delivered twice by a relay that was not stopped.
    assert!(next(&relay).await.is_empty());

    // Signing out is the user's own.
    let again = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    assert_eq!(app.logout(&again.access).await.status, 204);
    let events = next(&relay).await;
    let ended = json(of(&events, "session.ended")[0]);
    assert_eq!(ended["data"]["reason"], "logout");
    assert_eq!(ended["data"]["ended_by"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_refresh_token_caught_is_an_event_of_its_own() {
    let env = TestEnv::seeded().await;
    let kept = checkpoint("theft");
    let relay = env.relay(&kept).await;
    next(&relay).await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    assert_eq!(app.refresh(&jane.refresh).await.status, 200);
    // Past the grace window, the first token comes back: the family is stolen.
    let store = &env.state.store;
    let mut s = store
        .get_session(USER_ID, &jane.session)
        .await
        .unwrap()
        .unwrap();
    s.refresh_rotated_at = Some(now() - 60);
    env.put_session(&s).await;
    app.refresh(&jane.refresh)
        .await
        .assert_error(401, "refresh_token_reused");

    let events = next(&relay).await;
    let theft = of(&events, "session.theft_detected");
    assert_eq!(theft.len(), 1, "{events:?}");
    assert_eq!(json(theft[0])["session_id"], jane.session.as_str());
    assert_eq!(json(theft[0])["actor"]["type"], "system");
    let ended = json(of(&events, "session.ended")[0]);
    assert_eq!(ended["data"]["reason"], "refresh_token_reuse");
    assert_eq!(ended["data"]["ended_by"], "system");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_changes_say_who_made_them() {
    let env = TestEnv::seeded().await;
    let kept = checkpoint("users");
    let relay = env.relay(&kept).await;
    next(&relay).await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);

    // A sign-up is the user's own doing.
    let r = app
        .register(
            serde_json::json!({"email": "new@example.com", "password": "a long enough secret"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let new_id = r.body["user_id"].as_u64().unwrap();
    let events = next(&relay).await;
    let created = json(of(&events, "user.created")[0]);
    assert_eq!(
        created["actor"],
        serde_json::json!({"type": "user", "user_id": new_id})
    );

    // The user changes their password: every other session ends.
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let other = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let r = app
        .change_password(&jane.access, DEMO_PASSWORD, "a-new-password-456")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = next(&relay).await;
    let changed = json(of(&events, "user.password_changed")[0]);
    assert_eq!(changed["user_id"], 74);
    assert_eq!(
        changed["actor"],
        serde_json::json!({"type": "user", "user_id": 74})
    );
    let all = json(of(&events, "user.sessions_ended")[0]);
    assert_eq!(all["data"]["reason"], EndReason::PasswordChanged.as_str());
    // The sweep's marks: each superseded session ended, the caller's kept.
    let ended: Vec<serde_json::Value> =
        of(&events, "session.ended").into_iter().map(json).collect();
    assert!(
        ended
            .iter()
            .any(|e| e["session_id"] == other.session.as_str())
    );
    assert!(
        ended
            .iter()
            .all(|e| e["session_id"] != jane.session.as_str())
    );
    assert!(
        ended
            .iter()
            .all(|e| e["data"]["reason"] == "password_changed")
    );

    // An administrator promotes, then disables, another user.
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    let r = app
        .update_user(&admin.access, "75", serde_json::json!({"role": "admin"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .update_user(&admin.access, "75", serde_json::json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = next(&relay).await;
    let by_admin = serde_json::json!({"type": "admin", "user_id": ADMIN_ID.get()});
    let role = json(of(&events, "user.role_changed")[0]);
    assert_eq!(role["user_id"], 75);
    assert_eq!(
        role["data"],
        serde_json::json!({"from": "user", "to": "admin"})
    );
    assert_eq!(role["actor"], by_admin);
    let disabled = json(of(&events, "user.disabled")[0]);
    assert_eq!(disabled["actor"], by_admin);
    let all = json(of(&events, "user.sessions_ended")[0]);
    assert_eq!(all["data"]["reason"], "user_disabled");
    assert_eq!(all["data"]["ended_by"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_throttled_is_told_once_when_it_is_first_refused() {
    let env = TestEnv::seeded_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    let kept = checkpoint("throttle");
    let relay = env.relay(&kept).await;
    next(&relay).await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    // Two typos and then the right password fill the counter: nobody was refused.
    app.login("jane@example.com", "not-the-password").await;
    app.login("jane@example.com", "not-the-password").await;
    app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    assert!(of(&next(&relay).await, "signin.throttled").is_empty());
    // Someone guessing: the fourth and fifth attempts are refused, told once.
    for _ in 0..5 {
        app.login("sam@example.com", "not-the-password").await;
    }
    let events = next(&relay).await;
    let throttled = of(&events, "signin.throttled");
    assert_eq!(throttled.len(), 1, "{events:?}");
    let t = json(throttled[0]);
    assert_eq!(t["data"]["email"], "sam@example.com");
    assert_eq!(t["data"]["scope"], "client");
    assert_eq!(t["data"]["attempts"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_dies_right_after_its_write_loses_no_event() {
    let env = TestEnv::seeded().await;
    let kept = checkpoint("writer");
    let relay = env.relay(&kept).await;
    next(&relay).await;
    let (session, _) = env.login(USER_ID, shared::domain::Role::User).await;
    // The write, and nothing after it: no audit line, no response, no publish call. This is
    // all a function killed after its write leaves behind.
    let policy = env.state.config.sessions;
    let write = env.state.store.end_session(
        USER_ID,
        &session.session_id,
        USER_ID,
        EndReason::Logout,
        now(),
        &policy,
    );
    write.await.unwrap();
    let events = next(&relay).await;
    let ended = of(&events, "session.ended");
    assert_eq!(ended.len(), 1);
    assert_eq!(json(ended[0])["session_id"], session.session_id.as_str());
}

/// Delivers until it has delivered `budget` pages, then dies: with an error before taking the
/// page, or (`after`) by panicking after taking it, before the relay records it. What it took
/// is kept outside it, as a bus keeps what it was sent.
struct Dying {
    taken: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    budget: usize,
    after: bool,
}

impl Sink for Dying {
    fn deliver(&mut self, events: &[Envelope]) -> Result<(), BoxError> {
        if self.budget == 0 && !self.after {
            return Err("killed before delivering".into());
        }
        let ids = events.iter().map(|e| e.id.clone());
        self.taken.lock().unwrap().extend(ids);
        if self.budget == 0 {
            panic!("killed after delivering, before the checkpoint");
        }
        self.budget -= 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_killed_anywhere_delivers_every_event_on_restart_with_the_same_ids() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    app.logout(&jane.access).await;
    app.login("sam@example.com", "not-the-password").await;
    // What a publisher that never dies delivers.
    let truth: Vec<String> = next(&env.relay(&checkpoint("truth")).await)
        .await
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert!(truth.len() > 10, "{truth:?}");
    let want: std::collections::BTreeSet<&String> = truth.iter().collect();

    // Killed before or after each page in turn, then restarted from its checkpoint.
    for budget in 0..4 {
        for after in [false, true] {
            let path = checkpoint("killed");
            let relay = env.relay(&path).await;
            let taken = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let mut sink = Dying {
                taken: taken.clone(),
                budget,
                after,
            };
            // Dies with an error or a panic (or finishes, with fewer pages than its budget).
            let _ = tokio::spawn(async move { relay.poll(&mut sink).await.map(|_| ()) }).await;
            let before = taken.lock().unwrap().clone();
            let restarted = next(&env.relay(&path).await).await;
            let mut seen: Vec<String> = before;
            seen.extend(restarted.iter().map(|e| e.id.clone()));
            let got: std::collections::BTreeSet<&String> = seen.iter().collect();
            assert_eq!(got, want, "killed after {budget} pages (after: {after})");
            assert!(next(&env.relay(&path).await).await.is_empty());
        }
    }
}
