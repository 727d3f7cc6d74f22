//! `PATCH /users/{user_id}`: admins disable (every session ends, sign-in blocked), enable,
//! promote and demote users, remove a lost second factor (from an aal2 session only), never
//! themselves in a harmful way.

use api_tests::{CHROME_WINDOWS, Signed, TestApp, TestEnv};
use serde_json::json;
use shared::testkit::demo::{DEMO_PASSWORD, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_every_session_and_blocks_sign_in() {
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let admin = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    let Signed {
        access: jane,
        refresh: jane_refresh,
        ..
    } = app.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let sam = app.sign_in("sam@example.com", DEMO_PASSWORD).await.access;

    app.update_user(&sam, "74", json!({"disabled": true}))
        .await
        .assert_error(403, "admin_required");
    app.update_user(&admin, "abc", json!({"disabled": true}))
        .await
        .assert_error(400, "invalid_user_id");
    app.update_user(&admin, "9999", json!({"disabled": true}))
        .await
        .assert_error(404, "user_not_found");
    app.update_user(&admin, "74", json!({}))
        .await
        .assert_error(400, "invalid_body");
    app.update_user(&admin, "74", json!({"disabled": "yes"}))
        .await
        .assert_error(400, "invalid_body");
    app.update_user(&admin, "1", json!({"disabled": true}))
        .await
        .assert_error(400, "cannot_modify_self");
    app.update_user(&admin, "1", json!({"role": "user"}))
        .await
        .assert_error(400, "cannot_modify_self");
    // The harmless changes of oneself go through (schemathesis once found them a 500).
    let r = app
        .update_user(&admin, "1", json!({"disabled": false, "role": "admin"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["role"], "admin");

    let r = app
        .update_user(&admin, "74", json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled"], true);
    assert_eq!(r.body["revoked_sessions"], 4);
    app.list_my_sessions(&jane, "")
        .await
        .assert_error(401, "session_ended");
    assert_eq!(app.refresh(&jane_refresh).await.status, 401);
    app.login("jane@example.com", DEMO_PASSWORD)
        .await
        .assert_error(403, "account_disabled");

    let r = app
        .update_user(&admin, "74", json!({"disabled": false}))
        .await;
    assert_eq!(r.body["disabled"], false);
    assert_eq!(
        app.login("jane@example.com", DEMO_PASSWORD).await.status,
        200
    );

    // Promotion takes effect on the next request, without a new token.
    let r = app
        .update_user(&admin, "75", json!({"role": "admin"}))
        .await;
    assert_eq!(r.body["role"], "admin");
    let jane_id = USER_ID.to_string();
    assert_eq!(app.get_user_sessions(&sam, &jane_id, "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signed_in_with_a_second_factor_removes_a_users_lost_one() {
    use shared::domain::totp::{Secret, step_at};
    use shared::services::second_factor::{begin_enrolment, confirm_enrolment};
    use shared::testkit::demo::{PLAIN_USER_ID, TOTP_ADMIN_EMAIL, demo_totp_code};
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let t = api_tests::now();
    let shown = begin_enrolment(&env.state, PLAIN_USER_ID, t).await.unwrap();
    let code = Secret::from_base32(&shown.secret)
        .unwrap()
        .code(step_at(t).unwrap());
    confirm_enrolment(&env.state, PLAIN_USER_ID, &code, None, t)
        .await
        .unwrap();
    let sam = PLAIN_USER_ID.to_string();

    // A password-only admin session may not, whatever the policy.
    let aal1 = app.sign_in("admin@example.com", DEMO_PASSWORD).await.access;
    app.update_user(&aal1, &sam, json!({"mfa_enabled": false}))
        .await
        .assert_error(403, "mfa_required");
    // An admin signed in with their second factor may; enrolling is the user's own.
    let code = json!({"code": demo_totp_code(t).unwrap()});
    let aal2 = app
        .sign_in_with_second_factor(TOTP_ADMIN_EMAIL, DEMO_PASSWORD, code)
        .await
        .access;
    app.update_user(&aal2, &sam, json!({"mfa_enabled": true}))
        .await
        .assert_error(400, "invalid_body");
    app.update_user(&aal2, "2", json!({"mfa_enabled": false}))
        .await
        .assert_error(400, "cannot_modify_self");
    let r = app
        .update_user(&aal2, &sam, json!({"mfa_enabled": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["mfa_enabled"].clone(),
            r.body["revoked_sessions"].clone()
        ),
        (json!(false), json!(0))
    );
    // Sam signs in with the password alone again, until they enrol anew.
    let r = app.login("sam@example.com", DEMO_PASSWORD).await;
    assert_eq!(r.body["session"]["aal"], "aal1", "{}", r.body);
    let factor = env
        .state
        .store
        .second_factor(PLAIN_USER_ID)
        .await
        .unwrap()
        .unwrap();
    assert!(!factor.is_enrolled() && factor.recovery_codes.is_empty());
}
