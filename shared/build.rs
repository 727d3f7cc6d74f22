//! Converts the vendored uap-core `regexes.yaml` to JSON at build time, so the functions embed
//! the User-Agent rules without a YAML parser at run time, leaving out the device rules they do
//! not use.

use std::path::PathBuf;

fn main() {
    let src = PathBuf::from("data/uap-core/regexes.yaml");
    println!("cargo::rerun-if-changed={}", src.display());
    let yaml = std::fs::read_to_string(&src).expect("shared/data/uap-core/regexes.yaml is missing");
    let mut value: serde_json::Value =
        serde_norway::from_str(&yaml).expect("regexes.yaml is not valid YAML");
    // Device (brand and model) rules are not used: see `device.rs`.
    value
        .as_object_mut()
        .expect("regexes.yaml is a mapping")
        .remove("device_parsers");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(
        out.join("uap-regexes.json"),
        serde_json::to_vec(&value).expect("JSON serialisation cannot fail"),
    )
    .expect("cannot write OUT_DIR/uap-regexes.json");
}
