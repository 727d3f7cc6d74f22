//! Against an earlier build (`--baseline-bin-dir`): the same warm invocations through an
//! earlier build's binary and this build's, in turn, in one run, compared by the CPU the
//! function process spends per request. The in-process handler CPU cannot be had for an
//! earlier build (its handlers are not linked into this bench), so both are measured from
//! outside, the same way: every thread of the process, the runtime's own loop included.

use crate::launch::{Launch, warm_run};
use crate::measure::quantile;
use crate::scenarios::Scenario;
use anyhow::{Context, Result};
use shared::AppState;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// The function whose handler does no I/O: its CPU per request is the runtime's own loop
/// (next event, response), which both builds spend around every handler.
pub(crate) const RUNTIME_LOOP: &str = "jwks";

/// One function's CPU per warm request, µs, in each build, one value per pair of runs.
pub(crate) struct Compared {
    pub(crate) function: &'static str,
    pub(crate) earlier_us: Vec<f64>,
    pub(crate) now_us: Vec<f64>,
}

impl Compared {
    fn medians(&self) -> (f64, f64) {
        (quantile(&self.earlier_us, 0.5), quantile(&self.now_us, 0.5))
    }
}

/// Runs `scenario`'s warm invocations `pairs` times through the binary in `earlier_dir` and
/// the one in `now_dir`, in turn (the earlier first in even pairs, this build first in odd
/// ones, so neither always runs on a machine the other has warmed), full core, and records
/// the process CPU per request of each run.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn compare(
    state: &AppState,
    root: &Path,
    tokens: &BTreeMap<&'static str, String>,
    scenario: &Scenario,
    earlier_dir: &Path,
    now_dir: &Path,
    endpoint: &str,
    invocations: usize,
    pairs: usize,
) -> Result<Compared> {
    let mut compared = Compared {
        function: scenario.function,
        earlier_us: Vec::new(),
        now_us: Vec::new(),
    };
    for pair in 0..pairs {
        let mut runs = [
            (earlier_dir, &mut compared.earlier_us),
            (now_dir, &mut compared.now_us),
        ];
        if pair % 2 == 1 {
            runs.reverse();
        }
        for (dir, into) in runs {
            eprintln!(
                "bench: {} from {} (pair {}, ×{invocations})",
                scenario.function,
                dir.display(),
                pair + 1
            );
            let launch = Launch {
                program: dir.join(scenario.function),
                args: vec![],
                dir: None,
                extra_env: vec![],
            };
            let events = scenario.events(state, root, tokens, invocations).await?;
            let warm = warm_run(
                &launch,
                scenario.function,
                scenario.memory_mb,
                endpoint,
                events,
                scenario.status,
                None,
            )
            .await?;
            if warm.wrong > 0 {
                anyhow::bail!(
                    "{} from {}: {} invocations did not answer {} (first: {})",
                    scenario.function,
                    dir.display(),
                    warm.wrong,
                    scenario.status,
                    warm.sample_error.as_deref().unwrap_or("")
                );
            }
            into.push(
                warm.process_cpu_us
                    .with_context(|| format!("{}: no process CPU", scenario.function))?,
            );
        }
    }
    Ok(compared)
}

/// The report's section on the comparison.
pub(crate) fn section(md: &mut String, earlier: &str, pairs: usize, rows: &[Compared]) {
    let _ = writeln!(md, "## Against an earlier build\n");
    let _ = writeln!(
        md,
        "`--baseline-bin-dir`: the same warm invocations through the binaries of {earlier} and \
         through this build's, in turn ({pairs} pairs, which goes first alternating), full core, in this \
         run. CPU is the function process's per warm request (every thread, user and system, \
         from `/proc/<pid>/task/*/schedstat`), the runtime's loop around the handler included; \
         median of the pairs, each pair's value in brackets.\n"
    );
    let _ = writeln!(
        md,
        "| function | earlier, µs per request | this build | this / earlier |\n|---|---|---|---|"
    );
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for r in rows {
        let (earlier_us, now_us) = r.medians();
        let _ = writeln!(
            md,
            "| `{}` | {earlier_us:.0} [{}] | {now_us:.0} [{}] | {:.2} |",
            r.function,
            list(&r.earlier_us),
            list(&r.now_us),
            now_us / earlier_us
        );
    }
    if let Some(lp) = rows.iter().find(|r| r.function == RUNTIME_LOOP) {
        let (loop_earlier, loop_now) = lp.medians();
        for r in rows.iter().filter(|r| r.function != RUNTIME_LOOP) {
            let (earlier_us, now_us) = r.medians();
            let (e, n) = (earlier_us - loop_earlier, now_us - loop_now);
            let _ = writeln!(
                md,
                "\n`{}` less the runtime's loop (`{RUNTIME_LOOP}`'s CPU per request, a handler \
                 with no I/O): {e:.0} → {n:.0} µs, **{:.2}×**.",
                r.function,
                n / e
            );
        }
    }
    let _ = writeln!(md);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_takes_the_runtime_loop_off_both_builds() {
        let rows = [
            Compared {
                function: "get-user-sessions",
                earlier_us: vec![900.0, 1000.0, 950.0],
                now_us: vec![500.0, 480.0, 520.0],
            },
            Compared {
                function: RUNTIME_LOOP,
                earlier_us: vec![100.0, 100.0, 100.0],
                now_us: vec![100.0, 90.0, 110.0],
            },
        ];
        let mut md = String::new();
        section(&mut md, "abc1234", 3, &rows);
        assert!(
            md.contains(
                "| `get-user-sessions` | 950 [900, 1000, 950] | 500 [500, 480, 520] | 0.53 |"
            ),
            "{md}"
        );
        assert!(md.contains("850 → 400 µs, **0.47×**"), "{md}");
    }
}
