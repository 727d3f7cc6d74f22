//! Replays every `events/<function>/<status>-<name>.json` file through its function's handler
//! against seeded demo data, and checks the status in the file name. `{{admin_token}}`-style
//! placeholders are filled with fresh tokens, as `sessions-cli render-events` does for the
//! local stack.

use api_tests::routes::route;
use api_tests::{TestEnv, now, reply};
use lambda_http::{Body, Response};
use shared::AppState;
use shared::http::serve;
use shared::testkit::demo;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn dispatch(function: &str, state: &AppState, req: lambda_http::Request) -> Response<Body> {
    let route = route(function)
        .unwrap_or_else(|| panic!("events/{function}: no handler is wired for this function"));
    serve(state, req, route.handler).await.unwrap()
}

fn dirs(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_function_has_event_files_and_every_event_dir_a_function() {
    let root = repo_root();
    assert_eq!(dirs(&root.join("functions")), dirs(&root.join("events")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_file_replays_with_its_expected_status() {
    let env = TestEnv::seeded().await;
    let root = repo_root().join("events");
    let mut replayed = 0;
    for function in dirs(&root) {
        // Fresh sessions for each function's events: a password change ends the user's others.
        let tokens = demo::event_tokens(
            &env.state.store,
            &env.signer,
            env.state.refresh_key().unwrap(),
            now(),
            &env.state.config.sessions,
        )
        .await
        .unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(&function))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "events/{function} has no event files");
        let mut statuses = Vec::new();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let expected: u16 = name
                .split('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| {
                    panic!("events/{function}/{name}: name must start with the expected status")
                });
            let text = demo::render_event(&std::fs::read_to_string(&file).unwrap(), &tokens);
            assert!(!text.contains("{{"), "{name}: unknown placeholder");
            let event: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(event["version"], "2.0", "{name}: HTTP API payload v2");
            let req = api_tests::request(&event);
            let r = reply(dispatch(&function, &env.state, req).await);
            assert_eq!(r.status, expected, "events/{function}/{name}: {}", r.body);
            if expected >= 400 {
                assert!(
                    r.body["detail"].is_string() && r.body["code"].is_string(),
                    "{name}"
                );
            }
            statuses.push(expected);
            replayed += 1;
        }
        assert!(
            statuses.iter().any(|s| *s < 300),
            "events/{function}: needs a success event"
        );
        assert!(
            statuses.iter().any(|s| *s >= 400),
            "events/{function}: needs a failure event"
        );
    }
    assert!(replayed >= 40, "{replayed}");
}
