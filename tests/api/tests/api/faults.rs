//! Faults between the functions and DynamoDB: a store that is slow, throttling or refusing
//! connections gives 503 + `Retry-After` within the configured bound, leaves no partial state,
//! and the next request after recovery succeeds. A small HTTP proxy in front of Dynoxide
//! injects the faults.

use api_tests::{TestApp, TestEnv};
use serde_json::json;
use shared::domain::Role;
use shared::domain::UserId;
use shared::testkit::demo::ADMIN_ID;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Forward as is.
    Pass,
    /// Hold every request for five seconds, then forward.
    Slow,
    /// Answer operations whose `X-Amz-Target` ends with this (or all, with "*") with a
    /// ThrottlingException; forward the rest.
    Throttle(&'static str),
    /// Close the connection without answering.
    Close,
}

struct Proxy {
    endpoint: String,
    mode: Arc<Mutex<Mode>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let shared_mode = mode.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve(conn, upstream.clone(), shared_mode.clone()));
            }
        });
        Self { endpoint, mode }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

/// Reads one HTTP/1.1 message (head + Content-Length body); `None` at end of stream.
async fn read_message<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    r.read_exact(&mut body).await.ok()?;
    Some((head, body))
}

async fn serve(conn: TcpStream, upstream: String, mode: Arc<Mutex<Mode>>) {
    let (read, mut write) = conn.into_split();
    let mut read = BufReader::new(read);
    let mut upstream_conn: Option<BufReader<TcpStream>> = None;
    while let Some((head, body)) = read_message(&mut read).await {
        let mode = *mode.lock().unwrap();
        let target = head
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default();
        match mode {
            Mode::Close => return,
            Mode::Throttle(op) if op == "*" || target.ends_with(op) => {
                let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if write.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
            _ => {}
        }
        if upstream_conn.is_none() {
            match TcpStream::connect(&upstream).await {
                Ok(c) => upstream_conn = Some(BufReader::new(c)),
                Err(_) => return,
            }
        }
        let Some(up) = upstream_conn.as_mut() else {
            return;
        };
        if up.get_mut().write_all(head.as_bytes()).await.is_err()
            || up.get_mut().write_all(&body).await.is_err()
        {
            return;
        }
        let Some((rhead, rbody)) = read_message(up).await else {
            return;
        };
        if write.write_all(rhead.as_bytes()).await.is_err()
            || write.write_all(&rbody).await.is_err()
        {
            return;
        }
    }
}

/// A state whose DynamoDB traffic goes through a proxy, with the production timeouts.
async fn behind_proxy(env: &TestEnv) -> (Proxy, shared::AppState) {
    let proxy = Proxy::start(&env.endpoint).await;
    let state = api_tests::state_for(&api_tests::env_for(&proxy.endpoint))
        .await
        .with_signer(shared::tokens::keys::dev_signing_key())
        .unwrap()
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
    (proxy, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_throttling_or_refusing_store_gives_a_quick_503_and_recovers() {
    let env = TestEnv::seeded().await;
    let (_, token) = env.login(ADMIN_ID, Role::Admin).await;
    let (proxy, state) = behind_proxy(&env).await;
    let app = TestApp::new(&state);
    assert_eq!(
        app.get_user_sessions(&token, "74", "").await.status,
        200,
        "through the proxy, healthy"
    );

    for mode in [Mode::Slow, Mode::Throttle("*"), Mode::Close] {
        proxy.set(mode);
        let started = Instant::now();
        let r = app.get_user_sessions(&token, "74", "").await;
        let elapsed = started.elapsed();
        r.assert_error(503, "service_unavailable");
        assert_eq!(r.header("retry-after"), Some("1"), "{mode:?}");
        // The configured operation timeout (1.6 s) bounds it; SDK defaults would take far longer.
        assert!(
            elapsed < Duration::from_secs(4),
            "{mode:?} took {elapsed:?}"
        );

        proxy.set(Mode::Pass);
        assert_eq!(
            app.get_user_sessions(&token, "74", "").await.status,
            200,
            "recovered after {mode:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_that_fails_half_way_leaves_nothing_behind() {
    let env = TestEnv::seeded().await;
    let (proxy, state) = behind_proxy(&env).await;
    let app = TestApp::new(&state);
    let halfway = json!({"email": "halfway@example.com", "password": "a long enough secret"});
    // The id is allocated, then the transaction writing user and email is throttled.
    proxy.set(Mode::Throttle("TransactWriteItems"));
    app.register(halfway.clone())
        .await
        .assert_error(503, "service_unavailable");
    assert_eq!(
        env.state
            .store
            .user_id_by_email("halfway@example.com")
            .await
            .unwrap(),
        None,
        "no email claimed"
    );
    let next_id = env.state.store.allocate_user_id().await.unwrap();
    for id in 1..next_id.get() {
        if let Some(user) = env.state.store.get_user(UserId::of(id)).await.unwrap() {
            assert_ne!(user.email, "halfway@example.com", "no user item");
        }
    }
    // After recovery the same email registers normally.
    proxy.set(Mode::Pass);
    assert_eq!(app.register(halfway).await.status, 201);
}
