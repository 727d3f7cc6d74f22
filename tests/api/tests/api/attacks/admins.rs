//! Two admins demoting or disabling each other at once leave one active admin.

use super::client;
use api_tests::{TestEnv, now};
use serde_json::{Value, json};
use shared::domain::Role;
use shared::domain::UserId;
use shared::services::accounts::{NewUser, create_user};
use shared::testkit::demo::{ADMIN_ID, DEMO_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_demoting_or_disabling_each_other_at_once_leave_one_admin() {
    let env = TestEnv::seeded().await;
    let s = &env.state;
    let app = client(s);
    let second = NewUser {
        email: "root@example.com",
        password: DEMO_PASSWORD,
        display_name: None,
        role: Role::Admin,
        user_id: None,
    };
    let root = create_user(&s.store, &s.passwords, second, now())
        .await
        .unwrap()
        .user_id;
    for (round, body) in [json!({"role": "user"}), json!({"disabled": true})]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let a = app.sign_in("admin@example.com", DEMO_PASSWORD).await;
        let b = app.sign_in("root@example.com", DEMO_PASSWORD).await;
        let patch = |token: String, target: UserId, body: Value| {
            let s = s.clone();
            async move {
                let target = target.to_string();
                client(&s).update_user(&token, &target, body).await
            }
        };
        let (x, y) = tokio::join!(
            tokio::spawn(patch(a.access, root, body.clone())),
            tokio::spawn(patch(b.access, ADMIN_ID, body.clone())),
        );
        let statuses = [x.unwrap().status, y.unwrap().status];
        assert_eq!(
            statuses.iter().filter(|st| **st == 200).count(),
            1,
            "round {round}: exactly one wins: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|st| matches!(st, 200 | 401 | 403 | 503)),
            "{statuses:?}"
        );
        let mut admins = 0;
        for id in [ADMIN_ID, root] {
            let user = s.store.get_user(id).await.unwrap().unwrap();
            admins += usize::from(user.is_active_admin());
        }
        assert_eq!(admins, 1, "round {round}: one active admin remains");
        // Both admins again for the next round.
        env.update_user(ADMIN_ID, "admin", false).await;
        env.update_user(root, "admin", false).await;
    }
}
