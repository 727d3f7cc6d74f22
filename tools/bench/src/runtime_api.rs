//! A minimal Lambda Runtime API (the `2018-06-01` protocol a custom runtime talks to): one
//! server per spawned function process, so a process killed half-way can never take an event
//! meant for the next one.
//!
//! `GET /runtime/invocation/next` hands out the queued events one at a time with the headers
//! Lambda sends; `POST /runtime/invocation/{id}/response` (or `/error`) completes one. The
//! server notes when the first `next` arrived (the end of the function's init) and, per
//! invocation, when the event was handed out and when the answer came back.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Notify, mpsc, oneshot};

/// One finished invocation.
#[derive(Debug)]
pub struct Completion {
    /// The request id.
    pub id: String,
    /// When `next` returned the event.
    pub handed_out: Instant,
    /// When the response (or error) was posted.
    pub finished: Instant,
    /// `response` (not `error`).
    pub ok: bool,
    /// What the function posted.
    pub body: Bytes,
}

struct Inner {
    queue: Mutex<VecDeque<(String, String)>>,
    ready: Notify,
    first_next: Mutex<Option<oneshot::Sender<Instant>>>,
    handed_out: Mutex<HashMap<String, Instant>>,
    done: mpsc::UnboundedSender<Completion>,
}

/// A running Runtime API for one function process.
pub struct RuntimeApi {
    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
    /// Fires when the first `next` arrives.
    pub first_next: Option<oneshot::Receiver<Instant>>,
    /// Finished invocations.
    pub completions: mpsc::UnboundedReceiver<Completion>,
}

impl RuntimeApi {
    /// Starts a server on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?.to_string();
        let (first_tx, first_rx) = oneshot::channel();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            queue: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            first_next: Mutex::new(Some(first_tx)),
            handed_out: Mutex::new(HashMap::new()),
            done: done_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond_ok),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(respond_err),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            inner,
            server,
            first_next: Some(first_rx),
            completions: done_rx,
        })
    }

    /// Queues an event (an API Gateway event as JSON text) under a request id.
    pub fn push(&self, id: String, event: String) {
        if let Ok(mut queue) = self.inner.queue.lock() {
            queue.push_back((id, event));
        }
        self.inner.ready.notify_one();
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> (HeaderMap, String) {
    if let Some(tx) = inner.first_next.lock().ok().and_then(|mut f| f.take()) {
        let _ = tx.send(Instant::now());
    }
    loop {
        let notified = inner.ready.notified();
        let item = inner.queue.lock().ok().and_then(|mut q| q.pop_front());
        if let Some((id, event)) = item {
            let mut headers = HeaderMap::new();
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 5_000)
                .unwrap_or_default();
            let put = |headers: &mut HeaderMap, name: &'static str, value: String| {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            };
            put(&mut headers, "lambda-runtime-aws-request-id", id.clone());
            put(
                &mut headers,
                "lambda-runtime-deadline-ms",
                deadline.to_string(),
            );
            put(
                &mut headers,
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
            );
            put(
                &mut headers,
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
            );
            put(&mut headers, "content-type", "application/json".to_owned());
            if let Ok(mut handed) = inner.handed_out.lock() {
                handed.insert(id, Instant::now());
            }
            return (headers, event);
        }
        notified.await;
    }
}

fn complete(inner: &Inner, id: String, ok: bool, body: Bytes) -> StatusCode {
    let finished = Instant::now();
    let handed_out = inner
        .handed_out
        .lock()
        .ok()
        .and_then(|mut h| h.remove(&id))
        .unwrap_or(finished);
    let _ = inner.done.send(Completion {
        id,
        handed_out,
        finished,
        ok,
        body,
    });
    StatusCode::ACCEPTED
}

async fn respond_ok(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&inner, id, true, body)
}

async fn respond_err(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&inner, id, false, body)
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("bench: init error: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}
