//! The attacks that once got through, each as it was tried from outside, now failing: stale
//! refresh tokens, sessions outliving a password change, an unthrottled password oracle, a
//! check-then-act throttle, step-up side-stepped, malicious lockout, spoofing text, and two
//! admins demoting each other. Real handlers, in process and in parallel, against Dynoxide.

use api_tests::{Reply, TestApp, TestEnv, now};
use serde_json::{Value, json};
use shared::AppState;
use shared::domain::{EndReason, Role};
use shared::services::accounts::{NewUser, create_user};
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID};

const SAM: &str = "sam@example.com";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const OWNER_IP: &str = "198.51.100.20";
const ATTACKER_IP: &str = "203.0.113.66";

/// The owner's browser; `.from_ip` for anyone else's.
fn client(s: &AppState) -> TestApp<'_> {
    TestApp::new(s).with_user_agent(UA).from_ip(OWNER_IP)
}

async fn login(s: &AppState, email: &str, password: &str, ip: &str) -> Reply {
    client(s).from_ip(ip).login(email, password).await
}

async fn refresh(s: &AppState, token: &str) -> Reply {
    client(s).refresh(token).await
}

async fn my_sessions(s: &AppState, token: &str) -> Reply {
    client(s).list_my_sessions(token, "").await
}

async fn change_password(s: &AppState, token: &str, current: &str, new: &str, ip: &str) -> Reply {
    client(s)
        .from_ip(ip)
        .change_password(token, current, new)
        .await
}

async fn reauthenticate(s: &AppState, token: &str, password: &str) -> Reply {
    client(s).reauthenticate(token, password).await
}

async fn end_one(s: &AppState, token: &str, session_id: &str) -> Reply {
    client(s).revoke_my_session(token, session_id).await
}

/// A successful sign-in's tokens.
struct Signed {
    access: String,
    refresh: String,
    session: String,
}

fn signed(r: &Reply) -> Signed {
    assert_eq!(r.status, 200, "{}", r.body);
    Signed {
        access: r.body["access_token"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
        session: r.body["session"]["id"].as_str().unwrap().to_owned(),
    }
}

/// Whether anything of a session still works: its access token, or its refresh token.
async fn usable(s: &AppState, who: &Signed) -> bool {
    my_sessions(s, &who.access).await.status == 200 || refresh(s, &who.refresh).await.status == 200
}

// ------------------------------------------------------------------ 1. refresh families

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_earlier_generation_of_a_refresh_token_ends_the_session() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let first = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let second = refresh(s, &first.refresh).await;
    let rt1 = second.body["refresh_token"].as_str().unwrap().to_owned();
    let third = refresh(s, &rt1).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let rt2 = third.body["refresh_token"].as_str().unwrap().to_owned();
    let access2 = third.body["access_token"].as_str().unwrap().to_owned();

    // The thief rotated twice; the owner's sign-in token is two generations old: stolen, even
    // inside the grace window (only the immediately previous one is spared there).
    refresh(s, &first.refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    refresh(s, &rt2).await.assert_error(401, "session_ended");
    my_sessions(s, &access2)
        .await
        .assert_error(401, "session_ended");
    let stored = s
        .store
        .get_session(PLAIN_USER_ID, &first.session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_reason, Some(EndReason::RefreshTokenReuse));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_generation_after_the_grace_window_ends_the_session() {
    let env = TestEnv::seeded_with(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    let s = &env.state;
    let first = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let next = refresh(s, &first.refresh).await;
    let rt1 = next.body["refresh_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    refresh(s, &first.refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    refresh(s, &rt1).await.assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_response_is_no_false_alarm() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let first = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    // The rotation commits, its response is lost; the client retries with what it holds.
    let lost = refresh(s, &first.refresh).await;
    assert_eq!(lost.status, 200);
    refresh(s, &first.refresh)
        .await
        .assert_error(409, "refresh_token_rotated");
    refresh(s, &first.refresh)
        .await
        .assert_error(409, "refresh_token_rotated");
    // The session lives: its access token works, and the rotated token refreshes.
    assert_eq!(my_sessions(s, &first.access).await.status, 200);
    let rt1 = lost.body["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(s, rt1).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_that_does_not_verify_never_ends_a_session() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let victim = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let rotated = refresh(s, &victim.refresh).await;
    let current = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    // The ids are readable in any access token; the attacker makes up the rest, for every
    // generation, and also tries their own token's MAC on the victim's session.
    let attacker = signed(&login(s, "jane@example.com", DEMO_PASSWORD, ATTACKER_IP).await);
    let own_mac = attacker.refresh.rsplit('.').next().unwrap().to_owned();
    let mut forged: Vec<String> = (0..4)
        .map(|g| {
            format!(
                "rt2.{PLAIN_USER_ID}.{}.{g}.{}",
                victim.session,
                "A".repeat(43)
            )
        })
        .collect();
    forged.push(format!(
        "rt2.{PLAIN_USER_ID}.{}.0.{own_mac}",
        victim.session
    ));
    forged.push(format!(
        "rt2.{PLAIN_USER_ID}.{}.1.{own_mac}",
        victim.session
    ));
    forged.push(format!(
        "rt1.{PLAIN_USER_ID}.{}.{}",
        victim.session,
        "A".repeat(43)
    ));
    for token in &forged {
        refresh(s, token)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    assert_eq!(refresh(s, &current).await.status, 200, "the session lives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_generation_have_one_successor() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let first = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (s, token) = (s.clone(), first.refresh.clone());
        tasks.spawn(async move { refresh(&s, &token).await });
    }
    let mut ok = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        match r.status {
            200 => ok.push(r.body["refresh_token"].as_str().unwrap().to_owned()),
            409 => r.assert_error(409, "refresh_token_rotated"),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(ok.len(), 1, "exactly one successor");
    assert_eq!(refresh(s, &ok[0]).await.status, 200);
}

// ------------------------------------------------------- 2. the credential epoch

/// What ends every session of SAM at once, raced by sign-ins.
#[derive(Debug, Clone, Copy)]
enum Mass {
    PasswordChange,
    Disable,
    EndOthers,
    AdminEndsAll,
}

/// Signs SAM in `n` times at once while `action` runs, `rounds` times over: afterwards no
/// session that existed before the action is usable, nor (for a password change or a disable)
/// any made with the old password while it ran.
async fn race_sign_ins_against(action: Mass) {
    let env = TestEnv::seeded_with(&[("LOGIN_MAX_FAILURES", "100")]).await;
    let s = &env.state;
    let mut password = DEMO_PASSWORD.to_owned();
    for round in 0..3 {
        let before = signed(&login(s, SAM, &password, OWNER_IP).await);
        let actor = signed(&login(s, SAM, &password, OWNER_IP).await);
        let admin = signed(&login(s, "admin@example.com", DEMO_PASSWORD, OWNER_IP).await);
        let new_password = format!("a brand new secret {round}");
        let mut tasks = tokio::task::JoinSet::new();
        // Sign-ins spread over the action's whole run, so that some read the user before it
        // commits and store their session after it has swept.
        for i in 0..10 {
            let (s, pw) = (s.clone(), password.clone());
            tasks.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(4 * i)).await;
                (true, login(&s, SAM, &pw, OWNER_IP).await)
            });
        }
        let (st, act, adm, pw, npw) = (
            s.clone(),
            actor.access.clone(),
            admin.access.clone(),
            password.clone(),
            new_password.clone(),
        );
        tasks.spawn(async move {
            let r = match action {
                Mass::PasswordChange => change_password(&st, &act, &pw, &npw, OWNER_IP).await,
                Mass::EndOthers => {
                    client(&st)
                        .revoke_other_sessions(&act, "scope=others")
                        .await
                }
                Mass::Disable => {
                    let body = json!({"disabled": true});
                    let user = PLAIN_USER_ID.to_string();
                    client(&st).update_user(&adm, &user, body).await
                }
                Mass::AdminEndsAll => {
                    let user = PLAIN_USER_ID.to_string();
                    client(&st).admin_revoke_user_sessions(&adm, &user).await
                }
            };
            (false, r)
        });
        let mut during = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (is_login, r) = done.unwrap();
            if !is_login {
                assert_eq!(r.status, 200, "{action:?}: {}", r.body);
            } else if r.status == 200 {
                during.push(signed(&r));
            } else {
                assert!(
                    matches!(r.status, 401 | 403),
                    "{action:?}: sign-in {}",
                    r.body
                );
            }
        }
        assert!(
            !usable(s, &before).await,
            "{action:?} round {round}: a session from before"
        );
        let dead_during = matches!(action, Mass::PasswordChange | Mass::Disable);
        for session in &during {
            if dead_during {
                assert!(
                    !usable(s, session).await,
                    "{action:?} round {round}: a sign-in with the old credentials"
                );
            }
        }
        match action {
            Mass::PasswordChange => {
                assert_eq!(
                    my_sessions(s, &actor.access).await.status,
                    200,
                    "the current one stays"
                );
                password = new_password;
            }
            Mass::EndOthers => {
                assert_eq!(
                    my_sessions(s, &actor.access).await.status,
                    200,
                    "the current one stays"
                );
            }
            Mass::Disable => {
                assert!(!usable(s, &actor).await);
                login(s, SAM, &password, OWNER_IP)
                    .await
                    .assert_error(403, "account_disabled");
                env.update_user(PLAIN_USER_ID, "user", false).await;
            }
            Mass::AdminEndsAll => assert!(!usable(s, &actor).await),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_of_the_old_password_survives_a_password_change() {
    race_sign_ins_against(Mass::PasswordChange).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_session_survives_disabling_the_user() {
    race_sign_ins_against(Mass::Disable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_earlier_session_survives_ending_all_others() {
    race_sign_ins_against(Mass::EndOthers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_earlier_session_survives_an_admin_ending_them_all() {
    race_sign_ins_against(Mass::AdminEndsAll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_does_not_come_back_when_the_idle_timeout_grows() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let idle = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let owner = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let mut item = s
        .store
        .get_session(PLAIN_USER_ID, &idle.session)
        .await
        .unwrap()
        .unwrap();
    item.last_activity = now() - s.config.sessions.idle_timeout_seconds - 60;
    env.put_session(&item).await;
    let r = change_password(
        s,
        &owner.access,
        DEMO_PASSWORD,
        "a brand new secret",
        OWNER_IP,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // An operator doubles the idle timeout: the old session's last activity is recent again.
    let mut vars = api_tests::env_for(&env.endpoint);
    vars.insert("SESSION_IDLE_TIMEOUT_SECONDS".into(), "2419200".into());
    let longer = api_tests::state_for(&vars)
        .await
        .with_signer(shared::tokens::keys::dev_signing_key())
        .unwrap()
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
    my_sessions(&longer, &idle.access)
        .await
        .assert_error(401, "session_ended");
    refresh(&longer, &idle.refresh)
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_every_session_of_every_user_takes_one_write() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let sam = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let admin = signed(&login(s, "admin@example.com", DEMO_PASSWORD, OWNER_IP).await);
    s.store.end_every_session().await.unwrap();
    // The functions' copy of the global epoch is at most this old.
    tokio::time::sleep(shared::store::GLOBAL_EPOCH_MAX_AGE).await;
    for who in [&sam, &admin] {
        my_sessions(s, &who.access)
            .await
            .assert_error(401, "session_ended");
        refresh(s, &who.refresh)
            .await
            .assert_error(401, "session_ended");
    }
    // Signing in again works, and the listing says why the old ones ended.
    let again = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let list = client(s)
        .list_my_sessions(&again.access, "include_inactive=true")
        .await;
    let old = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == sam.session.as_str())
        .unwrap()
        .clone();
    assert_eq!(old["is_active"], false);
    assert_eq!(old["ended_reason"], "all_sessions_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_sweep_never_ends_a_session_of_a_later_epoch() {
    use shared::store::EpochChange;
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let (store, policy) = (&s.store, &s.config.sessions);
    fn keep(id: &str) -> EpochChange<'_> {
        EpochChange {
            password: None,
            keep: Some(id),
            admin: None,
        }
    }
    // "End all others" from A moves the epoch to 1; its sweep is slow to run.
    let a = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let one = store
        .advance_epoch(PLAIN_USER_ID, 0, keep(&a.session), now(), policy)
        .await
        .unwrap()
        .unwrap();
    // Meanwhile a sign-in (epoch 1) ends all others again, moving the epoch to 2.
    let b = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let two = store
        .advance_epoch(PLAIN_USER_ID, one, keep(&b.session), now(), policy)
        .await
        .unwrap()
        .unwrap();
    // The first sweep runs now: it must not end B, of a later epoch than its own.
    let ended = store
        .end_superseded_sessions(
            PLAIN_USER_ID,
            one,
            PLAIN_USER_ID,
            EndReason::User,
            now(),
            policy,
        )
        .await
        .unwrap();
    assert_eq!(ended, 0);
    assert_eq!(my_sessions(s, &b.access).await.status, 200);
    // The second sweep ends A (epoch 1), still not B.
    let ended = store
        .end_superseded_sessions(
            PLAIN_USER_ID,
            two,
            PLAIN_USER_ID,
            EndReason::User,
            now(),
            policy,
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(my_sessions(s, &b.access).await.status, 200);
    my_sessions(s, &a.access)
        .await
        .assert_error(401, "session_ended");
}

// ------------------------------------------------- 3, 4, 6. the password throttle

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_change_is_no_unthrottled_password_oracle() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let me = signed(&login(s, SAM, DEMO_PASSWORD, ATTACKER_IP).await);
    for _ in 0..5 {
        change_password(
            s,
            &me.access,
            "a wrong guess",
            "a brand new secret",
            ATTACKER_IP,
        )
        .await
        .assert_error(403, "invalid_current_password");
    }
    let r = change_password(
        s,
        &me.access,
        "a wrong guess",
        "a brand new secret",
        ATTACKER_IP,
    )
    .await;
    r.assert_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    // Even the right password now waits, and sign-in from this client shares the count.
    change_password(
        s,
        &me.access,
        DEMO_PASSWORD,
        "a brand new secret",
        ATTACKER_IP,
    )
    .await
    .assert_error(429, "too_many_attempts");
    login(s, SAM, DEMO_PASSWORD, ATTACKER_IP)
        .await
        .assert_error(429, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_throttled_for_sign_in_is_throttled_for_the_password_change_too() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let me = signed(&login(s, SAM, DEMO_PASSWORD, ATTACKER_IP).await);
    for _ in 0..5 {
        login(s, SAM, "a wrong guess", ATTACKER_IP)
            .await
            .assert_error(401, "invalid_credentials");
    }
    change_password(
        s,
        &me.access,
        DEMO_PASSWORD,
        "a brand new secret",
        ATTACKER_IP,
    )
    .await
    .assert_error(429, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_all_count() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let guess_all_at_once = || async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let s = s.clone();
            tasks.spawn(
                async move { login(&s, SAM, &format!("guess number {i}"), ATTACKER_IP).await },
            );
        }
        let (mut wrong, mut throttled) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            match r.status {
                401 => wrong += 1,
                429 => throttled += 1,
                other => panic!("{other}: {}", r.body),
            }
        }
        (wrong, throttled)
    };
    assert_eq!(
        guess_all_at_once().await,
        (5, 15),
        "exactly the limit is tried"
    );
    // A new window, started by many at once, still lets exactly the limit through.
    let key = shared::domain::throttle::client_key(SAM, ATTACKER_IP);
    use aws_sdk_dynamodb::types::AttributeValue;
    s.store
        .client()
        .update_item()
        .table_name(&s.store.tables().user_emails)
        .key("email", AttributeValue::S(key))
        .update_expression("SET window_start = :old")
        .expression_attribute_values(":old", AttributeValue::N((now() - 901).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        guess_all_at_once().await,
        (5, 15),
        "and again in the next window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_knows_the_email_cannot_lock_the_owner_out() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    // The owner signs in from home: that network becomes known to the account.
    let owner = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    // The attacker's own address is locked after five guesses...
    for _ in 0..5 {
        login(s, SAM, "a wrong guess", ATTACKER_IP).await;
    }
    login(s, SAM, DEMO_PASSWORD, ATTACKER_IP)
        .await
        .assert_error(429, "too_many_attempts");
    // ...the owner's is not.
    assert_eq!(login(s, SAM, DEMO_PASSWORD, OWNER_IP).await.status, 200);
    // Spread over many addresses, the guesses reach the account's ceiling: strangers get 429.
    let mut throttled = 0;
    for i in 0..60 {
        let ip = format!("192.0.2.{i}");
        if login(s, SAM, "a wrong guess", &ip).await.status == 429 {
            throttled += 1;
        }
    }
    assert!(
        throttled > 0,
        "the ceiling caps a guessing attack spread over addresses"
    );
    login(s, SAM, DEMO_PASSWORD, "192.0.2.200")
        .await
        .assert_error(429, "too_many_attempts");
    // The owner still signs in from a network the account knows, and re-authenticates in a
    // session it holds.
    assert_eq!(login(s, SAM, DEMO_PASSWORD, OWNER_IP).await.status, 200);
    assert_eq!(
        reauthenticate(s, &owner.access, DEMO_PASSWORD).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_count_per_64() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    for i in 0..5 {
        login(s, SAM, "a wrong guess", &format!("2001:db8:1:2::{i:x}")).await;
    }
    login(s, SAM, DEMO_PASSWORD, "2001:db8:1:2:ffff::1")
        .await
        .assert_error(429, "too_many_attempts");
    assert_eq!(
        login(s, SAM, DEMO_PASSWORD, "2001:db8:1:3::1").await.status,
        200
    );
}

// ------------------------------------------------------------------- 5. step-up

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_token_cannot_end_the_owners_other_sessions_one_by_one() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let stolen = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let other = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);
    let mut item = s
        .store
        .get_session(PLAIN_USER_ID, &stolen.session)
        .await
        .unwrap()
        .unwrap();
    item.auth_time = Some(now() - 3600);
    env.put_session(&item).await;
    end_one(s, &stolen.access, &other.session)
        .await
        .assert_error(401, "reauthentication_required");
    assert!(usable(s, &other).await);
    // The owner confirms their password in that session: the stolen token does not become
    // recent, only what the confirmation issued does.
    let r = reauthenticate(s, &stolen.access, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = r.body["access_token"].as_str().unwrap().to_owned();
    end_one(s, &stolen.access, &other.session)
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(end_one(s, &fresh, &other.session).await.status, 204);
    // Signing out of the current session needs no recent sign-in.
    assert_eq!(
        end_one(s, &stolen.access, &stolen.session).await.status,
        204
    );
}

// ------------------------------------------------------------------------ 7. text

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofing_characters_never_reach_a_listing() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let body = json!({
        "email": SAM,
        "password": DEMO_PASSWORD,
        "device_name": "Work\u{202E}CP\u{200B} \u{2066}laptop\u{2069}",
        "device_type": "mobile"
    });
    let r = client(s).login_with(body).await;
    let me = signed(&r);
    assert_eq!(r.body["session"]["device_name"], "WorkCP laptop");
    assert_eq!(r.body["session"]["device_name_source"], "client");
    let from_ua = signed(&login(s, SAM, DEMO_PASSWORD, OWNER_IP).await);

    let label = |id: &str, label: &str| {
        let (id, body) = (id.to_owned(), json!({"label": label}));
        let access = me.access.clone();
        async move { client(s).rename_session(&access, &id, body).await }
    };
    let r = label(
        &me.session,
        "\u{2066}admin\u{2069} \u{202E}lanretni\u{200D}",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "admin lanretni");
    let zalgo = format!("o{}k", "\u{0301}\u{0316}\u{0324}\u{0331}".repeat(8));
    let r = label(&me.session, &zalgo).await;
    assert_eq!(r.body["label"].as_str().unwrap().chars().count(), 2 + 3);
    assert_eq!(
        label(&me.session, "Cafe\u{0301}").await.body["label"],
        "Café"
    );

    // Both listings say where each name came from.
    let admin = signed(&login(s, "admin@example.com", DEMO_PASSWORD, OWNER_IP).await);
    let user = PLAIN_USER_ID.to_string();
    let list = client(s).get_user_sessions(&admin.access, &user, "").await;
    let source = |id: &str| {
        list.body
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()["device_name_source"]
            .clone()
    };
    assert_eq!(source(&me.session), "client");
    assert_eq!(source(&from_ua.session), "user_agent");

    // An ended session's label no longer changes.
    assert_eq!(end_one(s, &me.access, &from_ua.session).await.status, 204);
    label(&from_ua.session, "renamed after the end")
        .await
        .assert_error(409, "session_not_active");
}

// ---------------------------------------------------------------------- admins

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_or_disabling_each_other_at_once_leave_one_admin() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let second = NewUser {
        email: "root@example.com",
        password: DEMO_PASSWORD,
        display_name: None,
        role: Role::Admin,
        user_id: None,
    };
    let root = create_user(&s.store, &s.passwords, second, now())
        .await
        .unwrap()
        .user_id;
    for (round, body) in [json!({"role": "user"}), json!({"disabled": true})]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let a = signed(&login(s, "admin@example.com", DEMO_PASSWORD, OWNER_IP).await);
        let b = signed(&login(s, "root@example.com", DEMO_PASSWORD, OWNER_IP).await);
        let patch = |token: String, target: u64, body: Value| {
            let s = s.clone();
            async move {
                let target = target.to_string();
                client(&s).update_user(&token, &target, body).await
            }
        };
        let (x, y) = tokio::join!(
            tokio::spawn(patch(a.access, root, body.clone())),
            tokio::spawn(patch(b.access, ADMIN_ID, body.clone())),
        );
        let statuses = [x.unwrap().status, y.unwrap().status];
        assert_eq!(
            statuses.iter().filter(|st| **st == 200).count(),
            1,
            "round {round}: exactly one wins: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|st| matches!(st, 200 | 401 | 403 | 503)),
            "{statuses:?}"
        );
        let mut admins = 0;
        for id in [ADMIN_ID, root] {
            let user = s.store.get_user(id).await.unwrap().unwrap();
            admins += usize::from(user.is_active_admin());
        }
        assert_eq!(admins, 1, "round {round}: one active admin remains");
        // Both admins again for the next round.
        env.update_user(ADMIN_ID, "admin", false).await;
        env.update_user(root, "admin", false).await;
    }
}
