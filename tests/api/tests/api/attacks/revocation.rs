//! The credential epoch: no session from before a password change, a disable, "end all others"
//! or an admin's "end all" survives, sign-ins racing the action included; an idle session does
//! not come back when the idle timeout grows; the operator ends every session in one write; a
//! late sweep never ends a session of a later epoch.

use super::{SAM, client};
use api_tests::{TestEnv, now};
use serde_json::json;
use shared::domain::EndReason;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

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
    let app = client(s);
    let mut password = DEMO_PASSWORD.to_owned();
    for round in 0..3 {
        let before = app.sign_in(SAM, &password).await;
        let actor = app.sign_in(SAM, &password).await;
        let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
        let new_password = format!("a brand new secret {round}");
        let mut tasks = tokio::task::JoinSet::new();
        // Sign-ins spread over the action's whole run, so that some read the user before it
        // commits and store their session after it has swept.
        for i in 0..10 {
            let (s, pw) = (s.clone(), password.clone());
            tasks.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(4 * i)).await;
                (true, client(&s).login(SAM, &pw).await)
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
                Mass::PasswordChange => client(&st).change_password(&act, &pw, &npw).await,
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
                during.push(r.signed());
            } else {
                assert!(
                    matches!(r.status, 401 | 403),
                    "{action:?}: sign-in {}",
                    r.body
                );
            }
        }
        assert!(
            !app.usable(&before).await,
            "{action:?} round {round}: a session from before"
        );
        let dead_during = matches!(action, Mass::PasswordChange | Mass::Disable);
        for session in &during {
            if dead_during {
                assert!(
                    !app.usable(session).await,
                    "{action:?} round {round}: a sign-in with the old credentials"
                );
            }
        }
        match action {
            Mass::PasswordChange => {
                assert_eq!(
                    app.list_my_sessions(&actor.access, "").await.status,
                    200,
                    "the current one stays"
                );
                password = new_password;
            }
            Mass::EndOthers => {
                assert_eq!(
                    app.list_my_sessions(&actor.access, "").await.status,
                    200,
                    "the current one stays"
                );
            }
            Mass::Disable => {
                assert!(!app.usable(&actor).await);
                app.login(SAM, &password)
                    .await
                    .assert_error(403, "account_disabled");
                env.update_user(PLAIN_USER_ID, "user", false).await;
            }
            Mass::AdminEndsAll => assert!(!app.usable(&actor).await),
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
    let app = client(s);
    let idle = app.sign_in(SAM, DEMO_PASSWORD).await;
    let owner = app.sign_in(SAM, DEMO_PASSWORD).await;
    let mut item = s
        .store
        .get_session(PLAIN_USER_ID, &idle.session)
        .await
        .unwrap()
        .unwrap();
    item.last_activity = now() - s.config.sessions.idle_timeout_seconds - 60;
    env.put_session(&item).await;
    let r = app
        .change_password(&owner.access, DEMO_PASSWORD, "a brand new secret")
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
    client(&longer)
        .list_my_sessions(&idle.access, "")
        .await
        .assert_error(401, "session_ended");
    client(&longer)
        .refresh(&idle.refresh)
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_every_session_of_every_user_takes_one_write() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let sam = app.sign_in(SAM, DEMO_PASSWORD).await;
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
    s.store.end_every_session().await.unwrap();
    // The functions' copy of the global epoch is at most this old.
    tokio::time::sleep(shared::store::GLOBAL_EPOCH_MAX_AGE).await;
    for who in [&sam, &admin] {
        app.list_my_sessions(&who.access, "")
            .await
            .assert_error(401, "session_ended");
        app.refresh(&who.refresh)
            .await
            .assert_error(401, "session_ended");
    }
    // Signing in again works, and the listing says why the old ones ended.
    let again = app.sign_in(SAM, DEMO_PASSWORD).await;
    let list = app
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
    let app = client(s);
    let (store, policy) = (&s.store, &s.config.sessions);
    fn keep(id: &str) -> EpochChange<'_> {
        EpochChange {
            reason: shared::domain::EndReason::User,
            password: None,
            keep: Some(id),
            admin: None,
        }
    }
    // "End all others" from A moves the epoch to 1; its sweep is slow to run.
    let a = app.sign_in(SAM, DEMO_PASSWORD).await;
    let one = store
        .advance_epoch(PLAIN_USER_ID, 0, keep(&a.session), now(), policy)
        .await
        .unwrap()
        .unwrap();
    // Meanwhile a sign-in (epoch 1) ends all others again, moving the epoch to 2.
    let b = app.sign_in(SAM, DEMO_PASSWORD).await;
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
    assert_eq!(app.list_my_sessions(&b.access, "").await.status, 200);
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
    assert_eq!(app.list_my_sessions(&b.access, "").await.status, 200);
    app.list_my_sessions(&a.access, "")
        .await
        .assert_error(401, "session_ended");
}
