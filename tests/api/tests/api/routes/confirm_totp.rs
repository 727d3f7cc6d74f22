//! `POST /me/mfa/totp/confirm`: the first code and the password turn the factor on and show
//! the recovery codes once; from then on signing in takes the second step.

use api_tests::{TestApp, TestEnv, now};
use serde_json::json;
use shared::domain::totp::{Secret, step_at};
use shared::testkit::demo::DEMO_PASSWORD;

const SAM: &str = "sam@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_code_turns_the_factor_on_and_the_recovery_codes_work_once() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let token = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    app.confirm_totp(&token, "123456", DEMO_PASSWORD)
        .await
        .assert_error(409, "no_pending_enrolment");
    let r = app.enrol_totp(&token).await;
    let secret = Secret::from_base32(r.body["secret"].as_str().unwrap()).unwrap();
    // A stolen token alone, however recent, cannot turn a factor on: the password is asked.
    let code = secret.code(step_at(now()).unwrap());
    app.confirm_totp(&token, &code, "not the password")
        .await
        .assert_error(403, "invalid_password");
    app.confirm_totp(&token, "000000", DEMO_PASSWORD)
        .await
        .assert_error(400, "invalid_code");
    let r = app.confirm_totp(&token, &code, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = serde_json::from_value(r.body["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    // Once on, there is nothing left to confirm.
    app.confirm_totp(&token, &code, DEMO_PASSWORD)
        .await
        .assert_error(409, "no_pending_enrolment");
    // Signing in now takes the second step; the confirming code is spent, a recovery code
    // works once.
    let challenge = app.challenge(SAM, DEMO_PASSWORD).await;
    app.login_mfa(json!({"challenge": challenge, "code": code}))
        .await
        .assert_error(401, "invalid_code");
    let r = app
        .login_mfa(json!({"challenge": challenge, "recovery_code": codes[0]}))
        .await;
    assert_eq!(r.body["session"]["aal"], "aal2", "{}", r.body);
    let again = app.challenge(SAM, DEMO_PASSWORD).await;
    app.login_mfa(json!({"challenge": again, "recovery_code": codes[0]}))
        .await
        .assert_error(401, "invalid_code");
}
