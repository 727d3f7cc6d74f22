//! `make bench`: measures every function's release build the way Lambda runs it, and writes
//! `docs/benchmarks.md`.
//!
//! - **Init**: each binary is spawned with the environment Lambda sets and a Runtime API of its
//!   own (`runtime_api.rs`); init is the time from spawn to its first
//!   `GET /runtime/invocation/next`. At least 20 spawns per function.
//! - **Warm**: 1,000 invocations per route through that Runtime API against a local DynamoDB
//!   (Dynoxide, in this process): time from event handed out to response posted, p50/p99, and
//!   the process's peak RSS (`VmHWM`) after them. With `--cpu-share`, under the CPU share
//!   Lambda gives the function's memory size (`cpu_share.rs`); with `--power-tuning`, again at
//!   each of the given sizes, for the power-tuning table.
//! - **Handler CPU**: the same handlers in this process on a current-thread runtime, timed with
//!   the thread's CPU clock, which does not run while the thread waits for DynamoDB: the CPU
//!   a request costs, DynamoDB excluded (request building and signing included).
//! - **Round trips**: DynamoDB requests per route and how many were sequential
//!   (`shared::testkit::trips`).
//! - **Sizes**: each stripped binary and the zip Lambda takes.
//! - **Against an earlier build** (`--baseline-bin-dir`): chosen routes through an earlier
//!   build's binaries and this build's in turn, by the process's CPU per request.
//! - **The peer**: the admin route as a Python handler (boto3, PyJWT) under the official
//!   runtime interface client, through the same Runtime API, same data, same run.

mod baseline;
mod cost;
mod cpu_share;
mod launch;
mod measure;
mod peer;
mod report;
mod runtime_api;
mod scenarios;

use crate::cpu_share::CpuMode;
use crate::launch::{Launch, init_times, start_dynamodb, warm_run};
use crate::measure::{in_process, sizes};
use crate::peer::run_peer;
use crate::report::{Row, Tuned, report};
use anyhow::Result;
use clap::Parser;
use shared::AppState;
use shared::config::Config;
use std::collections::HashMap;
use std::path::PathBuf;

/// Command-line settings.
#[derive(Parser)]
#[command(about = "Measure every function the way Lambda runs it and write docs/benchmarks.md")]
pub(crate) struct Args {
    /// The repository root (events/, bench/peer/).
    #[arg(long, default_value = ".")]
    pub(crate) root: PathBuf,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    pub(crate) bin_dir: PathBuf,
    /// The report to write.
    #[arg(long, default_value = "docs/benchmarks.md")]
    pub(crate) out: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 20)]
    pub(crate) spawns: usize,
    /// Warm invocations per route.
    #[arg(long, default_value_t = 1000)]
    pub(crate) invocations: usize,
    /// The Python with the peer's packages; without it the peer is skipped.
    #[arg(long)]
    pub(crate) python: Option<PathBuf>,
    /// Run warm invocations under each function's Lambda CPU share (a cgroup v1 quota for its
    /// memory size; needs root), init unthrottled as Lambda's init burst. Without it, or where
    /// the cgroup cannot be made, every number is a full-core one and the report says so.
    #[arg(long)]
    pub(crate) cpu_share: bool,
    /// Also run every route's warm invocations at these memory sizes (comma-separated MB, e.g.
    /// 128,256,512,1024,1769), each under its CPU share, for the power-tuning table.
    #[arg(long, value_delimiter = ',')]
    pub(crate) power_tuning: Vec<u32>,
    /// Warm invocations per route and size in the power-tuning runs.
    #[arg(long, default_value_t = 200)]
    pub(crate) tuning_invocations: usize,
    /// Hold each DynamoDB request of the spawned functions (and the peer) this many ms in a
    /// proxy: the round trip to DynamoDB in the region, which Dynoxide on this machine does not
    /// have. 0 (the default) sends them straight to Dynoxide.
    #[arg(long, default_value_t = 0)]
    pub(crate) dynamodb_latency_ms: u64,
    /// Only these functions (comma-separated; all when absent): for measuring one change quickly.
    #[arg(long, value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// An earlier build's release binaries (`scripts/bench-baseline.sh <commit>` builds them):
    /// the `--baseline-functions` run through them and through this build's in turn, compared
    /// by the function process's CPU per warm request.
    #[arg(long)]
    pub(crate) baseline_bin_dir: Option<PathBuf>,
    /// What the earlier build is, for the report (e.g. its commit).
    #[arg(long, default_value = "an earlier build")]
    pub(crate) baseline_label: String,
    /// The functions compared with the earlier build; `jwks` stands for the runtime's own loop.
    #[arg(long, value_delimiter = ',', default_value = "get-user-sessions,jwks")]
    pub(crate) baseline_functions: Vec<String>,
    /// Pairs of runs (earlier, this) per compared function.
    #[arg(long, default_value_t = 5)]
    pub(crate) baseline_pairs: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<()> {
    let cpu_mode = CpuMode::choose(args.cpu_share || !args.power_tuning.is_empty());
    if let CpuMode::FullCoreFallback(why) = &cpu_mode {
        eprintln!("bench: CPU share not emulated, full-core numbers: {why}");
    }
    // The main table runs under the share only when asked; the tuning runs always try it.
    let main_mode = if args.cpu_share {
        cpu_mode.clone()
    } else {
        CpuMode::FullCore
    };
    let endpoint = start_dynamodb()?;
    // The spawned functions reach DynamoDB through a proxy holding each request, when asked.
    let _proxy;
    let function_endpoint = if args.dynamodb_latency_ms > 0 {
        let proxy = api_tests::proxy::Proxy::start(&endpoint).await;
        let delay = std::time::Duration::from_millis(args.dynamodb_latency_ms);
        proxy.set(api_tests::proxy::Mode::Delay(delay));
        let address = proxy.endpoint.clone();
        _proxy = Some(proxy);
        address
    } else {
        _proxy = None;
        endpoint.clone()
    };
    let vars: HashMap<String, String> = HashMap::from([
        ("APP_ENV".to_owned(), "local".to_owned()),
        ("SESSIONS_TABLE".to_owned(), "sessions".to_owned()),
        ("USERS_TABLE".to_owned(), "users".to_owned()),
        ("USER_EMAILS_TABLE".to_owned(), "user-emails".to_owned()),
        ("ACTIVITY_TABLE".to_owned(), "activity".to_owned()),
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
        .with_refresh_key(shared::tokens::refresh::RefreshKey::dev())
        .with_factor_keys(shared::tokens::seal::FactorKeys::dev())
        .with_link_key(shared::tokens::link::LinkKey::dev());
    let names = state.store.tables().clone();
    let table_names = [
        &names.sessions,
        &names.users,
        &names.user_emails,
        &names.activity,
    ];
    for (def, name) in shared::tables::ALL.iter().zip(table_names) {
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

    // What the event publisher would have recorded of the demo data (user 74's sign-ins, the
    // sessions just started), so the history routes read a page of real entries.
    let checkpoint = std::env::temp_dir().join(format!("bench-relay-{}", std::process::id()));
    let sdk = shared::store::aws_config(&state.config.dynamodb).await;
    let relay = shared::testkit::relay::Relay::new(
        shared::testkit::relay::Relay::client(&sdk, &endpoint),
        state.store.clone(),
        state.config.activity_retention_seconds,
        checkpoint.clone(),
    );
    let recorded = relay.poll(&mut shared::testkit::relay::Discard).await;
    let _ = std::fs::remove_file(&checkpoint);
    let recorded = recorded.map_err(|e| anyhow::anyhow!(e))?;
    eprintln!("bench: {recorded} events of the demo data in the activity history");
    // Nothing reads the streams after this; left on, every write of the run would add to a log
    // the local DynamoDB keeps whole, and the routes that write would slow as the run goes on.
    for name in table_names {
        shared::testkit::tables::stop_stream(state.store.client(), name)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }

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
            &function_endpoint,
            args.spawns,
        )
        .await?;
        let invocations = args.invocations.min(scenario.cap);
        eprintln!("bench: {} (warm ×{invocations})", scenario.function);
        let events = scenario
            .events(&state, &args.root, &tokens, invocations)
            .await?;
        let share = if args.cpu_share {
            cpu_mode.share(scenario.function, scenario.memory_mb)?
        } else {
            None
        };
        let warm = warm_run(
            &launch,
            scenario.function,
            scenario.memory_mb,
            &function_endpoint,
            events,
            scenario.status,
            share.as_ref(),
        )
        .await?;
        drop(share);
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
            invocations.min(100)
        } else {
            invocations
        };
        let cpu_events = scenario
            .events(&state, &args.root, &tokens, in_process_calls)
            .await?;
        let mut cpu = in_process(&state, scenario.function, &cpu_events).await?;
        cpu.batch_items = scenario.batch_items();
        let cpu = Some(cpu);
        let mut tuning = Vec::new();
        let tuning_invocations = args.tuning_invocations.min(scenario.cap);
        for &memory_mb in &args.power_tuning {
            eprintln!(
                "bench: {} (warm ×{tuning_invocations} at {memory_mb} MB)",
                scenario.function
            );
            let events = scenario
                .events(&state, &args.root, &tokens, tuning_invocations)
                .await?;
            let share = cpu_mode.share(scenario.function, memory_mb)?;
            let warm = warm_run(
                &launch,
                scenario.function,
                memory_mb,
                &function_endpoint,
                events,
                scenario.status,
                share.as_ref(),
            )
            .await?;
            if warm.wrong > 0 {
                eprintln!(
                    "bench: {} at {memory_mb} MB: {} invocations did not answer {} (first: {})",
                    scenario.function,
                    warm.wrong,
                    scenario.status,
                    warm.sample_error.as_deref().unwrap_or("")
                );
            }
            tuning.push(Tuned { memory_mb, warm });
        }
        let size = sizes(&binary)?;
        rows.push(Row {
            scenario,
            init,
            warm,
            cpu,
            size,
            tuning,
        });
    }

    let mut compared = Vec::new();
    if let Some(earlier_dir) = &args.baseline_bin_dir {
        for scenario in scenarios::all() {
            if !args
                .baseline_functions
                .iter()
                .any(|f| f == scenario.function)
            {
                continue;
            }
            compared.push(
                baseline::compare(
                    &state,
                    &args.root,
                    &tokens,
                    &scenario,
                    earlier_dir,
                    &args.bin_dir,
                    &function_endpoint,
                    args.invocations,
                    args.baseline_pairs,
                )
                .await?,
            );
        }
    }

    let peer = match &args.python {
        Some(python) => {
            let python = std::path::absolute(python)?;
            Some(
                run_peer(
                    &args,
                    &main_mode,
                    &python,
                    &function_endpoint,
                    &state,
                    &tokens,
                )
                .await?,
            )
        }
        None => None,
    };
    let mut report = report(&args, &main_mode, &cpu_mode, &rows, peer.as_ref());
    if !compared.is_empty() {
        baseline::section(
            &mut report,
            &args.baseline_label,
            args.baseline_pairs,
            &compared,
        );
    }
    std::fs::write(&args.out, report)?;
    eprintln!("bench: wrote {}", args.out.display());
    Ok(())
}
