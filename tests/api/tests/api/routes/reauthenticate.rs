//! `POST /auth/reauthenticate`: no way around the sign-in throttle, and only in a live session;
//! with a second factor's code it makes the session `aal2`, with the password alone `aal1`.
//! (What it unlocks is `cross_route::sensitive_actions_need_a_recent_sign_in`.)

use api_tests::{FIREFOX_LINUX, TestApp, TestEnv};
use shared::testkit::demo::DEMO_PASSWORD;

const SAM: &str = "sam@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthentication_shares_the_sign_in_throttle_and_needs_a_live_session() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    let token = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    for _ in 0..5 {
        app.reauthenticate(&token, "guess")
            .await
            .assert_error(403, "invalid_password");
    }
    let r = app.reauthenticate(&token, DEMO_PASSWORD).await;
    r.assert_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    // Sign-in for the same email is throttled too.
    app.login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");

    let jane = app.sign_in("jane@example.com", DEMO_PASSWORD).await.access;
    assert_eq!(app.logout(&jane).await.status, 204);
    app.reauthenticate(&jane, DEMO_PASSWORD)
        .await
        .assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_with_the_password_makes_the_session_aal2_and_the_password_alone_aal1() {
    use api_tests::{claims, now};
    use serde_json::json;
    use shared::testkit::demo::{DEMO_RECOVERY_CODES, TOTP_ADMIN_EMAIL, demo_totp_code};
    let env = TestEnv::seeded_with(&[("ADMIN_REQUIRES_AAL2", "true")]).await;
    let app = TestApp::new(&env.state);
    let recovery = json!({"recovery_code": DEMO_RECOVERY_CODES[0]});
    let signed = app
        .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, recovery)
        .await;
    let admin_view = |token: String| {
        let app = app.clone();
        async move { app.get_user_sessions(&token, "74", "").await }
    };
    assert_eq!(admin_view(signed.access.clone()).await.status, 200);

    // The password alone: a recent sign-in, of one factor; the admin routes ask for the second.
    let r = app.reauthenticate(&signed.access, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let aal1 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&aal1)["amr"], json!(["pwd"]));
    admin_view(aal1.clone())
        .await
        .assert_error(403, "mfa_required");

    // The password and a code: aal2 again, on the same session.
    let code = demo_totp_code(now()).unwrap();
    let proof = json!({"password": DEMO_PASSWORD, "code": code});
    let r = app.reauthenticate_with(&aal1, proof.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let aal2 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        (&claims(&aal2)["aal"], &claims(&aal2)["amr"]),
        (&json!("aal2"), &json!(["pwd", "otp"]))
    );
    assert_eq!(claims(&aal2)["sid"], claims(&signed.access)["sid"]);
    assert_eq!(admin_view(aal2.clone()).await.status, 200);
    let mine = app.all_my_sessions(&aal2).await;
    let current: Vec<_> = mine.iter().filter(|s| s["is_current"] == true).collect();
    assert_eq!(current[0]["amr"], json!(["pwd", "otp"]));

    // The same code again, a wrong one, or two kinds at once are refused; the session lives.
    app.reauthenticate_with(&aal2, proof)
        .await
        .assert_error(403, "invalid_code");
    let wrong = json!({"password": DEMO_PASSWORD, "code": "000000"});
    app.reauthenticate_with(&aal2, wrong)
        .await
        .assert_error(403, "invalid_code");
    let both = json!({"password": DEMO_PASSWORD, "code": "1", "recovery_code": "2"});
    app.reauthenticate_with(&aal2, both)
        .await
        .assert_error(400, "invalid_body");
    assert_eq!(admin_view(aal2).await.status, 200);

    // Someone without a second factor has none to confirm.
    let sam = app.sign_in(SAM, DEMO_PASSWORD).await.access;
    let with_code = json!({"password": DEMO_PASSWORD, "code": "123456"});
    app.reauthenticate_with(&sam, with_code)
        .await
        .assert_error(400, "mfa_not_enrolled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_token_and_the_password_cannot_guess_codes_by_re_authenticating_in_between() {
    use serde_json::json;
    use shared::domain::Role;
    use shared::testkit::demo::TOTP_ADMIN_ID;
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).from_ip("203.0.113.66");
    // A session of the admin with a second factor, signed in with the password alone (one
    // from before the enrolment, say), and the password: guess codes, and re-enter the right
    // password between the guesses to clear the count.
    let (_, mut token) = env.login(TOTP_ADMIN_ID, Role::Admin).await;
    let guess = json!({"password": DEMO_PASSWORD, "code": "000000"});
    let mut attempts = 0;
    let throttled = 'attack: loop {
        for _ in 0..2 {
            attempts += 1;
            let r = app.reauthenticate_with(&token, guess.clone()).await;
            if r.status == 429 {
                break 'attack true;
            }
            r.assert_error(403, "invalid_code");
        }
        attempts += 1;
        let r = app.reauthenticate(&token, DEMO_PASSWORD).await;
        if r.status == 429 {
            break 'attack true;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        token = r.body["access_token"].as_str().unwrap().to_owned();
        if attempts > 12 {
            break false;
        }
    };
    assert!(
        throttled,
        "a right password cleared the count of wrong codes"
    );
    assert!(attempts <= 6, "{attempts} attempts before 429");
}
