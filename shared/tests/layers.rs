//! The library's layers depend one way: every `crate::` path in a module's code (tests and
//! comments aside) names a module of a lower layer. A new import that points up, or sideways
//! within a layer, fails here with the module and the path, so import circles cannot come back.

use std::collections::BTreeMap;
use std::path::Path;

/// Every top-level module of `shared/src` and its layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    // The rules, no I/O.
    ("domain", 0),
    // Leaves that know only the domain.
    ("error", 1),
    ("cursor", 1),
    ("tables", 1),
    ("metrics", 1),
    ("passwords", 2),
    ("logging", 1),
    ("config", 2),
    ("audit", 2),
    // DynamoDB, and tokens with their keys.
    ("store", 3),
    ("events", 3),
    ("tokens", 3),
    // What a function builds once per cold start.
    ("state", 4),
    // Who is calling, as of this request.
    ("auth", 5),
    // The use cases.
    ("services", 6),
    // Requests and responses.
    ("http", 7),
    // Local stack, tests and bench: demo data and the round-trip recorder.
    ("testkit", 8),
];

/// What the crate root re-exports, by the module that defines it.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("AppState", "state"),
    ("read_secrets", "state"),
    ("Config", "config"),
    ("ApiError", "error"),
    ("Store", "store"),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The code of a file without its `#[cfg(test)]` module and its comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file's code names through `crate::` (paths and `use crate::{...}` groups).
fn imports(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let head = item.trim().split("::").next().unwrap_or_default().trim();
                if !head.is_empty() {
                    found.push(head.to_owned());
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(head);
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_lower_layers() {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == "lib.rs" {
            continue;
        }
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let own = layer(module).unwrap_or_else(|| panic!("{rel}: add {module} to LAYERS"));
        let text = std::fs::read_to_string(&file).unwrap();
        for name in imports(&code(&text)) {
            let target = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name.as_str(), |(_, m)| *m);
            if target == module || name == "self" {
                continue;
            }
            let theirs = layer(target).unwrap_or_else(|| panic!("{rel}: crate::{name}?"));
            if theirs >= own {
                wrong.entry(rel.clone()).or_default().push(name);
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways: {wrong:?}"
    );
}

#[test]
fn the_layer_check_sees_upward_imports() {
    let found = imports("use crate::services::x;\nuse crate::{domain::Session, http};\n");
    assert_eq!(found, ["services", "domain", "http"]);
    assert!(
        code("use crate::a; // crate::b\n#[cfg(test)]\nmod tests { crate::c }")
            .contains("crate::a")
    );
    assert!(!code("// crate::b\n").contains("crate::b"));
}

/// The process environment is read in one place, `config/env.rs` (`process_var`): every
/// setting has one reader, and a test can build any configuration from a map.
#[test]
fn only_the_configuration_reads_the_environment() {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let readers: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = code(&std::fs::read_to_string(f).unwrap());
            text.contains("env::var") || text.contains("env::vars")
        })
        .map(|f| f.strip_prefix(src).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(readers, ["config/env.rs"]);
}
