//! Launching a function the way Lambda does: its environment, a Runtime API of its own, init
//! times over many spawns, and warm invocations with their latency and peak RSS.

use crate::cpu_share::CpuShare;
use crate::runtime_api::RuntimeApi;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The local DynamoDB, on its own threads so it does not share the measuring runtime.
pub(crate) fn start_dynamodb() -> Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("dynamodb runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
            let db = dynoxide::Database::memory().expect("in-memory database");
            let _ = tx.send(endpoint);
            let _ =
                dynoxide::server::serve_with_shutdown(listener, db, std::future::pending()).await;
        });
    });
    Ok(rx.recv()?)
}

/// The environment of every function: what Lambda sets, then the app's settings.
pub(crate) fn lambda_env(
    function: &str,
    memory_mb: u32,
    runtime_api: &str,
    endpoint: &str,
) -> Vec<(String, String)> {
    let pairs = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", function),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]bench"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIABENCHBENCHBENCH0"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret-not-a-real-key"),
        ("AWS_SESSION_TOKEN", "bench-session-token"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("LANG", "en_US.UTF-8"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("APP_ENV", "local"),
        ("SESSIONS_TABLE", "sessions"),
        ("USERS_TABLE", "users"),
        ("USER_EMAILS_TABLE", "user-emails"),
        ("ACTIVITY_TABLE", "activity"),
        ("DYNAMODB_ENDPOINT", endpoint),
    ];
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// How to start one function process.
#[derive(Clone)]
pub(crate) struct Launch {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) extra_env: Vec<(String, String)>,
}

impl Launch {
    fn spawn(&self, env: &[(String, String)]) -> Result<tokio::process::Child> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(env.iter().cloned())
            .envs(self.extra_env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd.spawn()
            .with_context(|| format!("spawning {}", self.program.display()))
    }
}

/// Spawn → first `next`, `spawns` times.
pub(crate) async fn init_times(
    launch: &Launch,
    name: &str,
    memory_mb: u32,
    endpoint: &str,
    spawns: usize,
) -> Result<Vec<f64>> {
    let mut times = Vec::with_capacity(spawns);
    for _ in 0..spawns {
        let mut api = RuntimeApi::start().await?;
        let env = lambda_env(name, memory_mb, &api.address, endpoint);
        let first = api.first_next.take().context("first-next receiver")?;
        let started = Instant::now();
        let mut child = launch.spawn(&env)?;
        let at = tokio::time::timeout(Duration::from_secs(30), first)
            .await
            .with_context(|| format!("{name}: no first next within 30 s"))??;
        times.push(at.duration_since(started).as_secs_f64() * 1000.0);
        child.kill().await?;
    }
    Ok(times)
}

/// Results of the warm run of one function.
pub(crate) struct Warm {
    pub(crate) first_ms: f64,
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) peak_rss_kb: u64,
    /// CPU the function process used per warm invocation (every thread, user and system), µs.
    pub(crate) process_cpu_us: Option<f64>,
    pub(crate) wrong: usize,
    pub(crate) sample_error: Option<String>,
}

pub(crate) fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time process `pid` has used so far, summed over its live threads' scheduler statistics
/// (`/proc/<pid>/task/*/schedstat`, nanoseconds; `/proc/<pid>/stat` counts in 10 ms ticks,
/// too coarse for `jwks`). A thread that exits takes its time with it, and one that exits
/// while it is read is skipped; the functions run one current-thread runtime, whose thread
/// lives as long as the process. `None` when the process is gone.
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    let ns = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    Some(Duration::from_nanos(ns))
}

pub(crate) fn status_of(body: &[u8]) -> Option<u16> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["statusCode"].as_u64().map(|s| s as u16)
}

/// The warm invocations of one function, in `share` when given (its CPU share; init runs
/// before the first event with whatever CPU the process gets as it starts).
pub(crate) async fn warm_run(
    launch: &Launch,
    name: &str,
    memory_mb: u32,
    endpoint: &str,
    events: Vec<String>,
    status: u16,
    share: Option<&CpuShare>,
) -> Result<Warm> {
    let mut api = RuntimeApi::start().await?;
    let env = lambda_env(name, memory_mb, &api.address, endpoint);
    let total = events.len();
    for (i, event) in events.into_iter().enumerate() {
        api.push(format!("req-{i:05}"), event);
    }
    let mut child = launch.spawn(&env)?;
    let pid = child.id().context("child pid")?;
    if let Some(share) = share {
        share
            .add(pid)
            .with_context(|| format!("{name}: into its CPU share"))?;
    }
    let mut latencies = Vec::with_capacity(total);
    let mut first_ms = 0.0;
    let mut wrong = 0;
    let mut sample_error = None;
    let mut cpu_after_first = None;
    for i in 0..total {
        let done = tokio::time::timeout(Duration::from_secs(60), api.completions.recv())
            .await
            .with_context(|| format!("{name}: invocation {i} timed out"))?
            .context("runtime api closed")?;
        let ms = done.finished.duration_since(done.handed_out).as_secs_f64() * 1000.0;
        if i == 0 {
            first_ms = ms;
            cpu_after_first = process_cpu(pid);
        } else {
            latencies.push(ms);
        }
        if !done.ok || status_of(&done.body) != Some(status) {
            wrong += 1;
            if sample_error.is_none() {
                sample_error = Some(format!(
                    "{}: {}",
                    done.id,
                    String::from_utf8_lossy(&done.body)
                ));
            }
        }
    }
    let peak_rss_kb = peak_rss_kb(pid);
    // The process has posted its last response; what it used since the first is the warm
    // invocations' share (the waits for the next event cost it nothing).
    let process_cpu_us = match (cpu_after_first, process_cpu(pid)) {
        (Some(before), Some(after)) if total > 1 => {
            Some(after.saturating_sub(before).as_secs_f64() * 1e6 / (total - 1) as f64)
        }
        _ => None,
    };
    child.kill().await?;
    Ok(Warm {
        first_ms,
        latencies_ms: latencies,
        peak_rss_kb,
        process_cpu_us,
        wrong,
        sample_error,
    })
}
