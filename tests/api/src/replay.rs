//! Event replay: every `events/<function>/<status>-<name>.json` file through its function's
//! handler, against seeded demo data, with the status its file name gives. Each function
//! crate calls [`replays_its_events!`](crate::replays_its_events) beside its route, so a
//! route and the events that show it live together.
//!
//! `{{admin_token}}`-style placeholders are filled with fresh tokens, as
//! `sessions-cli render-events` does for the local stack.

use crate::harness::{TestEnv, now, reply, request};
use crate::routes::{Handler, route};
use shared::http::serve;
use shared::testkit::demo;
use std::path::{Path, PathBuf};

/// The repository's root, from this crate's folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The event files of `function`, sorted by name.
pub fn event_files(function: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The status an event file's name promises: `401-no-token.json` → 401.
fn expected_status(function: &str, name: &str) -> u16 {
    name.split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!("events/{function}/{name}: name must start with the expected status")
        })
}

/// Replays every event file of `function` through `handler` (behind [`serve`], as the
/// function's `main.rs` runs it) and checks each status and error body, and that each event is
/// routed as the route table ([`crate::routes`], shared with the bench) says API Gateway routes
/// to this function. Every function needs at least one success and one failure event. Returns
/// how many files were replayed.
pub async fn replay(function: &str, handler: Handler) -> usize {
    let route = route(function).unwrap_or_else(|| panic!("{function}: not in the route table"));
    let route_key = format!("{} {}", route.method, route.path);
    let env = TestEnv::seeded().await;
    let tokens = demo::event_tokens(
        &env.state.store,
        &env.signer,
        env.state
            .refresh_key()
            .expect("the test state has a refresh key"),
        now(),
        &env.state.config.sessions,
    )
    .await
    .expect("event tokens");
    let mut tokens = tokens;
    tokens.extend(
        demo::enrolment_tokens(&env.state, now())
            .await
            .expect("enrolment event tokens"),
    );
    tokens.extend(
        demo::factor_tokens(&env.state, now())
            .await
            .expect("second factor event tokens"),
    );
    let files = event_files(function);
    assert!(!files.is_empty(), "events/{function} has no event files");
    let mut statuses = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let expected = expected_status(function, &name);
        let template = std::fs::read_to_string(file).expect("readable event file");
        let text = demo::render_event(&template, &tokens);
        assert!(
            !text.contains("{{"),
            "events/{function}/{name}: unknown placeholder"
        );
        let event: serde_json::Value = serde_json::from_str(&text).expect("a JSON event");
        assert_eq!(event["version"], "2.0", "{name}: HTTP API payload v2");
        // A wrong-method event (405) keeps the route's path; every other one is the route.
        let routed = event["routeKey"].as_str().unwrap_or_default();
        let path = routed.split_once(' ').map_or("", |(_, path)| path);
        assert!(
            routed == route_key || (expected == 405 && path == route.path),
            "events/{function}/{name}: routeKey {routed:?}, but the route is {route_key:?}"
        );
        let response = serve(&env.state, request(&event), handler)
            .await
            .expect("serve answers every request");
        let r = reply(response);
        assert_eq!(r.status, expected, "events/{function}/{name}: {}", r.body);
        if expected >= 400 {
            assert!(
                r.body["detail"].is_string() && r.body["code"].is_string(),
                "events/{function}/{name}: an error body has detail and code"
            );
        }
        statuses.push(expected);
    }
    assert!(
        statuses.iter().any(|s| *s < 300),
        "events/{function}: needs a success event"
    );
    assert!(
        statuses.iter().any(|s| *s >= 400),
        "events/{function}: needs a failure event"
    );
    files.len()
}

/// The event-replay test of the function crate it is written in:
/// `#[cfg(test)] api_tests::replays_its_events!(handle);` at the end of
/// `functions/<name>/src/lib.rs` replays `events/<name>/` through that crate's `handle`.
#[macro_export]
macro_rules! replays_its_events {
    ($handle:ident) => {
        #[cfg(test)]
        mod event_replay {
            use std::future::Future;
            use std::pin::Pin;
            use $crate::lambda_http::{Body, Request, Response};
            use $crate::shared::{ApiError, AppState};

            fn call<'a>(
                state: &'a AppState,
                req: Request,
            ) -> Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>> {
                Box::pin(super::$handle(state, req))
            }

            #[test]
            fn its_event_files_replay_with_their_expected_statuses() {
                let replayed =
                    $crate::replay::block_on($crate::replay::replay(env!("CARGO_PKG_NAME"), call));
                assert!(replayed >= 2, "{replayed}");
            }
        }
    };
}

/// Runs a replay on a two-worker runtime (function crates need no test runtime of their own).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(future)
}
