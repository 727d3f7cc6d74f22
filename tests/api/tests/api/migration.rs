//! Upgrading a stack to the live index: the old sessions table's items copied into the new one
//! (`sessions-cli copy-sessions`), sessions not ended found by the live index afterwards.

use api_tests::TestEnv;
use shared::domain::{EndReason, Role};
use shared::tables::SESSIONS;
use shared::testkit::demo::PLAIN_USER_ID;
use shared::testkit::tables::create;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_an_old_sessions_table_fills_the_live_index_and_keeps_newer_items() {
    let env = TestEnv::seeded().await;
    let store = &env.state.store;
    let old = format!("{}-before-live", store.tables().sessions);
    create(store.client(), &SESSIONS, &old).await.unwrap();

    // Three sessions as the old table holds them (no live_until): one active, one ended, and
    // one that a request since the switch has already written to the new table.
    let (active, _) = env.login(PLAIN_USER_ID, Role::User).await;
    let (mut ended, _) = env.login(PLAIN_USER_ID, Role::User).await;
    let (newer, _) = env.login(PLAIN_USER_ID, Role::User).await;
    ended.revoked_at = Some(ended.created_at);
    ended.revoked_reason = Some(EndReason::Logout);
    for session in [&active, &ended, &newer] {
        let item: shared::store::Item = serde_dynamo::to_item(session).unwrap();
        store
            .client()
            .put_item()
            .table_name(&old)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    // The new table starts empty of them but for the newer one, written since and relabelled.
    for session in [&active, &ended] {
        store
            .client()
            .delete_item()
            .table_name(&store.tables().sessions)
            .key(
                "user_id",
                serde_dynamo::to_attribute_value(session.user_id).unwrap(),
            )
            .key(
                "session_id",
                serde_dynamo::to_attribute_value(&session.session_id).unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let mut relabelled = newer.clone();
    relabelled.label = Some("kept".into());
    env.put_session(&relabelled).await;
    let before = env.active_sessions(PLAIN_USER_ID).await;

    let report = store.copy_sessions_from(&old).await.unwrap();
    assert_eq!((report.copied, report.live, report.kept), (2, 1, 1));
    assert_eq!(env.active_sessions(PLAIN_USER_ID).await, before + 1);
    let kept = store
        .get_session(PLAIN_USER_ID, &newer.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.label.as_deref(), Some("kept"));
    let copied = store
        .get_session(PLAIN_USER_ID, &ended.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copied.revoked_reason, Some(EndReason::Logout));

    // Again, after an interruption say: nothing more to write.
    let again = store.copy_sessions_from(&old).await.unwrap();
    assert_eq!((again.copied, again.kept), (0, 3));
}
