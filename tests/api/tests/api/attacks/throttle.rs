//! The password throttle: the password change is no unthrottled oracle and shares the count
//! with sign-in, concurrent wrong passwords all count, a stranger cannot lock the owner out,
//! and IPv6 clients count per /64.

use super::{ATTACKER_IP, SAM, client};
use api_tests::{TestEnv, now};
use shared::testkit::demo::DEMO_PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_change_is_no_unthrottled_password_oracle() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let attacker = client(s).from_ip(ATTACKER_IP);
    let me = attacker.sign_in(SAM, DEMO_PASSWORD).await;
    for _ in 0..5 {
        attacker
            .change_password(&me.access, "a wrong guess", "a brand new secret")
            .await
            .assert_error(403, "invalid_current_password");
    }
    let r = attacker
        .change_password(&me.access, "a wrong guess", "a brand new secret")
        .await;
    r.assert_error(429, "too_many_attempts");
    assert!(r.header("retry-after").is_some());
    // Even the right password now waits, and sign-in from this client shares the count.
    attacker
        .change_password(&me.access, DEMO_PASSWORD, "a brand new secret")
        .await
        .assert_error(429, "too_many_attempts");
    attacker
        .login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_throttled_for_sign_in_is_throttled_for_the_password_change_too() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let attacker = client(s).from_ip(ATTACKER_IP);
    let me = attacker.sign_in(SAM, DEMO_PASSWORD).await;
    for _ in 0..5 {
        attacker
            .login(SAM, "a wrong guess")
            .await
            .assert_error(401, "invalid_credentials");
    }
    attacker
        .change_password(&me.access, DEMO_PASSWORD, "a brand new secret")
        .await
        .assert_error(429, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_all_count() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let guess_all_at_once = || async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20 {
            let s = s.clone();
            tasks.spawn(async move {
                client(&s)
                    .from_ip(ATTACKER_IP)
                    .login(SAM, &format!("guess number {i}"))
                    .await
            });
        }
        let (mut wrong, mut throttled) = (0, 0);
        while let Some(r) = tasks.join_next().await {
            let r = r.unwrap();
            match r.status {
                401 => wrong += 1,
                429 => throttled += 1,
                other => panic!("{other}: {}", r.body),
            }
        }
        (wrong, throttled)
    };
    assert_eq!(
        guess_all_at_once().await,
        (5, 15),
        "exactly the limit is tried"
    );
    // A new window, started by many at once, still lets exactly the limit through.
    let key = shared::domain::throttle::client_key(SAM, ATTACKER_IP);
    use aws_sdk_dynamodb::types::AttributeValue;
    s.store
        .client()
        .update_item()
        .table_name(&s.store.tables().user_emails)
        .key("email", AttributeValue::S(key))
        .update_expression("SET window_start = :old")
        .expression_attribute_values(":old", AttributeValue::N((now() - 901).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        guess_all_at_once().await,
        (5, 15),
        "and again in the next window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_knows_the_email_cannot_lock_the_owner_out() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let attacker = client(s).from_ip(ATTACKER_IP);
    // The owner signs in from home: that network becomes known to the account.
    let owner = app.sign_in(SAM, DEMO_PASSWORD).await;
    // The attacker's own address is locked after five guesses...
    for _ in 0..5 {
        attacker.login(SAM, "a wrong guess").await;
    }
    attacker
        .login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    // ...the owner's is not.
    assert_eq!(app.login(SAM, DEMO_PASSWORD).await.status, 200);
    // Spread over many addresses, the guesses reach the account's ceiling: strangers get 429.
    let mut throttled = 0;
    for i in 0..60 {
        let ip = format!("192.0.2.{i}");
        if app
            .clone()
            .from_ip(&ip)
            .login(SAM, "a wrong guess")
            .await
            .status
            == 429
        {
            throttled += 1;
        }
    }
    assert!(
        throttled > 0,
        "the ceiling caps a guessing attack spread over addresses"
    );
    app.clone()
        .from_ip("192.0.2.200")
        .login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    // The owner still signs in from a network the account knows, and re-authenticates in a
    // session it holds.
    assert_eq!(app.login(SAM, DEMO_PASSWORD).await.status, 200);
    assert_eq!(
        app.reauthenticate(&owner.access, DEMO_PASSWORD)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_count_per_64() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    for i in 0..5 {
        app.clone()
            .from_ip(&format!("2001:db8:1:2::{i:x}"))
            .login(SAM, "a wrong guess")
            .await;
    }
    app.clone()
        .from_ip("2001:db8:1:2:ffff::1")
        .login(SAM, DEMO_PASSWORD)
        .await
        .assert_error(429, "too_many_attempts");
    assert_eq!(
        app.clone()
            .from_ip("2001:db8:1:3::1")
            .login(SAM, DEMO_PASSWORD)
            .await
            .status,
        200
    );
}
