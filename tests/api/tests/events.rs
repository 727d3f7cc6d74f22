//! Every function has its event files, and replays them beside its route: `events/` and
//! `functions/` list the same names, and each `functions/<name>/src/lib.rs` ends with the
//! replay test ([`api_tests::replays_its_events!`]), which checks each file's status.

use api_tests::replay::{event_files, repo_root};
use std::path::Path;

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
    let functions = dirs(&root.join("functions"));
    assert_eq!(functions, dirs(&root.join("events")));
    let mut files = 0;
    for function in &functions {
        files += event_files(function).len();
        let lib = std::fs::read_to_string(root.join("functions").join(function).join("src/lib.rs"))
            .unwrap();
        // The publisher's events are stream batches, replayed by its own tests.
        let replay = if function == "publish-events" {
            "mod replays_its_stream_events"
        } else {
            "#[cfg(test)]\napi_tests::replays_its_events!(handle);"
        };
        assert!(
            lib.contains(replay),
            "functions/{function}/src/lib.rs must replay its events"
        );
    }
    assert!(files >= 40, "{files}");
}
