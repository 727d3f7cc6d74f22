//! A small HTTP/1.1 proxy in front of DynamoDB that passes, delays, throttles or drops each
//! request: the fault tests' slow, throttling and refusing store, and the bench's same-region
//! round trip.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with each request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Forward as is.
    Pass,
    /// Hold every request this long, then forward: a slow store, or the round trip to a real
    /// one.
    Delay(Duration),
    /// Answer operations whose `X-Amz-Target` ends with this (or all, with "*") with a
    /// ThrottlingException; forward the rest.
    Throttle(&'static str),
    /// Close the connection without answering.
    Close,
}

/// The proxy: its address, and the mode every connection reads per request.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`, for `DYNAMODB_ENDPOINT`.
    pub endpoint: String,
    mode: Arc<Mutex<Mode>>,
}

impl Proxy {
    /// Listens on a free local port and forwards to `upstream` (`http://host:port`), passing
    /// requests through until told otherwise.
    pub async fn start(upstream: &str) -> Self {
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

    /// Changes what the proxy does from the next request on.
    pub fn set(&self, mode: Mode) {
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

/// One message as one write: head and body in two writes would wait on Nagle's algorithm and
/// the peer's delayed ACK (about 40 ms each way), far more than the delays this proxy adds.
fn message(head: &str, body: &[u8]) -> Vec<u8> {
    [head.as_bytes(), body].concat()
}

async fn serve(conn: TcpStream, upstream: String, mode: Arc<Mutex<Mode>>) {
    let _ = conn.set_nodelay(true);
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
            Mode::Delay(by) => tokio::time::sleep(by).await,
            _ => {}
        }
        if upstream_conn.is_none() {
            match TcpStream::connect(&upstream).await {
                Ok(c) => {
                    let _ = c.set_nodelay(true);
                    upstream_conn = Some(BufReader::new(c));
                }
                Err(_) => return,
            }
        }
        let Some(up) = upstream_conn.as_mut() else {
            return;
        };
        if up
            .get_mut()
            .write_all(&message(&head, &body))
            .await
            .is_err()
        {
            return;
        }
        let Some((rhead, rbody)) = read_message(up).await else {
            return;
        };
        if write.write_all(&message(&rhead, &rbody)).await.is_err() {
            return;
        }
    }
}
