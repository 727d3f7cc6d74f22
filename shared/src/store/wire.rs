//! DynamoDB's JSON protocol spoken directly, for the reads on nearly every request's path: the
//! caller's consistent `BatchGetItem` and the live index's `Query`.
//!
//! The SDK's pipeline (orchestrator, interceptors, endpoint resolution, identity cache, type
//! conversions) costs more CPU per request than the request itself: on a 128 MB function,
//! which gets about 7 % of a core, that is milliseconds. These two operations go out as one
//! signed HTTP request each (SigV4 for their one shape, `super::signer`, with the signing key
//! `aws-sigv4` derives), their JSON written with serde and read straight into the items'
//! types (`super::item_json`). Every other
//! operation (writes, transactions) stays on the SDK client.
//!
//! What the SDK client gives and this keeps: its HTTP client, so the same connection pool and
//! TLS roots (rustls on ring) and its connect timeout; its region and credentials; its attempt
//! and operation timeouts; and its retries (attempts, backoff) of throttling, DynamoDB's own
//! transient errors and lost connections ("standard" mode, without the retry quota).

use super::StoreError;
use super::signer::Signer;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::Client;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_runtime::client::auth::no_auth::{NO_AUTH_SCHEME_ID, NoAuthScheme};
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime::client::identity::no_auth::NoAuthIdentityResolver;
use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Credentials are taken again this long before they expire (the SDK's identity cache's
/// buffer). Lambda's, from the environment, do not expire within the process's life.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(10);

/// Told when each request starts and ends (the round-trip recorder of the tests and the
/// bench); the functions have none.
pub trait Observe: Send + Sync + fmt::Debug {
    /// A request of `op` starts (before its first await).
    fn started(&self, op: &'static str) -> Instant;
    /// The request of `op` that started at `start` has ended, retries included.
    fn ended(&self, op: &'static str, start: Instant);
}

/// A DynamoDB client for the JSON protocol, on an SDK client's HTTP client and settings.
/// Cheap to clone.
#[derive(Clone)]
pub struct Wire(Arc<Inner>);

#[derive(Clone)]
struct Inner {
    /// `None` when the SDK client has no HTTP client (the SDK then has none either, its
    /// default client being left out of the build): every request fails.
    http: Option<SharedHttpConnector>,
    endpoint: String,
    host: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    cached: Arc<Mutex<Option<Credentials>>>,
    signer: Arc<Signer>,
    attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    attempt_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    observer: Option<Arc<dyn Observe>>,
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wire")
            .field("endpoint", &self.0.endpoint)
            .field("region", &self.0.region)
            .finish_non_exhaustive()
    }
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// DynamoDB answered with an error.
    #[error("DynamoDB answered {status}: {code}: {message}")]
    Service {
        /// The HTTP status.
        status: u16,
        /// The error's code (`ThrottlingException`, ...).
        code: String,
        /// Its message.
        message: String,
    },
    /// The request did not get an answer (connection refused or lost, TLS, connect timeout).
    #[error("sending the request")]
    Transport(#[source] BoxError),
    /// An attempt, or the whole operation, took longer than its timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The answer was not the JSON expected.
    #[error("reading the answer")]
    Decode(#[source] serde_json::Error),
    /// The request could not be built or signed.
    #[error("preparing the request")]
    Prepare(#[source] BoxError),
    /// The credentials could not be had (the SDK client answers the same with a dispatch
    /// failure: a 503).
    #[error("no credentials to sign with")]
    Credentials(#[source] BoxError),
}

impl WireError {
    /// Whether another attempt may succeed.
    fn retryable(&self) -> bool {
        match self {
            WireError::Service { status, code, .. } => {
                *status >= 500 || super::TRANSIENT_CODES.contains(&code.as_str())
            }
            WireError::Transport(_) | WireError::Timeout(_) => true,
            WireError::Decode(_) | WireError::Prepare(_) | WireError::Credentials(_) => false,
        }
    }

    /// Whether the failure is DynamoDB's or the way to it (503), not the request's (500).
    fn transient(&self) -> bool {
        self.retryable() || matches!(self, WireError::Credentials(_))
    }
}

/// DynamoDB's error body: `{"__type": "com.amazonaws.dynamodb.v20120810#Code", "message": ...}`.
#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

impl Wire {
    /// A wire client beside `client`, for the same DynamoDB: `endpoint` (the override
    /// `client` was built with) or the region's, as the SDK's endpoint rules resolve it;
    /// `client`'s HTTP client (one connection pool for both), region, timeouts and retries;
    /// `credentials`, those `client` signs with (the SDK's configuration does not give them
    /// back; without, every request fails). Fails without a region.
    pub fn new(
        client: &Client,
        endpoint: Option<&str>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Result<Self, BoxError> {
        let config = client.config();
        let region = config
            .region()
            .map(|r| r.as_ref())
            .ok_or("no AWS region is configured")?;
        let endpoint = resolve_endpoint(region, endpoint)?;
        let uri: http::Uri = endpoint.parse()?;
        let host = uri
            .authority()
            .ok_or("the DynamoDB endpoint has no host")?
            .to_string();
        // Requests are signed for `POST /` (`super::signer`).
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(
                "the DynamoDB endpoint must be a scheme, host and port, without a path".into(),
            );
        }
        let timeouts = config.timeout_config();
        let retries = config.retry_config();
        // The settings the SDK asks its HTTP client with, so that both get the same connector
        // (the client keeps one per settings), and the components a connector is made with.
        let mut settings = HttpConnectorSettings::builder();
        settings.set_connect_timeout(timeouts.and_then(|t| t.connect_timeout()));
        settings.set_read_timeout(timeouts.and_then(|t| t.read_timeout()));
        let components = RuntimeComponentsBuilder::new("wire")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                NO_AUTH_SCHEME_ID,
            ])))
            .with_auth_scheme(NoAuthScheme::new())
            .with_identity_cache(Some(IdentityCache::no_cache()))
            .with_identity_resolver(NO_AUTH_SCHEME_ID, NoAuthIdentityResolver::new())
            .with_endpoint_resolver(Some(StaticUriEndpointResolver::uri(endpoint.clone())))
            .with_retry_strategy(Some(NeverRetryStrategy::new()))
            .with_sleep_impl(Some(TokioSleep::new()))
            .with_time_source(Some(SystemTimeSource::new()))
            .build()?;
        Ok(Self(Arc::new(Inner {
            http: config
                .http_client()
                .map(|http| http.http_connector(&settings.build(), &components)),
            endpoint,
            host,
            region: region.to_owned(),
            credentials,
            cached: Arc::default(),
            signer: Arc::new(Signer::new(region)),
            attempts: retries.map_or(1, |r| r.max_attempts()).max(1),
            initial_backoff: retries.map_or(Duration::ZERO, |r| r.initial_backoff()),
            max_backoff: retries.map_or(Duration::ZERO, |r| r.max_backoff()),
            attempt_timeout: timeouts.and_then(|t| t.operation_attempt_timeout()),
            operation_timeout: timeouts.and_then(|t| t.operation_timeout()),
            observer: None,
        })))
    }

    /// The same client, telling `observer` of every request.
    pub fn observed(&self, observer: Arc<dyn Observe>) -> Self {
        let mut inner = (*self.0).clone();
        inner.observer = Some(observer);
        Self(Arc::new(inner))
    }

    /// Calls `op` (`BatchGetItem`, `Query`) with `input`, retrying what may succeed again, and
    /// reads its output. Errors are sorted into transient (503) or not (500).
    pub(crate) async fn call<O: DeserializeOwned>(
        &self,
        op: &'static str,
        input: &impl Serialize,
    ) -> Result<O, StoreError> {
        let started = self.0.observer.as_ref().map(|o| o.started(op));
        let result = self.attempts(op, input).await;
        if let (Some(observer), Some(start)) = (&self.0.observer, started) {
            observer.ended(op, start);
        }
        result.map_err(|e| {
            let transient = e.transient();
            let source: BoxError = Box::new(e);
            if transient {
                StoreError::Transient {
                    operation: op,
                    source,
                }
            } else {
                StoreError::Failed {
                    operation: op,
                    source,
                }
            }
        })
    }

    /// The attempts of one operation, each within the attempt timeout and all within the
    /// operation timeout. One timer per attempt, whichever of the two ends first: each timer a
    /// request sets wakes the runtime's driver once more (an eventfd write), and the operation
    /// timeout rarely matters.
    async fn attempts<O: DeserializeOwned>(
        &self,
        op: &'static str,
        input: &impl Serialize,
    ) -> Result<O, WireError> {
        let body = serde_json::to_vec(input).map_err(|e| WireError::Prepare(e.into()))?;
        let body = Bytes::from(body);
        let operation = self
            .0
            .operation_timeout
            .map(|limit| (Instant::now() + limit, limit));
        let mut attempt = 0;
        loop {
            let limit = attempt_limit(self.0.attempt_timeout, operation, Instant::now());
            let work = self.attempt(op, body.clone());
            let outcome = match limit {
                Some(Limit { left, operation }) => {
                    match (tokio::time::timeout(left, work).await, operation) {
                        (Ok(outcome), _) => outcome,
                        (Err(_), Some(limit)) => return Err(WireError::Timeout(limit)),
                        (Err(_), None) => Err(WireError::Timeout(left)),
                    }
                }
                None => work.await,
            };
            attempt += 1;
            match outcome {
                Ok(answer) => return serde_json::from_slice(&answer).map_err(WireError::Decode),
                Err(e) if e.retryable() && attempt < self.0.attempts => {
                    let wait = backoff(self.0.initial_backoff, self.0.max_backoff, attempt);
                    let wait = wait.mul_f64(fastrand::f64());
                    if let Some((deadline, limit)) = operation
                        && Instant::now() + wait >= deadline
                    {
                        tokio::time::sleep_until(deadline.into()).await;
                        return Err(WireError::Timeout(limit));
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One signed request; the answer's body when DynamoDB says 200.
    async fn attempt(&self, op: &'static str, body: Bytes) -> Result<Bytes, WireError> {
        let request = self.signed(op, body).await?;
        let http = self.0.http.as_ref().ok_or_else(|| {
            WireError::Prepare("no HTTP client is configured for DynamoDB".into())
        })?;
        let response = http.call(request).await.map_err(|e| {
            if e.is_user() {
                WireError::Prepare(e.into())
            } else {
                WireError::Transport(e.into())
            }
        })?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(str::to_owned);
        let answer = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| WireError::Transport(e.into()))?
            .into_bytes();
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let error: ErrorBody = serde_json::from_slice(&answer).unwrap_or(ErrorBody {
            kind: String::new(),
            message: String::from_utf8_lossy(&answer).into_owned(),
        });
        let code = error_code(error_type.as_deref().unwrap_or(&error.kind)).to_owned();
        Err(WireError::Service {
            status,
            code,
            message: error.message,
        })
    }

    /// The request of `op` with `body`, signed with SigV4 for DynamoDB in this region.
    async fn signed(&self, op: &'static str, body: Bytes) -> Result<HttpRequest, WireError> {
        let prepare = |e: BoxError| WireError::Prepare(e);
        let credentials = self.credentials().await?;
        let at = SystemTime::now();
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(&self.0.endpoint)
            .header("host", &self.0.host)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDB_20120810.{op}"))
            .header("x-amz-date", Signer::amz_date(at))
            .body(SdkBody::from(body.clone()))
            .map_err(|e| prepare(e.into()))?;
        if let Some(token) = credentials.session_token() {
            let mut token = http::HeaderValue::from_str(token).map_err(|e| prepare(e.into()))?;
            token.set_sensitive(true);
            request.headers_mut().insert("x-amz-security-token", token);
        }
        // Signed from the request's own headers: what is signed is what is sent.
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| Ok((name.as_str(), value.to_str()?)))
            .collect::<Result<Vec<_>, http::header::ToStrError>>()
            .map_err(|e| prepare(e.into()))?;
        let authorization = self
            .0
            .signer
            .authorization(&credentials, at, headers.into_iter(), &body)
            .map_err(|e| prepare(e.into()))?;
        let authorization =
            http::HeaderValue::from_str(&authorization).map_err(|e| prepare(e.into()))?;
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, authorization);
        HttpRequest::try_from(request).map_err(|e| prepare(e.into()))
    }

    /// The credentials, from the provider once and again shortly before they expire.
    async fn credentials(&self) -> Result<Credentials, WireError> {
        let fresh = |c: &Credentials| {
            c.expiry().is_none_or(|at| {
                at.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > CREDENTIALS_MARGIN)
            })
        };
        if let Ok(cached) = self.0.cached.lock()
            && let Some(c) = cached.as_ref().filter(|c| fresh(c))
        {
            return Ok(c.clone());
        }
        let provider = self.0.credentials.as_ref().ok_or_else(|| {
            WireError::Credentials("no credentials are configured for DynamoDB".into())
        })?;
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| WireError::Credentials(e.into()))?;
        if let Ok(mut cached) = self.0.cached.lock() {
            *cached = Some(c.clone());
        }
        Ok(c)
    }
}

/// The error code in DynamoDB's `x-amzn-ErrorType` header or `__type` field, without the
/// namespace before `#` and the details after `:`, as the SDK reads it.
fn error_code(kind: &str) -> &str {
    let code = kind.split(':').next().unwrap_or_default();
    code.rsplit('#').next().unwrap_or_default()
}

/// How long one attempt may take.
#[derive(Debug, PartialEq)]
struct Limit {
    /// The time it has.
    left: Duration,
    /// `Some(the operation timeout)` when the operation's deadline, not the attempt timeout,
    /// sets `left`: running out of it then ends the operation, with no further attempt.
    operation: Option<Duration>,
}

/// The limit of an attempt starting at `now`: the attempt timeout, cut short by the
/// operation's `(deadline, timeout)`; `None` when neither is set.
fn attempt_limit(
    attempt: Option<Duration>,
    operation: Option<(Instant, Duration)>,
    now: Instant,
) -> Option<Limit> {
    let to_deadline = operation.map(|(deadline, limit)| Limit {
        left: deadline.saturating_duration_since(now),
        operation: Some(limit),
    });
    match (attempt, to_deadline) {
        (Some(a), Some(d)) if d.left <= a => Some(d),
        (Some(a), _) => Some(Limit {
            left: a,
            operation: None,
        }),
        (None, d) => d,
    }
}

/// The longest wait before attempt `attempt + 1`: exponential from `initial`, at most `max`;
/// the wait is a random part of it ("full jitter", as the SDK's standard retries).
fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    exp.min(max)
}

/// DynamoDB's endpoint in `region` (every partition's), or `endpoint` when given, as the
/// SDK's own rules resolve it; without account-based endpoints (the SDK client uses one only
/// when its credentials carry an account id, which Lambda's do not: `AWS_ACCOUNT_ID` unset).
fn resolve_endpoint(region: &str, endpoint: Option<&str>) -> Result<String, BoxError> {
    use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let mut params = Params::builder()
        .region(region)
        .use_fips(false)
        .use_dual_stack(false)
        .account_id_endpoint_mode("disabled");
    if let Some(url) = endpoint {
        params = params.endpoint(url);
    }
    let params = params.build()?;
    let resolver = DefaultResolver::new();
    // The rules are evaluated in place: the future is ready when first polled.
    let mut resolving = std::pin::pin!(resolver.resolve_endpoint(&params));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match resolving.as_mut().poll(&mut context) {
        std::task::Poll::Ready(resolved) => Ok(resolved?.url().trim_end_matches('/').to_owned()),
        std::task::Poll::Pending => Err("DynamoDB's endpoint rules did not resolve at once".into()),
    }
}

/// An item (or key) in DynamoDB's JSON, as `serde_dynamo` reads and writes it.
pub(crate) type WireItem = std::collections::HashMap<String, serde_dynamo::AttributeValue>;

/// `BatchGetItem`'s keys of one table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeysAndAttributes {
    pub keys: Vec<WireItem>,
    #[serde(default)]
    pub consistent_read: bool,
}

/// `BatchGetItem`'s input.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchGetInput<'a> {
    pub request_items: &'a std::collections::HashMap<String, KeysAndAttributes>,
}

/// `BatchGetItem`'s output: each table's items as they came, for the caller to read into
/// the table's type ([`super::item_json`]).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchGetOutput {
    #[serde(default)]
    pub responses: std::collections::HashMap<String, Vec<Box<serde_json::value::RawValue>>>,
    #[serde(default)]
    pub unprocessed_keys: std::collections::HashMap<String, KeysAndAttributes>,
}

/// `Query`'s input, the fields the service uses.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueryInput<'a> {
    pub table_name: &'a str,
    pub index_name: &'a str,
    pub select: &'a str,
    pub limit: u32,
    pub key_condition_expression: &'a str,
    pub filter_expression: &'a str,
    pub expression_attribute_values: &'a WireItem,
    pub consistent_read: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_start_key: Option<WireItem>,
}

/// `Query`'s output, its items read straight into `T`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub(crate) struct QueryOutput<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<super::item_json::ItemOf<T>>,
    #[serde(default)]
    pub last_evaluated_key: Option<WireItem>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{DynamoConfig, TlsRoots};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// One request as the server saw it: its head (lower-cased header names) and body.
    #[derive(Debug)]
    pub(crate) struct Seen {
        pub head: String,
        pub body: String,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim())
            })
        }
    }

    /// An HTTP/1.1 server on localhost that answers the n-th request with `answers[n]`
    /// (status, body; `None` never answers) and reports what it received.
    pub(crate) async fn server(
        answers: Vec<Option<(u16, &'static str)>>,
    ) -> (String, mpsc::Receiver<Seen>) {
        let (url, seen, _) = counting_server(answers).await;
        (url, seen)
    }

    /// [`server`], also counting the connections it accepted.
    async fn counting_server(
        answers: Vec<Option<(u16, &'static str)>>,
    ) -> (String, mpsc::Receiver<Seen>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = mpsc::channel(16);
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (answers, tx) = (answers.clone(), tx.clone());
                // Requests on one connection, in turn, until it closes or one is not answered.
                tokio::spawn(async move {
                    while let Some(seen) = read_request(&mut socket).await {
                        let _ = tx.send(seen).await;
                        let next = answers.lock().ok().and_then(|mut a| a.next());
                        let Some(Some((status, body))) = next else {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                            break;
                        };
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\n\
                             content-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (url, rx, accepted)
    }

    /// One request from `socket`: head, then as much body as its `content-length` says.
    async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut seen = Seen {
            head,
            body: String::new(),
        };
        let length: usize = seen
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let n = socket.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
        }
        seen.body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        Some(seen)
    }

    /// A DynamoDB client as the functions build it (HTTP client, timeouts, retries), with
    /// test credentials in `region`, and the wire client beside it.
    pub(crate) fn clients(endpoint: Option<&str>, region: &str, attempts: u32) -> (Client, Wire) {
        let cfg = DynamoConfig {
            endpoint: endpoint.map(str::to_owned),
            connect_timeout: Duration::from_millis(500),
            attempt_timeout: Duration::from_millis(300),
            operation_timeout: Duration::from_secs(2),
            max_attempts: attempts,
            tls_roots: TlsRoots::Amazon,
        };
        let env = |name: &str| (name == "AWS_REGION").then(|| region.to_owned());
        let sdk = crate::store::lambda_aws_config(&cfg, env).expect("configuration");
        let credentials =
            Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "t");
        let mut config =
            aws_sdk_dynamodb::config::Builder::from(&sdk).credentials_provider(credentials.clone());
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        let client = Client::from_conf(config.build());
        let credentials = Some(SharedCredentialsProvider::new(credentials));
        let wire = Wire::new(&client, endpoint, credentials).expect("client");
        (client, wire)
    }

    /// A store whose clients talk to `url`, with one attempt per request.
    pub(crate) fn store_at(url: &str) -> super::super::Store {
        let (client, wire) = clients(Some(url), "eu-west-1", 1);
        let tables = crate::config::TableNames {
            sessions: "sessions".into(),
            users: "users".into(),
            user_emails: "user-emails".into(),
            activity: "activity".into(),
        };
        super::super::Store::new(client, wire, tables)
    }

    fn wire_at(endpoint: Option<&str>, region: &str, attempts: u32) -> Wire {
        clients(endpoint, region, attempts).1
    }

    fn wire(url: &str, attempts: u32) -> Wire {
        wire_at(Some(url), "eu-west-1", attempts)
    }

    /// One consistent read of user 7.
    static USERS: std::sync::LazyLock<std::collections::HashMap<String, KeysAndAttributes>> =
        std::sync::LazyLock::new(|| {
            let key = WireItem::from([(
                "user_id".to_owned(),
                serde_dynamo::AttributeValue::N("7".into()),
            )]);
            let keys = KeysAndAttributes {
                keys: vec![key],
                consistent_read: true,
            };
            [("users".to_owned(), keys)].into()
        });

    fn input() -> BatchGetInput<'static> {
        BatchGetInput {
            request_items: &USERS,
        }
    }

    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
    const FOUND: &str = r#"{"Responses":{"users":[{"user_id":{"N":"7"},"role":{"S":"admin"}}]},"UnprocessedKeys":{}}"#;

    /// A throttled request is tried again and the second answer read; each attempt is a
    /// SigV4-signed `BatchGetItem` in DynamoDB's JSON, with the session token.
    #[tokio::test]
    async fn throttling_is_retried_and_every_attempt_is_signed() {
        let (url, mut seen) = server(vec![Some((400, THROTTLED)), Some((200, FOUND))]).await;
        let out: BatchGetOutput = wire(&url, 3)
            .call("BatchGetItem", &input())
            .await
            .expect("answered on the second attempt");
        assert_eq!(out.responses["users"].len(), 1);
        for attempt in 0..2 {
            let request = seen.recv().await.expect("a request");
            assert!(
                request.head.starts_with("POST / HTTP/1.1"),
                "{attempt}: {request:?}"
            );
            assert_eq!(
                request.header("x-amz-target"),
                Some("DynamoDB_20120810.BatchGetItem")
            );
            assert_eq!(
                request.header("content-type"),
                Some("application/x-amz-json-1.0")
            );
            assert_eq!(request.header("x-amz-security-token"), Some("token"));
            let auth = request.header("authorization").expect("signed");
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
                "{auth}"
            );
            assert!(auth.contains("/eu-west-1/dynamodb/aws4_request"), "{auth}");
            assert!(
                auth.contains(
                    "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
                ),
                "{auth}"
            );
            assert_eq!(request.header("host"), url.strip_prefix("http://"));
            assert_eq!(
                signature_of(&request).as_deref(),
                auth.rsplit("Signature=").next()
            );
            let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
            assert_eq!(
                body,
                serde_json::json!({"RequestItems": {"users": {
                    "Keys": [{"user_id": {"N": "7"}}], "ConsistentRead": true}}})
            );
        }
    }

    /// The SigV4 signature of the request as the server received it (method, path, the
    /// headers its `Authorization` lists, body), at its `x-amz-date`, with the test's
    /// credentials: what DynamoDB computes to check it.
    fn signature_of(request: &Seen) -> Option<String> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        use aws_sigv4::sign::v4;
        use aws_smithy_runtime_api::client::identity::Identity;
        let date = request.header("x-amz-date")?;
        let at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").ok()?;
        let auth = request.header("authorization")?;
        let listed = auth.split("SignedHeaders=").nth(1)?.split(',').next()?;
        // The signer adds these two itself, from the time and the credentials.
        let headers: Vec<(&str, &str)> = listed
            .split(';')
            .filter(|name| !["x-amz-date", "x-amz-security-token"].contains(name))
            .map(|name| Some((name, request.header(name)?)))
            .collect::<Option<_>>()?;
        let path = request.head.split(' ').nth(1)?;
        let uri = format!("http://{}{path}", request.header("host")?);
        let signable = SignableRequest::new(
            "POST",
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(request.body.as_bytes()),
        )
        .ok()?;
        let credentials =
            Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "t");
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("dynamodb")
            .time(SystemTime::from(at.and_utc()))
            .settings(SigningSettings::default())
            .build()
            .ok()?
            .into();
        Some(sign(signable, &params).ok()?.signature().to_owned())
    }

    /// A request DynamoDB refuses as invalid is not tried again and is a 500, with the code
    /// and message in its cause.
    #[tokio::test]
    async fn a_refused_request_is_not_retried() {
        let invalid =
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad key"}"#;
        let (url, mut seen) = server(vec![Some((400, invalid)), Some((200, FOUND))]).await;
        let err = wire(&url, 3)
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("refused");
        let StoreError::Failed { operation, source } = &err else {
            panic!("not a 500: {err:?}");
        };
        assert_eq!(*operation, "BatchGetItem");
        assert!(
            source.to_string().contains("ValidationException: bad key"),
            "{source}"
        );
        assert!(seen.recv().await.is_some());
        assert!(seen.try_recv().is_err(), "tried once");
    }

    /// DynamoDB's own failures are tried `max_attempts` times in all, then a 503.
    #[tokio::test]
    async fn attempts_are_bounded_and_end_transient() {
        let down = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}"#;
        let (url, mut seen) = server(vec![Some((500, down)); 5]).await;
        let err = wire(&url, 3)
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("down");
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
        for _ in 0..3 {
            assert!(seen.recv().await.is_some());
        }
        assert!(seen.try_recv().is_err(), "three attempts");
    }

    /// An answer that never comes ends in the attempt timeout, each attempt, then a 503.
    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        let (url, mut seen) = server(vec![None, None]).await;
        let started = Instant::now();
        let err = wire(&url, 2)
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("no answer");
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(600),
            "two attempts of 300 ms: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "within the operation timeout"
        );
        for _ in 0..2 {
            assert!(seen.recv().await.is_some(), "two attempts");
        }
        assert!(seen.try_recv().is_err(), "no third");
    }

    /// The operation timeout ends the attempts, the one under way included, even when more
    /// attempts are allowed: a 503 once it is spent, not after every attempt's timeout.
    #[tokio::test]
    async fn the_operation_timeout_ends_the_attempts() {
        let (url, mut seen) = server(vec![None; 10]).await;
        let wire = wire(&url, 10);
        let wire = Wire(Arc::new(Inner {
            operation_timeout: Some(Duration::from_millis(800)),
            ..(*wire.0).clone()
        }));
        let started = Instant::now();
        let err = wire
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("no answer");
        let elapsed = started.elapsed();
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
        assert!(format!("{err:?}").contains("Timeout(800ms)"), "{err:?}");
        assert!(elapsed >= Duration::from_millis(800), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        let mut attempts = 0;
        while seen.try_recv().is_ok() {
            attempts += 1;
        }
        assert!(
            (2..=3).contains(&attempts),
            "attempts of 300 ms: {attempts}"
        );
    }

    /// A wait before the next attempt that would pass the operation's deadline ends the
    /// operation at the deadline, with its timeout.
    #[tokio::test]
    async fn a_backoff_past_the_deadline_ends_the_operation() {
        let down = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}"#;
        let (url, _seen) = server(vec![Some((500, down)); 10]).await;
        let wire = wire(&url, 10);
        // Waits drawn from up to 10 s: one of the first few passes the 300 ms deadline.
        let wire = Wire(Arc::new(Inner {
            operation_timeout: Some(Duration::from_millis(300)),
            initial_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            ..(*wire.0).clone()
        }));
        let started = Instant::now();
        let err = wire
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("down");
        let elapsed = started.elapsed();
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
        assert!(format!("{err:?}").contains("Timeout(300ms)"), "{err:?}");
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    /// Each attempt has its own timeout, cut short by the operation's deadline, which then
    /// says the operation is over.
    #[test]
    fn an_attempt_has_its_timeout_or_what_is_left_of_the_operation() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let limit = |left, operation| Some(Limit { left, operation });
        assert_eq!(attempt_limit(None, None, now), None);
        assert_eq!(
            attempt_limit(Some(ms(300)), None, now),
            limit(ms(300), None)
        );
        let op = Some((now + ms(1600), ms(1600)));
        assert_eq!(attempt_limit(Some(ms(300)), op, now), limit(ms(300), None));
        assert_eq!(
            attempt_limit(Some(ms(300)), op, now + ms(1400)),
            limit(ms(200), Some(ms(1600)))
        );
        assert_eq!(
            attempt_limit(Some(ms(300)), op, now + ms(2000)),
            limit(ms(0), Some(ms(1600)))
        );
        assert_eq!(
            attempt_limit(None, op, now),
            limit(ms(1600), Some(ms(1600)))
        );
    }

    /// Credentials that cannot be had: the request is not sent, and the caller gets a 503
    /// (as from the SDK client), not a 500.
    #[tokio::test]
    async fn missing_credentials_are_a_503_without_a_request() {
        let (url, mut seen) = server(vec![Some((200, FOUND))]).await;
        let (client, _) = clients(Some(&url), "eu-west-1", 3);
        let wire = Wire::new(&client, Some(&url), None).expect("client");
        let err = wire
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("no credentials");
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
        assert!(seen.try_recv().is_err(), "nothing sent");
    }

    #[test]
    fn error_codes_are_read_as_the_sdk_reads_them() {
        assert_eq!(
            error_code("com.amazonaws.dynamodb.v20120810#ThrottlingException"),
            "ThrottlingException"
        );
        assert_eq!(
            error_code("ThrottlingException:http://internal.amazon.com/coral/"),
            "ThrottlingException"
        );
        assert_eq!(error_code("InternalServerError"), "InternalServerError");
        assert_eq!(error_code(""), "");
    }

    /// A closed port: the connection is refused, which is transient.
    #[tokio::test]
    async fn a_refused_connection_is_transient() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let err = wire(&url, 2)
            .call::<BatchGetOutput>("BatchGetItem", &input())
            .await
            .expect_err("refused");
        assert!(matches!(err, StoreError::Transient { .. }), "{err:?}");
    }

    /// The wire client sends on the SDK client's connections: one pool, one TLS handshake per
    /// cold start, whichever of the two asks first.
    #[tokio::test]
    async fn the_sdk_client_and_the_wire_share_connections() {
        let answers = vec![Some((200, "{}")), Some((200, FOUND)), Some((200, "{}"))];
        let (url, mut seen, accepted) = counting_server(answers).await;
        let (client, wire) = clients(Some(&url), "eu-west-1", 1);
        let get = || {
            client
                .get_item()
                .table_name("users")
                .key(
                    "user_id",
                    aws_sdk_dynamodb::types::AttributeValue::N("7".into()),
                )
                .send()
        };
        get().await.expect("the SDK's request");
        let out: BatchGetOutput = wire
            .call("BatchGetItem", &input())
            .await
            .expect("the wire's");
        assert_eq!(out.responses["users"].len(), 1);
        get().await.expect("the SDK's again");
        for target in ["GetItem", "BatchGetItem", "GetItem"] {
            let request = seen.recv().await.expect("a request");
            let expected = format!("DynamoDB_20120810.{target}");
            assert_eq!(request.header("x-amz-target"), Some(expected.as_str()));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for all three"
        );
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        let (initial, max) = (Duration::from_millis(25), Duration::from_millis(200));
        assert_eq!(backoff(initial, max, 1), initial);
        assert_eq!(backoff(initial, max, 2), initial * 2);
        assert_eq!(backoff(initial, max, 4), max);
        assert_eq!(backoff(initial, max, 40), max);
    }

    /// The wire client takes the SDK client's settings: the function's timeouts and attempts.
    #[test]
    fn settings_are_the_sdk_clients() {
        let wire = wire_at(Some("http://127.0.0.1:8000"), "eu-west-1", 3);
        let inner = &wire.0;
        assert_eq!(inner.attempts, 3);
        assert_eq!(inner.initial_backoff, Duration::from_millis(25));
        assert_eq!(inner.max_backoff, Duration::from_millis(200));
        assert_eq!(inner.attempt_timeout, Some(Duration::from_millis(300)));
        assert_eq!(inner.operation_timeout, Some(Duration::from_secs(2)));
        assert_eq!(inner.host, "127.0.0.1:8000");
        assert_eq!(inner.region, "eu-west-1");
    }

    #[test]
    fn endpoints_follow_the_regions_partition() {
        let at = |region: &str| wire_at(None, region, 1).0.endpoint.clone();
        assert_eq!(
            at("eusc-de-east-1"),
            "https://dynamodb.eusc-de-east-1.amazonaws.eu"
        );
        assert_eq!(at("eu-west-1"), "https://dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(
            at("cn-north-1"),
            "https://dynamodb.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            at("us-gov-west-1"),
            "https://dynamodb.us-gov-west-1.amazonaws.com"
        );
    }

    /// Requests are signed for `POST /`: an endpoint with a path or a query would be sent
    /// what its signature does not cover, so the function does not start with one.
    #[test]
    fn an_endpoint_with_a_path_is_refused() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .build();
        let client = Client::from_conf(config);
        for endpoint in ["http://127.0.0.1:8000/db", "http://127.0.0.1:8000/?a=b"] {
            let err = Wire::new(&client, Some(endpoint), None).expect_err("a path");
            assert!(err.to_string().contains("without a path"), "{err}");
        }
        for endpoint in ["http://127.0.0.1:8000", "http://127.0.0.1:8000/"] {
            assert!(
                Wire::new(&client, Some(endpoint), None).is_ok(),
                "{endpoint}"
            );
        }
    }

    /// Without a region there is no endpoint to sign for: the function does not start.
    #[test]
    fn no_region_no_client() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .build();
        let err = Wire::new(&Client::from_conf(config), None, None).expect_err("no region");
        assert!(err.to_string().contains("region"), "{err}");
    }
}
