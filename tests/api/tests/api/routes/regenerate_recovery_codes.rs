//! `POST /me/mfa/recovery-codes`: ten new recovery codes, shown once; the old ones stop
//! working and the count of used codes starts again.

use api_tests::{TestApp, TestEnv, demo_code_now};
use serde_json::json;
use shared::domain::recovery;
use shared::testkit::demo::{DEMO_PASSWORD, DEMO_RECOVERY_CODES, TOTP_ADMIN_EMAIL, TOTP_ADMIN_ID};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_codes_replace_the_old_ones_and_restart_the_count() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let used = json!({"recovery_code": DEMO_RECOVERY_CODES[0]});
    let signed = app.sign_in_totp_admin(used).await;
    let store = &env.state.store;
    let factor = || async { store.second_factor(TOTP_ADMIN_ID).await.unwrap().unwrap() };
    assert_eq!(factor().await.recovery_codes_used, 1);
    // Signed in with a recovery code just now: aal2 and recent.
    let r = app.regenerate_recovery_codes(&signed.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = serde_json::from_value(r.body["recovery_codes"].clone()).unwrap();
    let distinct: BTreeSet<&String> = codes.iter().collect();
    assert_eq!((codes.len(), distinct.len()), (10, 10));
    // Stored as exactly the keyed hashes of the codes shown, nothing of the old set left.
    let now_stored = factor().await;
    let keys = env.state.factor_keys().unwrap();
    let shown: BTreeSet<String> = codes
        .iter()
        .filter_map(|c| recovery::hash(keys.recovery(), TOTP_ADMIN_ID, c))
        .collect();
    let stored: BTreeSet<String> = now_stored.recovery_codes.iter().cloned().collect();
    assert_eq!((stored, now_stored.recovery_codes_used), (shown, 0));
    // An old code no longer signs in; a new one does, once; the TOTP code still works.
    let challenge = app.challenge(TOTP_ADMIN_EMAIL, DEMO_PASSWORD).await;
    app.login_mfa(json!({"challenge": challenge, "recovery_code": DEMO_RECOVERY_CODES[1]}))
        .await
        .assert_error(401, "invalid_code");
    let r = app
        .login_mfa(json!({"challenge": challenge, "recovery_code": codes[4]}))
        .await;
    assert_eq!(
        r.body["session"]["amr"],
        json!(["pwd", "recovery"]),
        "{}",
        r.body
    );
    assert_eq!(factor().await.recovery_codes_used, 1);
    app.sign_in_totp_admin(demo_code_now()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_needs_a_recent_proof_of_the_factor() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let signed = app.sign_in_totp_admin(demo_code_now()).await;
    env.age_session(TOTP_ADMIN_ID, &signed.session, 3600).await;
    app.regenerate_recovery_codes(&signed.access)
        .await
        .assert_error(401, "reauthentication_required");
    let before = env.state.store.second_factor(TOTP_ADMIN_ID).await.unwrap();
    assert_eq!(before.unwrap().recovery_codes.len(), 10, "unchanged");
    let token = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    app.regenerate_recovery_codes(&token)
        .await
        .assert_error(409, "mfa_not_enrolled");
}
