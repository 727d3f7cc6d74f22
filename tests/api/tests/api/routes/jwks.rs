//! `GET /.well-known/jwks.json`: the verifying keys, cacheable, never a private part.

use api_tests::{TestApp, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_verifying_keys() {
    let env = TestEnv::start().await;
    let r = TestApp::new(&env.state).jwks().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let key = &r.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], shared::tokens::keys::DEV_ONLY_KID);
    assert!(key.get("d").is_none(), "never the private key");
}
