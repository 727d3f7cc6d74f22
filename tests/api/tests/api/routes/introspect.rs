//! `POST /auth/introspect`: other backends learn whether an access token is alive now (RFC
//! 7662), so an ended session stops working there within one request.

use api_tests::{TestApp, TestEnv, now};
use serde_json::json;
use shared::config::AppEnv;
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD, PLAIN_USER_ID};

const BACKEND: &str = "arn:aws:iam::123456789012:role/orders-service";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_token_is_active_until_its_session_ends_then_at_once_not() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let r = app.introspect(&signed.access, Some(BACKEND)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body;
    assert_eq!(
        (&b["active"], &b["sub"], &b["sid"], &b["token_type"]),
        (
            &json!(true),
            &json!("75"),
            &json!(signed.session),
            &json!("Bearer")
        )
    );
    assert_eq!(
        (&b["aal"], &b["amr"], &b["role"]),
        (&json!("aal1"), &json!(["pwd"]), &json!("user"))
    );
    let (iat, exp) = (b["iat"].as_i64().unwrap(), b["exp"].as_i64().unwrap());
    assert!(iat <= now() && exp > now() && b["auth_time"].as_i64().unwrap() <= now());
    assert_eq!(b["iss"], env.state.config.tokens.issuer.as_str());
    // Ended here: inactive there with the next question, long before the token expires.
    assert_eq!(app.logout(&signed.access).await.status, 204);
    let r = app.introspect(&signed.access, Some(BACKEND)).await;
    assert_eq!((r.status, r.body), (200, json!({"active": false})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unusable_token_is_just_inactive() {
    let env = TestEnv::seeded().await;
    let app = TestApp::new(&env.state);
    let signed = app.sign_in("sam@example.com", DEMO_PASSWORD).await;
    let (_, admin) = env.login(ADMIN_ID, shared::domain::Role::Admin).await;
    // Not a token, a refresh token, a token signed with a key that is not ours, an expired
    // one: nothing more is said.
    let claims = env.signer.claims(
        PLAIN_USER_ID,
        &signed.session,
        shared::domain::Role::User,
        now(),
    );
    let stranger = shared::tokens::keys::SigningKey::generate("stranger").unwrap();
    let cfg = &env.state.config.tokens;
    let forged = shared::tokens::TokenSigner::new(&stranger, cfg, 900)
        .sign_claims(&claims)
        .unwrap();
    let mut old = claims.clone();
    (old.iat, old.exp) = (now() - 3600, now() - 60);
    let expired = env.signer.sign_claims(&old).unwrap();
    let refresh = signed.refresh.as_str();
    for token in ["", "garbage.garbage.garbage", refresh, &forged, &expired] {
        let r = app.introspect(token, Some(BACKEND)).await;
        assert_eq!(
            (r.status, &r.body),
            (200, &json!({"active": false})),
            "{token}"
        );
    }
    // A disabled user's token, from the next request on.
    assert_eq!(
        app.introspect(&signed.access, Some(BACKEND)).await.body["active"],
        true
    );
    env.update_user(PLAIN_USER_ID, "user", true).await;
    let r = app.introspect(&signed.access, Some(BACKEND)).await;
    assert_eq!(r.body, json!({"active": false}));
    // The admin's role comes from the users table.
    let r = app.introspect(&admin, Some(BACKEND)).await;
    assert_eq!(
        (&r.body["active"], &r.body["role"]),
        (&json!(true), &json!("admin"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_signed_backends_may_ask_and_only_with_a_form() {
    let env = TestEnv::seeded().await;
    let token = TestApp::new(&env.state)
        .sign_in("sam@example.com", DEMO_PASSWORD)
        .await
        .access;
    // A deployed function answers only requests that came through the IAM authorizer.
    let mut deployed = env.state.clone();
    std::sync::Arc::make_mut(&mut deployed.config).app_env = AppEnv::Deployed;
    let app = TestApp::new(&deployed);
    app.introspect(&token, None)
        .await
        .assert_error(403, "iam_required");
    assert_eq!(
        app.introspect(&token, Some(BACKEND)).await.body["active"],
        true
    );
    // A bearer token in the header is no way in either: the caller is the IAM principal.
    let with_bearer = app
        .call(
            "introspect",
            "/auth/introspect",
            Some(&token),
            Some(json!({"token": token})),
        )
        .await;
    with_bearer.assert_error(403, "iam_required");
    // The local stack has no IAM; the body must still be RFC 7662's form.
    let local = TestApp::new(&env.state);
    assert_eq!(local.introspect(&token, None).await.body["active"], true);
    local
        .call(
            "introspect",
            "/auth/introspect",
            None,
            Some(json!({"token": token})),
        )
        .await
        .assert_error(400, "invalid_body");
}
