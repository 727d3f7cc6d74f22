//! The Python peer of the admin route, through the same Runtime API, same data, same run.

use crate::Args;
use crate::cpu_share::CpuMode;
use crate::launch::{Launch, Warm, init_times, warm_run};
use crate::scenarios;
use anyhow::{Context, Result};
use shared::AppState;
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) struct Peer {
    pub(crate) init: Vec<f64>,
    pub(crate) warm: Warm,
}

pub(crate) async fn run_peer(
    args: &Args,
    cpu: &CpuMode,
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
    let share = cpu.share("peer", 128)?;
    let warm = warm_run(&launch, "peer", 128, endpoint, events, 200, share.as_ref()).await?;
    drop(share);
    if warm.wrong > 0 {
        eprintln!(
            "bench: peer: {} wrong answers (first: {})",
            warm.wrong,
            warm.sample_error.as_deref().unwrap_or("")
        );
    }
    Ok(Peer { init, warm })
}
