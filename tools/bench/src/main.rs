//! `make bench`: measures every function's release build the way Lambda runs it, and writes
//! `docs/benchmarks.md`.
//!
//! - **Init**: each binary is spawned with the environment Lambda sets and a Runtime API of its
//!   own (`runtime_api.rs`); init is the time from spawn to its first
//!   `GET /runtime/invocation/next`. At least 20 spawns per function.
//! - **Warm**: 1,000 invocations per route through that Runtime API against a local DynamoDB
//!   (Dynoxide, in this process): time from event handed out to response posted, p50/p99, and
//!   the process's peak RSS (`VmHWM`) after them.
//! - **Handler CPU**: the same handlers in this process on a current-thread runtime, timed with
//!   the thread's CPU clock, which does not run while the thread waits for DynamoDB: the CPU
//!   a request costs, DynamoDB excluded (SDK request building and signing included).
//! - **Round trips**: DynamoDB requests per route and how many were sequential
//!   (`shared::testkit::trips`).
//! - **Sizes**: each stripped binary and the zip Lambda takes.
//! - **The peer**: the admin route as a Python handler (boto3, PyJWT) under the official
//!   runtime interface client, through the same Runtime API, same data, same run.

mod runtime_api;
mod scenarios;

use anyhow::{Context, Result, bail};
use runtime_api::RuntimeApi;
use shared::AppState;
use shared::config::Config;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Command-line settings.
struct Args {
    root: PathBuf,
    bin_dir: PathBuf,
    out: PathBuf,
    spawns: usize,
    invocations: usize,
    python: Option<PathBuf>,
    /// Only these functions (all when empty): for measuring one change quickly.
    only: Vec<String>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        root: PathBuf::from("."),
        bin_dir: PathBuf::from("target/release"),
        out: PathBuf::from("docs/benchmarks.md"),
        spawns: 20,
        invocations: 1000,
        python: None,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--root" => a.root = value()?.into(),
            "--bin-dir" => a.bin_dir = value()?.into(),
            "--out" => a.out = value()?.into(),
            "--spawns" => a.spawns = value()?.parse()?,
            "--invocations" => a.invocations = value()?.parse()?,
            "--python" => a.python = Some(value()?.into()),
            "--only" => a.only = value()?.split(',').map(str::to_owned).collect(),
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

/// The local DynamoDB, on its own threads so it does not share the measuring runtime.
fn start_dynamodb() -> Result<String> {
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
fn lambda_env(
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
        ("DYNAMODB_ENDPOINT", endpoint),
    ];
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// How to start one function process.
#[derive(Clone)]
struct Launch {
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    extra_env: Vec<(String, String)>,
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
async fn init_times(
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
struct Warm {
    first_ms: f64,
    latencies_ms: Vec<f64>,
    peak_rss_kb: u64,
    wrong: usize,
    sample_error: Option<String>,
}

fn peak_rss_kb(pid: u32) -> u64 {
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

fn status_of(body: &[u8]) -> Option<u16> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["statusCode"].as_u64().map(|s| s as u16)
}

async fn warm_run(
    launch: &Launch,
    name: &str,
    memory_mb: u32,
    endpoint: &str,
    events: Vec<String>,
    status: u16,
) -> Result<Warm> {
    let mut api = RuntimeApi::start().await?;
    let env = lambda_env(name, memory_mb, &api.address, endpoint);
    let total = events.len();
    for (i, event) in events.into_iter().enumerate() {
        api.push(format!("req-{i:05}"), event);
    }
    let mut child = launch.spawn(&env)?;
    let pid = child.id().context("child pid")?;
    let mut latencies = Vec::with_capacity(total);
    let mut first_ms = 0.0;
    let mut wrong = 0;
    let mut sample_error = None;
    for i in 0..total {
        let done = tokio::time::timeout(Duration::from_secs(60), api.completions.recv())
            .await
            .with_context(|| format!("{name}: invocation {i} timed out"))?
            .context("runtime api closed")?;
        let ms = done.finished.duration_since(done.handed_out).as_secs_f64() * 1000.0;
        if i == 0 {
            first_ms = ms;
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
    child.kill().await?;
    Ok(Warm {
        first_ms,
        latencies_ms: latencies,
        peak_rss_kb,
        wrong,
        sample_error,
    })
}

/// The `q` quantile (0..=1) of `values`, by nearest rank.
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer it is given.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Per route: handler CPU per request (µs) and the DynamoDB requests of one call.
struct InProcess {
    /// Everything the handler's thread did, DynamoDB requests included.
    cpu_us: Vec<f64>,
    /// The same less the time with a DynamoDB request in flight (the SDK's pipeline and I/O).
    own_us: Vec<f64>,
    ops: Vec<&'static str>,
    sequential: usize,
}

/// The handler a function serves, from the route table the API's tests share.
fn handler_for(function: &str) -> Option<api_tests::routes::Handler> {
    api_tests::routes::route(function).map(|r| r.handler)
}

/// Runs `events` through the handler in this thread, timing each with the thread's CPU clock.
async fn in_process(state: &AppState, function: &str, events: &[String]) -> Result<InProcess> {
    let handler = handler_for(function).with_context(|| format!("no handler for {function}"))?;
    let recorder = shared::testkit::trips::Recorder::with_clock(thread_cpu);
    let instrumented = shared::testkit::trips::instrument_with(state, recorder.clone());
    let mut cpu_us = Vec::with_capacity(events.len());
    let mut own_us = Vec::with_capacity(events.len());
    let mut ops = Vec::new();
    let mut sequential = 0;
    for (i, event) in events.iter().enumerate() {
        let req = lambda_http::request::from_str(event).map_err(|e| anyhow::anyhow!("{e}"))?;
        recorder.take();
        recorder.take_inside();
        let before = thread_cpu();
        let _ = handler(&instrumented, req).await;
        let total = thread_cpu() - before;
        let inside = recorder.take_inside();
        let trips = recorder.take();
        if i == 0 {
            // The first call builds lazy state (parsers, connections): its requests are
            // recorded, its time is not.
            ops = trips.iter().map(|t| t.op).collect();
            sequential = shared::testkit::trips::sequential(&trips);
            continue;
        }
        cpu_us.push(total.as_secs_f64() * 1e6);
        own_us.push(total.saturating_sub(inside).as_secs_f64() * 1e6);
    }
    Ok(InProcess {
        cpu_us,
        own_us,
        ops,
        sequential,
    })
}

/// (stripped bytes, zipped bytes) of a binary, zipped as `bootstrap` the way Lambda takes it.
fn sizes(binary: &Path) -> Result<(u64, u64)> {
    let stripped = std::fs::metadata(binary)?.len();
    let zip = std::env::temp_dir().join(format!("bench-{}.zip", std::process::id()));
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[1], 'bootstrap')",
        ])
        .arg(binary)
        .arg(&zip)
        .status()?;
    if !status.success() {
        bail!("zipping {} failed", binary.display());
    }
    let zipped = std::fs::metadata(&zip)?.len();
    let _ = std::fs::remove_file(&zip);
    Ok((stripped, zipped))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, Linux {kernel}, {}",
        std::env::consts::ARCH
    )
}

/// Prices (us-east-1, on-demand, as published for 2026): Lambda arm64 per GB-second and per
/// request, HTTP API per request, DynamoDB per read and write request unit.
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
const DDB_RRU: f64 = 0.125 / 1e6;
const DDB_WRU: f64 = 0.625 / 1e6;
/// A DynamoDB round trip from Lambda in the same region, for the cost model.
const DDB_ROUND_TRIP_MS: f64 = 4.0;

/// (read units, write units) of one call's requests, for items under 1 KB (writes) and pages
/// under 4 KB (reads): strongly consistent reads 1 RRU, index queries 0.5, writes 1 WRU,
/// transactions twice the units of their items (assumed three).
fn units(ops: &[&str]) -> (f64, f64) {
    ops.iter().fold((0.0, 0.0), |(r, w), op| match *op {
        "GetItem" => (r + 1.0, w),
        "Query" => (r + 0.5, w),
        "UpdateItem" | "PutItem" | "DeleteItem" => (r, w + 1.0),
        "TransactWriteItems" => (r, w + 6.0),
        _ => (r, w),
    })
}

struct Row {
    scenario: scenarios::Scenario,
    init: Vec<f64>,
    warm: Warm,
    cpu: Option<InProcess>,
    size: (u64, u64),
}

fn main() -> Result<()> {
    let args = args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let endpoint = start_dynamodb()?;
    let vars: HashMap<String, String> = HashMap::from([
        ("APP_ENV".to_owned(), "local".to_owned()),
        ("SESSIONS_TABLE".to_owned(), "sessions".to_owned()),
        ("USERS_TABLE".to_owned(), "users".to_owned()),
        ("USER_EMAILS_TABLE".to_owned(), "user-emails".to_owned()),
        ("DYNAMODB_ENDPOINT".to_owned(), endpoint.clone()),
        ("DYNAMODB_ATTEMPT_TIMEOUT_MS".to_owned(), "10000".to_owned()),
        (
            "DYNAMODB_OPERATION_TIMEOUT_MS".to_owned(),
            "20000".to_owned(),
        ),
    ]);
    let config = Config::from_lookup(|k| vars.get(k).cloned())?;
    let state = AppState::build(config)
        .await?
        .with_signer(shared::tokens::keys::dev_signing_key())?
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev());
    let names = state.store.tables().clone();
    for (def, name) in
        shared::tables::ALL
            .iter()
            .zip([&names.sessions, &names.users, &names.user_emails])
    {
        shared::testkit::tables::create(state.store.client(), def, name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    shared::testkit::demo::seed(&state, shared::domain::time::now_epoch()).await?;
    let signer = state.signer()?.clone();
    let tokens = shared::testkit::demo::event_tokens(
        &state.store,
        &signer,
        state.refresh_key()?,
        shared::domain::time::now_epoch(),
        &state.config.sessions,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    let mut rows = Vec::new();
    for scenario in scenarios::all() {
        if !args.only.is_empty() && !args.only.iter().any(|f| f == scenario.function) {
            continue;
        }
        let binary = args.bin_dir.join(scenario.function);
        let launch = Launch {
            program: binary.clone(),
            args: vec![],
            dir: None,
            extra_env: vec![],
        };
        eprintln!("bench: {} (init ×{})", scenario.function, args.spawns);
        let init = init_times(
            &launch,
            scenario.function,
            scenario.memory_mb,
            &endpoint,
            args.spawns,
        )
        .await?;
        eprintln!("bench: {} (warm ×{})", scenario.function, args.invocations);
        let events = scenario
            .events(&state, &args.root, &tokens, args.invocations)
            .await?;
        let warm = warm_run(
            &launch,
            scenario.function,
            scenario.memory_mb,
            &endpoint,
            events,
            scenario.status,
        )
        .await?;
        if warm.wrong > 0 {
            eprintln!(
                "bench: {}: {} invocations did not answer {} (first: {})",
                scenario.function,
                warm.wrong,
                scenario.status,
                warm.sample_error.as_deref().unwrap_or("")
            );
        }
        // argon2id routes cost tens of ms each: fewer in-process calls tell the same story.
        let in_process_calls = if scenario.memory_mb > 128 {
            args.invocations.min(100)
        } else {
            args.invocations
        };
        let cpu_events = scenario
            .events(&state, &args.root, &tokens, in_process_calls)
            .await?;
        let cpu = Some(in_process(&state, scenario.function, &cpu_events).await?);
        let size = sizes(&binary)?;
        rows.push(Row {
            scenario,
            init,
            warm,
            cpu,
            size,
        });
    }

    let peer = match &args.python {
        Some(python) => {
            let python = std::path::absolute(python)?;
            Some(run_peer(&args, &python, &endpoint, &state, &tokens).await?)
        }
        None => None,
    };
    let report = report(&args, &rows, peer.as_ref());
    std::fs::write(&args.out, report)?;
    eprintln!("bench: wrote {}", args.out.display());
    Ok(())
}

struct Peer {
    init: Vec<f64>,
    warm: Warm,
}

async fn run_peer(
    args: &Args,
    python: &Path,
    endpoint: &str,
    state: &AppState,
    tokens: &BTreeMap<&'static str, String>,
) -> Result<Peer> {
    let jwks = serde_json::to_string(&shared::tokens::keys::JwkSet {
        keys: vec![shared::tokens::keys::dev_signing_key().public_jwk()],
    })?;
    let launch = Launch {
        program: python.to_path_buf(),
        args: vec!["-m".into(), "awslambdaric".into(), "handler.handler".into()],
        dir: Some(std::path::absolute(args.root.join("bench/peer"))?),
        extra_env: vec![
            ("JWT_PUBLIC_KEYS".into(), jwks),
            ("AWS_EXECUTION_ENV".into(), "AWS_Lambda_python3.11".into()),
        ],
    };
    eprintln!("bench: python peer (init ×{})", args.spawns);
    let init = init_times(&launch, "peer", 128, endpoint, args.spawns).await?;
    let scenario = scenarios::all()
        .into_iter()
        .next()
        .context("the admin route scenario")?;
    let events = scenario
        .events(state, &args.root, tokens, args.invocations)
        .await?;
    eprintln!("bench: python peer (warm ×{})", args.invocations);
    let warm = warm_run(&launch, "peer", 128, endpoint, events, 200).await?;
    if warm.wrong > 0 {
        eprintln!(
            "bench: peer: {} wrong answers (first: {})",
            warm.wrong,
            warm.sample_error.as_deref().unwrap_or("")
        );
    }
    Ok(Peer { init, warm })
}

/// The targets, each with what this run measured.
fn targets(md: &mut String, rows: &[Row], peer: Option<&Peer>) {
    let check = |ok: bool| if ok { "met" } else { "**missed**" };
    let max_init = rows
        .iter()
        .map(|r| (quantile(&r.init, 0.5), r.scenario.function))
        .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
    let admin = rows
        .iter()
        .find(|r| r.scenario.function == "get-user-sessions")
        .and_then(|r| r.cpu.as_ref());
    let admin_cpu = admin.map(|c| quantile(&c.own_us, 0.5)).unwrap_or(f64::NAN);
    let admin_total = admin.map(|c| quantile(&c.cpu_us, 0.5)).unwrap_or(f64::NAN);
    let max_size = rows.iter().map(|r| r.size.0).max().unwrap_or(0);
    let max_zip = rows.iter().map(|r| r.size.1).max().unwrap_or(0);
    let max_rss = rows
        .iter()
        .map(|r| (r.warm.peak_rss_kb, r.scenario.function))
        .max()
        .unwrap_or((0, ""));
    let _ = writeln!(md, "## Targets\n\n| target | measured | |\n|---|---|---|");
    let _ = writeln!(
        md,
        "| init ≤ 10 ms median, every function | slowest: `{}` {:.1} ms | {} |",
        max_init.1,
        max_init.0,
        check(max_init.0 <= 10.0)
    );
    let _ = writeln!(
        md,
        "| handler CPU ≤ 100 µs median excluding DynamoDB requests, admin route | {admin_cpu:.0} µs ({admin_total:.0} µs with the SDK's work in them) | {} |",
        check(admin_cpu <= 100.0)
    );
    let _ = writeln!(
        md,
        "| stripped binary ≤ 8 MB, every function | largest {} | {} |",
        mb(max_size),
        check(max_size <= 8_000_000)
    );
    let _ = writeln!(
        md,
        "| zip ≤ 3.5 MB, every function | largest {} | {} |",
        mb(max_zip),
        check(max_zip <= 3_500_000)
    );
    let _ = writeln!(
        md,
        "| peak RSS ≤ 24 MB over 1,000 invocations | largest: `{}` {:.1} MB | {} |",
        max_rss.1,
        max_rss.0 as f64 / 1024.0,
        check(max_rss.0 <= 24 * 1024)
    );
    if let (Some(p), Some(admin)) = (peer, rows.first()) {
        let init_ratio = quantile(&p.init, 0.5) / quantile(&admin.init, 0.5);
        let p50_ratio =
            quantile(&p.warm.latencies_ms, 0.5) / quantile(&admin.warm.latencies_ms, 0.5);
        let _ = writeln!(
            md,
            "| ≥ 10× faster init than the Python peer | {init_ratio:.1}× | {} |",
            check(init_ratio >= 10.0)
        );
        let _ = writeln!(
            md,
            "| ≥ 3× lower warm p50 than the Python peer | {p50_ratio:.1}× | {} |",
            check(p50_ratio >= 3.0)
        );
    }
    let _ = writeln!(md);
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn report(args: &Args, rows: &[Row], peer: Option<&Peer>) -> String {
    let mut md = String::new();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Made by `make bench` (release build, then `target/release/bench`) on {}; {rustc}; \
         generated {}. Init: median of {} spawns per function (p25–p75 in brackets). Warm: {} \
         invocations per route through the Runtime API against Dynoxide in the bench process \
         (the first one is reported apart). Numbers from one run; see the notes at the end for what \
         they do and do not say.\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        args.spawns,
        args.invocations,
    );
    let _ = writeln!(md, "## Per function\n");
    let _ = writeln!(
        md,
        "| function | init ms, median [p25–p75] | first invocation ms | warm p50 ms | warm p99 ms | handler CPU µs, median [p99] | of it outside DynamoDB requests, µs | DynamoDB requests (sequential) | peak RSS | binary | zip |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let cpu = r.cpu.as_ref();
        let _ = writeln!(
            md,
            "| `{}` | {:.1} [{:.1}–{:.1}] | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.1} MB | {} | {} |",
            r.scenario.function,
            quantile(&r.init, 0.5),
            quantile(&r.init, 0.25),
            quantile(&r.init, 0.75),
            r.warm.first_ms,
            quantile(&r.warm.latencies_ms, 0.5),
            quantile(&r.warm.latencies_ms, 0.99),
            cpu.map(|c| format!(
                "{:.0} [{:.0}]",
                quantile(&c.cpu_us, 0.5),
                quantile(&c.cpu_us, 0.99)
            ))
            .unwrap_or_default(),
            cpu.map(|c| format!(
                "{:.0} [{:.0}]",
                quantile(&c.own_us, 0.5),
                quantile(&c.own_us, 0.99)
            ))
            .unwrap_or_default(),
            cpu.map(|c| format!("{} ({}): {}", c.ops.len(), c.sequential, c.ops.join(", ")))
                .unwrap_or_default(),
            r.warm.peak_rss_kb as f64 / 1024.0,
            mb(r.size.0),
            mb(r.size.1),
        );
    }
    let wrong: Vec<String> = rows
        .iter()
        .filter(|r| r.warm.wrong > 0)
        .map(|r| {
            format!(
                "`{}`: {} of {}",
                r.scenario.function, r.warm.wrong, args.invocations
            )
        })
        .collect();
    if wrong.is_empty() {
        let _ = writeln!(
            md,
            "\nEvery invocation answered its route's expected status.\n"
        );
    } else {
        let _ = writeln!(
            md,
            "\nInvocations that did not answer the expected status: {}.\n",
            wrong.join("; ")
        );
    }

    if let (Some(p), Some(admin)) = (peer, rows.first()) {
        let rust_init = quantile(&admin.init, 0.5);
        let py_init = quantile(&p.init, 0.5);
        let rust_p50 = quantile(&admin.warm.latencies_ms, 0.5);
        let py_p50 = quantile(&p.warm.latencies_ms, 0.5);
        let _ = writeln!(md, "## The admin route against a Python peer\n");
        let _ = writeln!(
            md,
            "`bench/peer/handler.py`: `GET /sessions/user/{{user_id}}` as a team on the old FastAPI \
             stack would write it for Lambda (boto3, PyJWT with `cryptography`, the same checks and \
             response shape, reads one after another), run by `awslambdaric` through the same \
             Runtime API, against the same Dynoxide and data, in the same run.\n"
        );
        let _ = writeln!(md, "| | Rust | Python | ratio |\n|---|---|---|---|");
        let _ = writeln!(
            md,
            "| init ms, median | {rust_init:.1} | {py_init:.1} | {:.1}× faster |",
            py_init / rust_init
        );
        let _ = writeln!(
            md,
            "| warm p50 ms | {rust_p50:.2} | {py_p50:.2} | {:.1}× faster |",
            py_p50 / rust_p50
        );
        let _ = writeln!(
            md,
            "| warm p99 ms | {:.2} | {:.2} | {:.1}× faster |",
            quantile(&admin.warm.latencies_ms, 0.99),
            quantile(&p.warm.latencies_ms, 0.99),
            quantile(&p.warm.latencies_ms, 0.99) / quantile(&admin.warm.latencies_ms, 0.99)
        );
        let _ = writeln!(
            md,
            "| peak RSS | {:.1} MB | {:.1} MB | {:.1}× less |",
            admin.warm.peak_rss_kb as f64 / 1024.0,
            p.warm.peak_rss_kb as f64 / 1024.0,
            p.warm.peak_rss_kb as f64 / admin.warm.peak_rss_kb.max(1) as f64
        );
        if p.warm.wrong > 0 {
            let _ = writeln!(
                md,
                "\nThe peer answered {} invocations wrongly.",
                p.warm.wrong
            );
        }
        let _ = writeln!(md);
    }

    targets(&mut md, rows, peer);
    let _ = writeln!(md, "## Cost per million requests\n");
    let _ = writeln!(
        md,
        "Lambda arm64 at the template's memory, billed per ms: `memory_GB × billed_s × \
         ${LAMBDA_GB_SECOND}` + ${:.2} per request; HTTP API ${:.2} per request; DynamoDB \
         on-demand ${:.3} per million read units and ${:.3} per million write units, units \
         counted from the route's requests (strongly consistent read 1 RRU, index query 0.5, \
         write 1 WRU, transaction 6 WRU; items under 1 KB, pages under 4 KB). Billed duration = \
         the warm p50 measured here plus {DDB_ROUND_TRIP_MS} ms per sequential DynamoDB round \
         trip (Dynoxide answers in well under a millisecond; DynamoDB in the same region in a \
         few), rounded up to the ms.\n",
        LAMBDA_REQUEST * 1e6,
        HTTP_API_REQUEST * 1e6,
        DDB_RRU * 1e6,
        DDB_WRU * 1e6,
    );
    let _ = writeln!(
        md,
        "| route | memory | billed ms | Lambda | API | DynamoDB | total per 1M |\n|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let Some(cpu) = &r.cpu else { continue };
        let billed_ms = (quantile(&r.warm.latencies_ms, 0.5)
            + DDB_ROUND_TRIP_MS * cpu.sequential as f64)
            .ceil();
        let gb = r.scenario.memory_mb as f64 / 1024.0;
        let lambda = 1e6 * (gb * billed_ms / 1000.0 * LAMBDA_GB_SECOND + LAMBDA_REQUEST);
        let api = 1e6 * HTTP_API_REQUEST;
        let (rru, wru) = units(&cpu.ops);
        let ddb = 1e6 * (rru * DDB_RRU + wru * DDB_WRU);
        let _ = writeln!(
            md,
            "| `{}` | {} MB | {billed_ms:.0} | ${lambda:.2} | ${api:.2} | ${ddb:.2} | **${:.2}** |",
            r.scenario.route,
            r.scenario.memory_mb,
            lambda + api + ddb
        );
    }
    md
}
