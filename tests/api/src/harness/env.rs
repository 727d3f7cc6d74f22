//! [`TestEnv`]: one test's own DynamoDB (Dynoxide, in process, in memory) with the service's
//! tables, the state a function would build on it, and fixtures written straight to the store.

use shared::config::Config;
use shared::domain::UserId;
use shared::domain::{Role, Session};
use shared::services::alerts::{Alerts, Mail, Outbox};
use shared::testkit::demo;
use shared::tokens::TokenSigner;
use shared::tokens::keys::dev_signing_key;
use shared::{AppState, tables};
use std::collections::HashMap;
use tokio::sync::oneshot;

/// The app's page the tests' alert links open.
pub const ALERT_LINK_URL: &str = "https://app.example.com/not-me";

/// One test's world: its own DynamoDB and the state a function would build.
pub struct TestEnv {
    pub state: AppState,
    pub signer: TokenSigner,
    pub endpoint: String,
    /// Where [`TestEnv::publish_events`] remembers how far it got.
    events_checkpoint: std::path::PathBuf,
    /// Where the relay of [`TestEnv::publish_events`] writes new-sign-in alerts.
    outbox: std::path::PathBuf,
    _shutdown: oneshot::Sender<()>,
}

/// The environment a function gets, pointed at `endpoint`.
pub fn env_for(endpoint: &str) -> HashMap<String, String> {
    HashMap::from([
        ("APP_ENV".to_owned(), "local".to_owned()),
        ("SESSIONS_TABLE".to_owned(), "sessions".to_owned()),
        ("USERS_TABLE".to_owned(), "users".to_owned()),
        ("USER_EMAILS_TABLE".to_owned(), "user-emails".to_owned()),
        ("ACTIVITY_TABLE".to_owned(), "activity".to_owned()),
        ("DYNAMODB_ENDPOINT".to_owned(), endpoint.to_owned()),
        // Real argon2id, at a cost that lets hundreds of sign-ins share two cores with the
        // in-process DynamoDB; production uses 9 MiB and 4 passes.
        ("PASSWORD_HASH_MEMORY_KIB".to_owned(), "1024".to_owned()),
        ("PASSWORD_HASH_ITERATIONS".to_owned(), "1".to_owned()),
    ])
}

/// Builds the state for an environment map.
pub async fn state_for(env: &HashMap<String, String>) -> AppState {
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("test config");
    AppState::build(config).await.expect("test state")
}

/// The current time, in epoch seconds, as the functions read it.
pub fn now() -> i64 {
    shared::domain::time::now_epoch()
}

impl TestEnv {
    /// Starts Dynoxide on a free loopback port and creates the tables.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`TestEnv::start`] with extra environment settings.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing::Level::INFO)
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let db = dynoxide::Database::memory().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(dynoxide::server::serve_with_shutdown(
            listener,
            db,
            async move {
                let _ = rx.await;
            },
        ));
        let mut vars = env_for(&endpoint);
        // Parallel tests share two cores with their in-process emulators: generous timeouts
        // keep a busy moment from turning into a 503. The 503 test builds its own state with
        // the production timeouts.
        for (k, v) in [
            ("DYNAMODB_CONNECT_TIMEOUT_MS", "5000"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "10000"),
            ("DYNAMODB_OPERATION_TIMEOUT_MS", "20000"),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let state = state_for(&vars)
            .await
            .with_signer(shared::tokens::keys::dev_signing_key())
            .expect("dev signer")
            .with_refresh_key(shared::tokens::refresh::RefreshKey::dev())
            .with_factor_keys(shared::tokens::seal::FactorKeys::dev())
            .with_link_key(shared::tokens::link::LinkKey::dev());
        let names = state.store.tables().clone();
        for (def, name) in tables::ALL.iter().zip([
            &names.sessions,
            &names.users,
            &names.user_emails,
            &names.activity,
        ]) {
            assert!(
                shared::testkit::tables::create(state.store.client(), def, name)
                    .await
                    .unwrap()
            );
        }
        let signer = TokenSigner::new(&dev_signing_key(), &state.config.tokens, 900);
        let nonce = shared::domain::ids::new_session_id().unwrap();
        let events_checkpoint = std::env::temp_dir().join(format!("test-events-{nonce}.json"));
        let outbox = std::env::temp_dir().join(format!("test-outbox-{nonce}"));
        Self {
            state,
            signer,
            endpoint,
            events_checkpoint,
            outbox,
            _shutdown: tx,
        }
    }

    /// The local stack's event relay over this DynamoDB's streams, keeping its checkpoint in
    /// `checkpoint`.
    pub async fn relay(&self, checkpoint: &std::path::Path) -> shared::testkit::relay::Relay {
        let sdk = shared::store::aws_config(&self.state.config.dynamodb).await;
        let client = shared::testkit::relay::Relay::client(&sdk, &self.endpoint);
        let store = self.state.store.clone();
        shared::testkit::relay::Relay::new(client, store, 90 * 86_400, checkpoint)
    }

    /// Does what the event publisher does after the writes so far: their events recorded in
    /// each user's activity history, new-sign-in alerts written to the outbox
    /// ([`TestEnv::outbox`]); the events themselves go nowhere.
    pub async fn publish_events(&self) {
        let relay = self
            .relay(&self.events_checkpoint)
            .await
            .with_alerts(Alerts {
                links: shared::tokens::link::LinkKey::dev(),
                link_url: ALERT_LINK_URL.to_owned(),
                mailer: Outbox(self.outbox.clone()),
            });
        let mut sink = shared::testkit::relay::Discard;
        relay.poll(&mut sink).await.unwrap();
    }

    /// The alerts sent so far (the outbox's messages), in no particular order.
    pub fn outbox(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap())
            .collect()
    }

    /// Starts and seeds the demo data.
    pub async fn seeded() -> Self {
        Self::seeded_with(&[]).await
    }

    /// [`TestEnv::seeded`] with extra environment settings.
    pub async fn seeded_with(extra: &[(&str, &str)]) -> Self {
        let env = Self::start_with(extra).await;
        assert!(demo::seed(&env.state, now()).await.unwrap());
        env
    }

    /// A new active session for `user_id` and a token for it, written straight to the store
    /// (no sign-in, no password check).
    pub async fn login(&self, user_id: UserId, role: Role) -> (Session, String) {
        let session = demo::start_session(
            &self.state.store,
            user_id,
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
            "192.0.2.1",
            now(),
            &self.state.config.sessions,
        )
        .await
        .unwrap();
        let token = self.signer.issue_for(&session, role, now()).unwrap();
        (session, token)
    }

    /// Overwrites a session item as it is (for ended, expired or idle fixtures).
    pub async fn put_session(&self, session: &Session) {
        self.state
            .store
            .client()
            .put_item()
            .table_name(&self.state.store.tables().sessions)
            .set_item(Some(shared::store::session_item(session).unwrap()))
            .send()
            .await
            .unwrap();
    }

    /// Writes many session items as they are, 25 to a request (for a user's history).
    pub async fn put_sessions(&self, sessions: &[Session]) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let store = &self.state.store;
        for chunk in sessions.chunks(25) {
            let writes = chunk
                .iter()
                .map(|s| {
                    let put = PutRequest::builder()
                        .set_item(Some(shared::store::session_item(s).unwrap()))
                        .build()
                        .unwrap();
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            let out = store
                .client()
                .batch_write_item()
                .request_items(&store.tables().sessions, writes)
                .send()
                .await
                .unwrap();
            assert!(
                out.unprocessed_items.is_none_or(|u| u.is_empty()),
                "the local DynamoDB took every write"
            );
        }
    }

    /// Moves a session's last activity (and sign-in time) `seconds` into the past.
    pub async fn age_session(&self, user_id: UserId, session_id: &str, seconds: i64) {
        let store = &self.state.store;
        let mut s = store
            .get_session(user_id, session_id)
            .await
            .unwrap()
            .unwrap();
        s.last_activity -= seconds;
        s.auth_time = Some(s.auth_time() - seconds);
        store.replace_session(&s).await.unwrap();
    }

    /// How many sessions of `user_id` are active now, as the store counts them.
    pub async fn active_sessions(&self, user_id: UserId) -> usize {
        let policy = self.state.config.sessions;
        self.state
            .store
            .active_sessions(user_id, now(), &policy)
            .await
            .unwrap()
            .len()
    }

    /// Sets attributes on a user item (role, disabled).
    pub async fn update_user(&self, user_id: UserId, role: &str, disabled: bool) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.state
            .store
            .client()
            .update_item()
            .table_name(&self.state.store.tables().users)
            .key("user_id", AttributeValue::N(user_id.to_string()))
            .update_expression("SET #r = :r, disabled = :d")
            .expression_attribute_names("#r", "role")
            .expression_attribute_values(":r", AttributeValue::S(role.to_owned()))
            .expression_attribute_values(":d", AttributeValue::Bool(disabled))
            .send()
            .await
            .unwrap();
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // The relay's checkpoint, and the file it is written through.
        let _ = std::fs::remove_file(&self.events_checkpoint);
        let _ = std::fs::remove_dir_all(&self.outbox);
        let _ = std::fs::remove_file(self.events_checkpoint.with_extension("tmp"));
    }
}

/// A relay checkpoint file of a test's own, in the temporary directory: removed, with the file
/// it is written through, when dropped, so that test runs leave nothing behind.
#[derive(Debug)]
pub struct Checkpoint(std::path::PathBuf);

impl Checkpoint {
    /// A fresh checkpoint path named after `name`.
    pub fn new(name: &str) -> Self {
        let nonce = shared::domain::ids::new_session_id().unwrap();
        Self(std::env::temp_dir().join(format!("{name}-{nonce}.json")))
    }
}

impl std::ops::Deref for Checkpoint {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("tmp"));
    }
}
