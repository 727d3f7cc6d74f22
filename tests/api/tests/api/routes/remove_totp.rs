//! `DELETE /me/mfa/totp`: a user removes their own second factor, only from a session that
//! proved it recently; afterwards the password alone signs in.

use api_tests::{TestApp, TestEnv, demo_code_now};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, DEMO_RECOVERY_CODES, TOTP_ADMIN_EMAIL, TOTP_ADMIN_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_recent_proof_of_the_factor_removes_it() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let signed = app.sign_in_totp_admin(demo_code_now()).await;
    // Signed in with the factor, but long ago (a stolen token, say): not recent.
    env.age_session(TOTP_ADMIN_ID, &signed.session, 3600).await;
    app.remove_totp(&signed.access)
        .await
        .assert_error(401, "reauthentication_required");
    // The password again, without a code: recent, but the factor is not proved (aal1).
    let r = app.reauthenticate(&signed.access, DEMO_PASSWORD).await;
    let aal1 = r.body["access_token"].as_str().unwrap().to_owned();
    let r = app.remove_totp(&aal1).await;
    r.assert_error(401, "second_factor_required");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer error=\"insufficient_user_authentication\""),
        "RFC 9470 step-up"
    );
    app.regenerate_recovery_codes(&aal1)
        .await
        .assert_error(401, "second_factor_required");
    // The password and a recovery code (the authenticator is lost): aal2 now.
    let proof = json!({"password": DEMO_PASSWORD, "recovery_code": DEMO_RECOVERY_CODES[3]});
    let r = app.reauthenticate_with(&aal1, proof).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let aal2 = r.body["access_token"].as_str().unwrap().to_owned();
    let r = app.remove_totp(&aal2).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let factor = env.state.store.second_factor(TOTP_ADMIN_ID).await.unwrap();
    assert!(!factor.unwrap_or_default().is_enrolled());
    // Gone: the password alone signs in, and there is nothing left to remove or regenerate.
    let r = app.login(TOTP_ADMIN_EMAIL, DEMO_PASSWORD).await;
    assert!(r.body["access_token"].is_string(), "{}", r.body);
    app.remove_totp(&aal2)
        .await
        .assert_error(409, "mfa_not_enrolled");
    app.regenerate_recovery_codes(&aal2)
        .await
        .assert_error(409, "mfa_not_enrolled");
    // The session keeps the level it was signed in at; admin routes still take it.
    let r = app.get_user_sessions(&aal2, "74", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_a_factor_is_told_so_and_nothing_changes() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let token = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;
    app.remove_totp(&token)
        .await
        .assert_error(409, "mfa_not_enrolled");
    // A pending enrolment is not a factor: it stays, to be confirmed or to expire.
    assert_eq!(app.enrol_totp(&token).await.status, 200);
    app.remove_totp(&token)
        .await
        .assert_error(409, "mfa_not_enrolled");
    let pending = env
        .state
        .store
        .second_factor(shared::testkit::demo::PLAIN_USER_ID)
        .await
        .unwrap()
        .unwrap_or_default()
        .totp_pending;
    assert!(pending.is_some());
}
