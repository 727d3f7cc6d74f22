//! Step-up: a stolen old token cannot end the owner's other sessions one by one.

use super::{SAM, client};
use api_tests::{TestEnv, now};
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_token_cannot_end_the_owners_other_sessions_one_by_one() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let stolen = app.sign_in(SAM, DEMO_PASSWORD).await;
    let other = app.sign_in(SAM, DEMO_PASSWORD).await;
    let mut item = s
        .store
        .get_session(PLAIN_USER_ID, &stolen.session)
        .await
        .unwrap()
        .unwrap();
    item.auth_time = Some(now() - 3600);
    env.put_session(&item).await;
    app.revoke_my_session(&stolen.access, &other.session)
        .await
        .assert_error(401, "reauthentication_required");
    assert!(app.usable(&other).await);
    // The owner confirms their password in that session: the stolen token does not become
    // recent, only what the confirmation issued does.
    let r = app.reauthenticate(&stolen.access, DEMO_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = r.body["access_token"].as_str().unwrap().to_owned();
    app.revoke_my_session(&stolen.access, &other.session)
        .await
        .assert_error(401, "reauthentication_required");
    assert_eq!(
        app.revoke_my_session(&fresh, &other.session).await.status,
        204
    );
    // Signing out of the current session needs no recent sign-in.
    assert_eq!(
        app.revoke_my_session(&stolen.access, &stolen.session)
            .await
            .status,
        204
    );
}
