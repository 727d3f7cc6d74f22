//! `POST /auth/mfa`, with `POST /auth/login`'s first step: a user with a second factor gets a
//! challenge, not tokens; the challenge and one code start an AAL2 session; the challenge is
//! single-use, bound to its address and device, short-lived; codes are used once and
//! throttled like passwords.

use api_tests::{CHROME_WINDOWS, FIREFOX_LINUX, TestApp, TestEnv, claims, now};
use serde_json::{Value, json};
use shared::domain::challenge::{Challenge, challenge_key, new_challenge, user_agent_hash};
use shared::testkit::demo::{
    DEMO_PASSWORD, DEMO_RECOVERY_CODES, TOTP_ADMIN_EMAIL, TOTP_ADMIN_ID, demo_totp_code,
};

const OPS: &str = TOTP_ADMIN_EMAIL;

fn code() -> String {
    demo_totp_code(now()).unwrap()
}

fn with_code(challenge: &str, code: &str) -> Value {
    json!({"challenge": challenge, "code": code})
}

fn with_recovery(challenge: &str, code: &str) -> Value {
    json!({"challenge": challenge, "recovery_code": code})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_gives_a_challenge_and_a_code_completes_an_aal2_session() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(CHROME_WINDOWS);
    let r = app.login(OPS, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfa_required"], true);
    assert_eq!(r.body["expires_in"], 300);
    assert_eq!(r.body["methods"], json!(["totp", "recovery_code"]));
    assert!(r.body.get("access_token").is_none() && r.body.get("session").is_none());
    assert_eq!(
        env.active_sessions(TOTP_ADMIN_ID).await,
        0,
        "no session yet"
    );

    let challenge = r.body["challenge"].as_str().unwrap();
    let r = app.login_mfa(with_code(challenge, &code())).await;
    let signed = r.signed();
    assert_eq!(r.body["session"]["aal"], "aal2");
    assert_eq!(r.body["session"]["amr"], json!(["pwd", "otp"]));
    assert!(
        r.body.get("recovery_codes_left").is_none(),
        "recovery codes only"
    );
    let token = claims(&signed.access);
    assert_eq!(
        (&token["aal"], &token["amr"]),
        (&json!("aal2"), &json!(["pwd", "otp"]))
    );
    // The session's device is the password step's.
    assert_eq!(r.body["session"]["browser"], "Chrome");
    // It is a session like any other: listed with its level, refreshed with it.
    let mine = app.all_my_sessions(&signed.access).await;
    assert_eq!(mine[0]["aal"], "aal2");
    let refreshed = app.refresh(&signed.refresh).await;
    assert_eq!(
        claims(refreshed.body["access_token"].as_str().unwrap())["aal"],
        "aal2"
    );

    // Users without a factor still sign in in one step, at AAL1.
    let jane = app.login("jane@example.com", DEMO_PASSWORD).await;
    assert_eq!(jane.body["session"]["aal"], "aal1");
    assert_eq!(jane.body["session"]["amr"], json!(["pwd"]));
    assert_eq!(
        claims(jane.body["access_token"].as_str().unwrap())["aal"],
        "aal1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_gives_no_challenge() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    app.login(OPS, "not the password")
        .await
        .assert_error(401, "invalid_credentials");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_accepted_once() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let code = code();
    let first = app.challenge(OPS, DEMO_PASSWORD).await;
    app.login_mfa(with_code(&first, &code)).await.signed();
    // Someone who saw the code (and knows the password) cannot use it again.
    let second = app.challenge(OPS, DEMO_PASSWORD).await;
    app.login_mfa(with_code(&second, &code))
        .await
        .assert_error(401, "invalid_code");
    app.login_mfa(with_code(&second, "000000"))
        .await
        .assert_error(401, "invalid_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_is_single_use_and_bound_to_its_address_and_device() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(CHROME_WINDOWS);
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    // Stolen in transit: another address, or the same address with another browser.
    let elsewhere = app.clone().from_ip("203.0.113.99");
    elsewhere
        .login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(401, "invalid_challenge");
    let other_browser = TestApp::new(&env.state).with_user_agent(FIREFOX_LINUX);
    other_browser
        .login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(401, "invalid_challenge");
    // Its owner completes it once.
    let r = app
        .login_mfa(with_recovery(&challenge, DEMO_RECOVERY_CODES[0]))
        .await;
    r.signed();
    app.login_mfa(with_recovery(&challenge, DEMO_RECOVERY_CODES[1]))
        .await
        .assert_error(401, "invalid_challenge");
    // Malformed or unknown challenges are refused alike.
    for bad in ["", "short", &"x".repeat(43), &format!("throttle {OPS}")] {
        app.login_mfa(with_code(bad, &code()))
            .await
            .assert_error(401, "invalid_challenge");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_challenge_is_refused_and_one_takes_five_codes_at_most() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).with_user_agent(CHROME_WINDOWS);
    let token = new_challenge().unwrap();
    let user = env
        .state
        .store
        .get_user(TOTP_ADMIN_ID)
        .await
        .unwrap()
        .unwrap();
    let expired = Challenge {
        email: challenge_key(&token).unwrap(),
        user_id: TOTP_ADMIN_ID,
        login_email: OPS.to_owned(),
        ip: "198.51.100.20".to_owned(),
        user_agent_hash: user_agent_hash(CHROME_WINDOWS),
        device_name: None,
        device_type: None,
        location: None,
        credential_epoch: user.credential_epoch,
        expires_at: now() - 1,
        ttl: now() + 300,
        attempts: 0,
    };
    env.state.store.put_challenge(&expired).await.unwrap();
    app.login_mfa(with_code(&token, &code()))
        .await
        .assert_error(401, "invalid_challenge");

    // Four wrong codes (with the sign-in's own attempt, the client's five), then the
    // throttle answers before the challenge's own limit.
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    for _ in 0..4 {
        app.login_mfa(with_code(&challenge, "000000"))
            .await
            .assert_error(401, "invalid_code");
    }
    app.login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(429, "too_many_attempts");
    // The challenge took its fifth code: spent, refused before the throttle is asked.
    let fresh = TestApp::new(&env.state)
        .with_user_agent(CHROME_WINDOWS)
        .from_ip("198.51.100.20");
    fresh
        .login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(401, "invalid_challenge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_guesses_are_throttled_although_each_password_step_is_right() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state).from_ip("203.0.113.77");
    // An attacker who has the password signs in again and again to guess codes: a right
    // password must not clear the count that wrong codes build up.
    let mut throttled = false;
    for _ in 0..6 {
        let r = app.login(OPS, DEMO_PASSWORD).await;
        if r.status == 429 {
            throttled = true;
            break;
        }
        let challenge = r.body["challenge"].as_str().unwrap().to_owned();
        let guess = app.login_mfa(with_code(&challenge, "000000")).await;
        if guess.status == 429 {
            throttled = true;
            break;
        }
        guess.assert_error(401, "invalid_code");
    }
    assert!(
        throttled,
        "five attempts per client, password steps included"
    );
    // The owner, elsewhere, is not locked out, and a completed sign-in clears their count.
    let owner = TestApp::new(&env.state).from_ip("192.0.2.200");
    let challenge = owner.challenge(OPS, DEMO_PASSWORD).await;
    owner
        .login_mfa(with_code(&challenge, &code()))
        .await
        .signed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once_and_is_counted() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    // Typed with capitals and spaces, as people copy them.
    let typed = DEMO_RECOVERY_CODES[3].to_uppercase().replace('-', " ");
    let r = app.login_mfa(with_recovery(&challenge, &typed)).await;
    r.signed();
    assert_eq!(r.body["session"]["amr"], json!(["pwd", "recovery"]));
    assert_eq!(r.body["session"]["aal"], "aal2");
    assert_eq!(r.body["recovery_codes_left"], 9, "the client is told");
    let factor = env
        .state
        .store
        .second_factor(TOTP_ADMIN_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (factor.recovery_codes.len(), factor.recovery_codes_used),
        (9, 1)
    );
    let again = app.challenge(OPS, DEMO_PASSWORD).await;
    app.login_mfa(with_recovery(&again, DEMO_RECOVERY_CODES[3]))
        .await
        .assert_error(401, "invalid_code");
    // Another user's code, or a code of no one, does not open this account.
    app.login_mfa(with_recovery(&again, "aaaaa-bbbbb"))
        .await
        .assert_error(401, "invalid_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_needs_exactly_one_kind_of_code() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    let both = json!({"challenge": challenge, "code": code(), "recovery_code": "x"});
    for body in [json!({"challenge": challenge}), both] {
        app.login_mfa(body).await.assert_error(400, "invalid_body");
    }
    let extra = json!({"challenge": challenge, "code": code(), "password": "x"});
    assert_eq!(app.login_mfa(extra).await.status, 400);
    // The refusals spent nothing: the challenge still completes.
    app.login_mfa(with_code(&challenge, &code())).await.signed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_every_session_or_disabling_between_the_steps_voids_the_challenge() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    let id = TOTP_ADMIN_ID.to_string();
    let r = app.admin_revoke_user_sessions(&admin, &id).await;
    assert!(r.status < 300, "{}", r.body);
    app.login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(401, "invalid_challenge");

    // Disabled by another admin through the route (which also moves the epoch): told so.
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    let r = app
        .update_user(&admin, &id, json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.login_mfa(with_code(&challenge, &code()))
        .await
        .assert_error(403, "account_disabled");
    assert_eq!(env.active_sessions(TOTP_ADMIN_ID).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_completions_of_one_challenge_start_one_session() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let challenge = app.challenge(OPS, DEMO_PASSWORD).await;
    let tasks: Vec<_> = DEMO_RECOVERY_CODES[..8]
        .iter()
        .map(|code| {
            let (state, challenge) = (env.state.clone(), challenge.clone());
            tokio::spawn(async move {
                TestApp::new(&state)
                    .login_mfa(with_recovery(&challenge, code))
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 401, 429].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(env.active_sessions(TOTP_ADMIN_ID).await, 1);
    // The challenge and its code are spent together: the losers spent no recovery code.
    let factor = env
        .state
        .store
        .second_factor(TOTP_ADMIN_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (factor.recovery_codes.len(), factor.recovery_codes_used),
        (9, 1)
    );
}
