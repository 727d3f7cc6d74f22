//! The second factor's store and enrolment against Dynoxide: enrolment confirmed once and
//! only for the secret shown, a TOTP step and a recovery code each used once even when many
//! requests race with the same one; the enrolment service (`sessions-cli enrol-totp`) end to
//! end, up to a two-step sign-in with what it handed out. (The sign-in itself:
//! `routes::login_mfa`.)

use api_tests::TestEnv;
use shared::domain::UserId;
use shared::domain::totp::{Secret, step_at};
use shared::testkit::demo::{PLAIN_USER_ID, USER_ID};
use shared::tokens::seal::SealKey;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn sealed_secret(user: UserId) -> (Secret, String) {
    let secret = Secret::generate().unwrap();
    let key = SealKey::new(&[7; 32]).unwrap();
    let sealed = key
        .seal(&format!("totp:{user}"), secret.as_bytes())
        .unwrap();
    (secret, sealed)
}

fn hashes(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("hash-{i}")).collect()
}

/// `USER_ID` enrolled with a new secret, its code of `step` used, `recovery` codes issued.
async fn enrolled(store: &shared::Store, step: u64, recovery: usize) -> (Secret, String) {
    let (secret, sealed) = sealed_secret(USER_ID);
    assert!(store.begin_totp(USER_ID, &sealed, NOW).await.unwrap());
    assert!(
        store
            .confirm_totp(
                USER_ID,
                &sealed,
                NOW - 600,
                step,
                &hashes(recovery),
                Some(USER_ID)
            )
            .await
            .unwrap()
    );
    (secret, sealed)
}

/// `USER_ID`'s second factor as stored.
async fn factor(store: &shared::Store) -> shared::store::SecondFactor {
    store.second_factor(USER_ID).await.unwrap().unwrap()
}

/// Runs `attempt` from `tasks` tasks at once and counts the ones that succeeded.
async fn successes<F, Fut>(tasks: usize, attempt: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        set.spawn(attempt());
    }
    let mut won = 0;
    while let Some(done) = set.join_next().await {
        won += usize::from(done.unwrap());
    }
    won
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_is_confirmed_once_and_only_for_the_secret_shown() {
    let env = TestEnv::seeded().await;
    let store = &env.state.store;
    let (_, first) = sealed_secret(USER_ID);
    let (_, second) = sealed_secret(USER_ID);

    assert!(store.begin_totp(USER_ID, &first, NOW).await.unwrap());
    // Begun again (a new QR code): the first secret can no longer be confirmed.
    assert!(store.begin_totp(USER_ID, &second, NOW + 1).await.unwrap());
    let f = factor(store).await;
    assert_eq!(f.totp_pending.as_deref(), Some(second.as_str()));
    assert!(!f.is_enrolled());
    assert!(
        !store
            .confirm_totp(USER_ID, &first, NOW - 600, 10, &hashes(10), Some(USER_ID))
            .await
            .unwrap(),
        "a replaced secret"
    );
    assert!(
        !store
            .confirm_totp(USER_ID, &second, NOW + 1, 10, &hashes(10), Some(USER_ID))
            .await
            .unwrap(),
        "begun no later than the oldest accepted: expired"
    );
    assert!(
        store
            .confirm_totp(USER_ID, &second, NOW - 600, 10, &hashes(10), Some(USER_ID))
            .await
            .unwrap()
    );
    let f = factor(store).await;
    assert_eq!(f.totp_secret.as_deref(), Some(second.as_str()));
    assert_eq!(f.totp_pending, None);
    assert_eq!(f.totp_last_step, Some(10));
    assert_eq!(f.recovery_codes.len(), 10);

    // Confirmed: neither confirmed again nor replaced by a new enrolment.
    assert!(
        !store
            .confirm_totp(USER_ID, &second, NOW - 600, 11, &hashes(10), Some(USER_ID))
            .await
            .unwrap()
    );
    assert!(!store.begin_totp(USER_ID, &first, NOW + 2).await.unwrap());
    // Another user, and a user who does not exist, are untouched.
    assert!(
        !store
            .second_factor(PLAIN_USER_ID)
            .await
            .unwrap()
            .unwrap()
            .is_enrolled()
    );
    let nobody = UserId::of(999_999);
    assert!(!store.begin_totp(nobody, &first, NOW).await.unwrap());
    assert_eq!(store.second_factor(nobody).await.unwrap(), None);

    assert!(
        store
            .remove_second_factor(USER_ID, Some(USER_ID))
            .await
            .unwrap()
    );
    assert_eq!(factor(store).await, Default::default());
    assert!(
        !store
            .remove_second_factor(USER_ID, Some(USER_ID))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_replayed_by_many_requests_at_once_is_accepted_once() {
    let env = TestEnv::seeded().await;
    let store = Arc::new(env.state.store.clone());
    let step = step_at(NOW).unwrap();
    let (secret, sealed) = enrolled(&store, step - 1, 10).await;

    // The current code, checked by the domain rule and then used by 16 requests at once.
    let code = secret.code(step);
    let last = factor(&store).await.totp_last_step;
    assert_eq!(secret.verify(&code, NOW, last), Some(step));
    let won = successes(16, || {
        let (store, sealed) = (store.clone(), sealed.clone());
        async move { store.use_totp_step(USER_ID, &sealed, step).await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "one of 16 parallel uses of one code");

    // After it: the same step, an earlier one, or another factor's secret are refused; the
    // next step is accepted.
    assert!(!store.use_totp_step(USER_ID, &sealed, step).await.unwrap());
    assert!(
        !store
            .use_totp_step(USER_ID, &sealed, step - 1)
            .await
            .unwrap()
    );
    let (_, other) = sealed_secret(USER_ID);
    assert!(
        !store
            .use_totp_step(USER_ID, &other, step + 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .use_totp_step(USER_ID, &sealed, step + 1)
            .await
            .unwrap()
    );
    let last = factor(&store).await.totp_last_step;
    assert_eq!(last, Some(step + 1));
    assert_eq!(secret.verify(&code, NOW, last), None, "the used code again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_used_by_many_requests_at_once_is_used_once() {
    let env = TestEnv::seeded().await;
    let store = Arc::new(env.state.store.clone());
    enrolled(&store, 1, 3).await;

    let won = successes(16, || {
        let store = store.clone();
        async move { store.use_recovery_code(USER_ID, "hash-1").await.unwrap() }
    })
    .await;
    assert_eq!(won, 1, "one of 16 parallel uses of one recovery code");
    let f = factor(&store).await;
    let mut left = f.recovery_codes.clone();
    left.sort();
    assert_eq!(left, ["hash-0", "hash-2"]);
    assert_eq!(f.recovery_codes_used, 1);
    assert!(!store.use_recovery_code(USER_ID, "hash-9").await.unwrap());

    // The last ones: the set is gone (DynamoDB holds no empty set), and nothing more is used.
    assert!(store.use_recovery_code(USER_ID, "hash-0").await.unwrap());
    assert!(store.use_recovery_code(USER_ID, "hash-2").await.unwrap());
    let f = factor(&store).await;
    assert!(f.recovery_codes.is_empty());
    assert_eq!(f.recovery_codes_used, 3);
    assert!(!store.use_recovery_code(USER_ID, "hash-0").await.unwrap());

    // A new set replaces what is left and restarts the count, while a factor is on.
    assert!(
        store
            .replace_recovery_codes(USER_ID, &hashes(2))
            .await
            .unwrap()
    );
    let f = factor(&store).await;
    assert_eq!(f.recovery_codes.len(), 2);
    assert_eq!(f.recovery_codes_used, 0);
    assert!(store.use_recovery_code(USER_ID, "hash-1").await.unwrap());
    // No codes at all is a mistake, not a write (DynamoDB holds no empty set).
    assert!(store.replace_recovery_codes(USER_ID, &[]).await.is_err());
    assert_eq!(factor(&store).await.recovery_codes.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_gives_a_secret_then_recovery_codes_for_its_first_code() {
    use api_tests::{TestApp, now};
    use shared::services::second_factor::{begin_enrolment, confirm_enrolment};
    use shared::testkit::demo::DEMO_PASSWORD;
    let env = TestEnv::seeded().await;
    let state = &env.state;
    let t = now();
    let shown = begin_enrolment(state, PLAIN_USER_ID, t).await.unwrap();
    assert!(
        shown
            .uri
            .starts_with("otpauth://totp/Device%20Sessions:sam%40example%2Ecom?secret=")
    );
    assert!(shown.uri.contains(&shown.secret));
    // Not on until a code confirms it: the password still signs in alone.
    let app = TestApp::new(state);
    app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let secret = Secret::from_base32(&shown.secret).unwrap();
    let code = secret.code(step_at(t).unwrap());
    let wrong = confirm_enrolment(state, PLAIN_USER_ID, "000000", None, t).await;
    assert_eq!(wrong.unwrap_err().code(), "invalid_code");
    let codes = confirm_enrolment(state, PLAIN_USER_ID, &code, None, t)
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    // Once on: confirming again, or beginning again, is refused.
    let again = confirm_enrolment(state, PLAIN_USER_ID, &code, None, t).await;
    assert_eq!(again.unwrap_err().code(), "no_pending_enrolment");
    let twice = begin_enrolment(state, PLAIN_USER_ID, t).await;
    assert_eq!(twice.unwrap_err().code(), "mfa_already_enrolled");
    // The sign-in now takes a second step; the code that confirmed the enrolment is spent,
    // a recovery code it showed works.
    let challenge = app.challenge("sam@example.com", DEMO_PASSWORD).await;
    let used = serde_json::json!({"challenge": challenge, "code": code});
    app.login_mfa(used).await.assert_error(401, "invalid_code");
    let body = serde_json::json!({"challenge": challenge, "recovery_code": codes[9]});
    let r = app.login_mfa(body).await;
    assert_eq!(
        r.body["session"]["amr"],
        serde_json::json!(["pwd", "recovery"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_left_waiting_expires_and_an_unknown_user_has_none() {
    use shared::services::second_factor::{
        ENROLMENT_TTL_SECONDS, begin_enrolment, confirm_enrolment,
    };
    let env = TestEnv::seeded().await;
    let state = &env.state;
    let shown = begin_enrolment(state, PLAIN_USER_ID, NOW).await.unwrap();
    let secret = Secret::from_base32(&shown.secret).unwrap();
    let late = NOW + ENROLMENT_TTL_SECONDS;
    let code = secret.code(step_at(late).unwrap());
    let expired = confirm_enrolment(state, PLAIN_USER_ID, &code, None, late).await;
    assert_eq!(expired.unwrap_err().code(), "no_pending_enrolment");
    let nobody = begin_enrolment(state, UserId::of(9_999), NOW).await;
    assert_eq!(nobody.unwrap_err().code(), "user_not_found");
}
