//! `POST /auth/register`: sign-up with a normalised email and a fresh id, bad input refused,
//! one user per email under concurrent sign-ups, registration switched off; and the admin CLI's
//! path to a new user, which follows the same rules.

use api_tests::{CHROME_WINDOWS, TestApp, TestEnv, event, now, send};
use serde_json::{Value, json};
use shared::domain::UserId;
use shared::testkit::demo::{PLAIN_USER_ID, USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_creates_a_user_with_a_fresh_id_and_normalised_email() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let r = app.register(json!({"email": "  New.User@Example.COM ", "password": "a long enough secret", "display_name": "New\u{0} User"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["email"], "new.user@example.com");
    assert_eq!(r.body["display_name"], "New User");
    assert_eq!(r.body["role"], "user");
    assert!(r.body.get("password_hash").is_none());
    let id = r.body["user_id"].as_u64().unwrap();
    assert!(
        id > PLAIN_USER_ID.get(),
        "ids never collide with existing users: {id}"
    );
    let stored = env
        .state
        .store
        .get_user(UserId::of(id))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));

    let again = app
        .register(json!({"email": "NEW.user@example.com", "password": "another long secret"}))
        .await;
    again.assert_error(409, "email_taken");
    let next = app
        .register(json!({"email": "third@example.com", "password": "a long enough secret"}))
        .await;
    assert!(
        next.body["user_id"].as_u64().unwrap() > id + 1,
        "the id taken by the failed attempt is not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_refuses_bad_input() {
    let env = TestEnv::start().await;
    let app = TestApp::new(&env.state);
    for (body, code) in [
        (
            json!({"email": "not-an-email", "password": "a long enough secret"}),
            "invalid_email",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "invalid_password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(129)}),
            "invalid_password",
        ),
        (
            json!({"email": "a@example.com", "password": "password1"}),
            "common_password",
        ),
        (
            json!({"email": "a@example.com", "password": "iloveyou"}),
            "common_password",
        ),
        (json!({"email": "a@example.com"}), "invalid_body"),
        (
            json!({"email": 7, "password": "a long enough secret"}),
            "invalid_body",
        ),
        (
            json!({"email": "a@example.com", "password": "a long enough secret", "role": "admin"}),
            "invalid_body",
        ),
    ] {
        app.register(body).await.assert_error(400, code);
    }
    // Bodies no JSON client sends: built by hand.
    let mut ev = event("POST", "/auth/register", "/auth/register", "", &[]);
    ev["body"] = Value::String("{not json".into());
    send(&env.state, &ev, register::handle)
        .await
        .assert_error(400, "invalid_body");
    ev["body"] = Value::String(format!("{{\"email\":\"{}\"}}", "a".repeat(20_000)));
    send(&env.state, &ev, register::handle)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_exactly_one_user() {
    let env = TestEnv::start().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let state = env.state.clone();
        tasks.spawn(async move {
            let body = json!({"email": "race@example.com", "password": "a long enough secret"});
            TestApp::new(&state).register(body).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_can_be_switched_off() {
    let env = TestEnv::start().await;
    let mut vars = api_tests::env_for(&env.endpoint);
    vars.insert("REGISTRATION_ENABLED".into(), "false".into());
    let closed = api_tests::state_for(&vars).await;
    TestApp::new(&closed)
        .register(json!({"email": "a@example.com", "password": "a long enough secret"}))
        .await
        .assert_error(403, "registration_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_through_the_admin_cli_path_follow_the_same_rules() {
    use shared::domain::Role;
    use shared::services::accounts::{NewUser, create_user};
    let env = TestEnv::seeded().await;
    let app = TestApp::browser(&env.state, CHROME_WINDOWS);
    let new = |email: &'static str, password: &'static str| NewUser {
        email,
        password,
        display_name: None,
        role: Role::Admin,
        user_id: None,
    };
    let user = create_user(
        &env.state.store,
        &env.state.passwords,
        new(" Root@Example.com", "a long enough secret"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(user.email, "root@example.com");
    assert_eq!(user.display_name, "root");
    let err = create_user(
        &env.state.store,
        &env.state.passwords,
        new("root@example.com", "a long enough secret"),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "email_taken");
    let err = create_user(
        &env.state.store,
        &env.state.passwords,
        new("x@example.com", "password"),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "common_password");
    let r = app.login("root@example.com", "a long enough secret").await;
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let jane = USER_ID.to_string();
    assert_eq!(app.get_user_sessions(&token, &jane, "").await.status, 200);
}
