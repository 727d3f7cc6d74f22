//! Refresh-token theft: any earlier generation ends the session (the previous one only after
//! the grace window), a retry after a lost response is no false alarm, a token whose MAC does
//! not verify never ends a session, and concurrent refreshes of one generation have one
//! successor.

use super::{ATTACKER_IP, SAM, client};
use api_tests::TestEnv;
use shared::domain::EndReason;
use shared::testkit::demo::{DEMO_PASSWORD, PLAIN_USER_ID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_earlier_generation_of_a_refresh_token_ends_the_session() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let first = app.sign_in(SAM, DEMO_PASSWORD).await;
    let second = app.refresh(&first.refresh).await;
    let rt1 = second.body["refresh_token"].as_str().unwrap().to_owned();
    let third = app.refresh(&rt1).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let rt2 = third.body["refresh_token"].as_str().unwrap().to_owned();
    let access2 = third.body["access_token"].as_str().unwrap().to_owned();

    // The thief rotated twice; the owner's sign-in token is two generations old: stolen, even
    // inside the grace window (only the immediately previous one is spared there).
    app.refresh(&first.refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    app.refresh(&rt2).await.assert_error(401, "session_ended");
    app.list_my_sessions(&access2, "")
        .await
        .assert_error(401, "session_ended");
    let stored = s
        .store
        .get_session(PLAIN_USER_ID, &first.session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revoked_reason, Some(EndReason::RefreshTokenReuse));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_generation_after_the_grace_window_ends_the_session() {
    let env = TestEnv::seeded_with(&[("REFRESH_REUSE_GRACE_SECONDS", "0")]).await;
    let s = &env.state;
    let app = client(s);
    let first = app.sign_in(SAM, DEMO_PASSWORD).await;
    let next = app.refresh(&first.refresh).await;
    let rt1 = next.body["refresh_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.refresh(&first.refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    app.refresh(&rt1).await.assert_error(401, "session_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_response_is_no_false_alarm() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let first = app.sign_in(SAM, DEMO_PASSWORD).await;
    // The rotation commits, its response is lost; the client retries with what it holds.
    let lost = app.refresh(&first.refresh).await;
    assert_eq!(lost.status, 200);
    app.refresh(&first.refresh)
        .await
        .assert_error(409, "refresh_token_rotated");
    app.refresh(&first.refresh)
        .await
        .assert_error(409, "refresh_token_rotated");
    // The session lives: its access token works, and the rotated token refreshes.
    assert_eq!(app.list_my_sessions(&first.access, "").await.status, 200);
    let rt1 = lost.body["refresh_token"].as_str().unwrap();
    assert_eq!(app.refresh(rt1).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_that_does_not_verify_never_ends_a_session() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let attacker = client(s).from_ip(ATTACKER_IP);
    let victim = app.sign_in(SAM, DEMO_PASSWORD).await;
    let rotated = app.refresh(&victim.refresh).await;
    let current = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    // The ids are readable in any access token; the attacker makes up the rest, for every
    // generation, and also tries their own token's MAC on the victim's session.
    let attacker = attacker.sign_in("jane@example.com", DEMO_PASSWORD).await;
    let own_mac = attacker.refresh.rsplit('.').next().unwrap().to_owned();
    let mut forged: Vec<String> = (0..4)
        .map(|g| {
            format!(
                "rt2.{PLAIN_USER_ID}.{}.{g}.{}",
                victim.session,
                "A".repeat(43)
            )
        })
        .collect();
    forged.push(format!(
        "rt2.{PLAIN_USER_ID}.{}.0.{own_mac}",
        victim.session
    ));
    forged.push(format!(
        "rt2.{PLAIN_USER_ID}.{}.1.{own_mac}",
        victim.session
    ));
    forged.push(format!(
        "rt1.{PLAIN_USER_ID}.{}.{}",
        victim.session,
        "A".repeat(43)
    ));
    for token in &forged {
        app.refresh(token)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    assert_eq!(app.refresh(&current).await.status, 200, "the session lives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_generation_have_one_successor() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let first = app.sign_in(SAM, DEMO_PASSWORD).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (s, token) = (s.clone(), first.refresh.clone());
        tasks.spawn(async move { client(&s).refresh(&token).await });
    }
    let mut ok = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        match r.status {
            200 => ok.push(r.body["refresh_token"].as_str().unwrap().to_owned()),
            409 => r.assert_error(409, "refresh_token_rotated"),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(ok.len(), 1, "exactly one successor");
    assert_eq!(app.refresh(&ok[0]).await.status, 200);
}
