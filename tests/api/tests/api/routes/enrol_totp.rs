//! `POST /me/mfa/totp`: a signed-in user begins enrolling a TOTP second factor: the secret as
//! text, URI and QR code; nothing changes until its first code confirms it
//! (`routes::confirm_totp`), and only with a recent sign-in and no factor yet.

use api_tests::{TestApp, TestEnv, now};
use shared::domain::totp::{Secret, step_at};
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID, TOTP_ADMIN_EMAIL};

const SAM: &str = "sam@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_comes_as_text_uri_and_qr_code_and_changes_nothing_yet() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let token = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    let r = app.enrol_totp(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32);
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Device%20Sessions:sam%40example%2Ecom?"));
    assert!(uri.contains(&format!("secret={secret}")));
    let svg = r.body["qr_svg"].as_str().unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"));
    assert_eq!(r.body["expires_in"], 600);
    // Pending only: the password still signs in alone.
    let r = app.login(SAM, DEMO_PASSWORD).await;
    assert!(r.body["access_token"].is_string(), "{}", r.body);
    // Beginning again replaces the secret: the first one's code no longer confirms.
    let first = Secret::from_base32(secret).unwrap();
    assert_eq!(app.enrol_totp(&token).await.status, 200);
    let code = first.code(step_at(now()).unwrap());
    app.confirm_totp(&token, &code, DEMO_PASSWORD)
        .await
        .assert_error(400, "invalid_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolling_needs_a_recent_sign_in_and_no_factor_yet() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let signed = app.sign_in(SAM, DEMO_PASSWORD).await;
    // A token of a session signed in long ago (a stolen one, say) cannot add its own factor.
    env.age_session(PLAIN_USER_ID, &signed.session, 3600).await;
    app.enrol_totp(&signed.access)
        .await
        .assert_error(401, "reauthentication_required");
    app.confirm_totp(&signed.access, "123456", DEMO_PASSWORD)
        .await
        .assert_error(401, "reauthentication_required");
    // Someone with a factor removes it first (an admin does, for a lost one).
    let code = serde_json::json!({"code": shared::testkit::demo::demo_totp_code(now()).unwrap()});
    let ops = app
        .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, code)
        .await
        .access;
    app.enrol_totp(&ops)
        .await
        .assert_error(409, "mfa_already_enrolled");
}
