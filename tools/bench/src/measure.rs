//! Measuring in this process: handler CPU on the thread's clock, DynamoDB requests and round
//! trips per call, binary and zip sizes.

use anyhow::{Context, Result, bail};
use shared::AppState;
use std::path::Path;
use std::time::Duration;

/// The `q` quantile (0..=1) of `values`, by nearest rank.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub(crate) fn thread_cpu() -> Duration {
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
pub(crate) struct InProcess {
    /// Everything the handler's thread did, DynamoDB requests included.
    pub(crate) cpu_us: Vec<f64>,
    /// The same less the time with a DynamoDB request in flight (building, signing, I/O).
    pub(crate) own_us: Vec<f64>,
    pub(crate) ops: Vec<&'static str>,
    pub(crate) sequential: usize,
    /// Items a `BatchGetItem` of the route reads, for its cost ([`crate::cost::units`]).
    pub(crate) batch_items: f64,
}

/// The handler a function serves, from the route table the API's tests share.
pub(crate) fn handler_for(function: &str) -> Option<api_tests::routes::Handler> {
    api_tests::routes::route(function).map(|r| r.handler)
}

/// Runs `events` through the handler in this thread, timing each with the thread's CPU clock.
pub(crate) async fn in_process(
    state: &AppState,
    function: &str,
    events: &[String],
) -> Result<InProcess> {
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
        batch_items: 2.0,
    })
}

/// (stripped bytes, zipped bytes) of a binary, zipped as `bootstrap` the way Lambda takes it.
pub(crate) fn sizes(binary: &Path) -> Result<(u64, u64)> {
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
