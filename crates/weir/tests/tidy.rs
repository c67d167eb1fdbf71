//! The dependency rule of ARCHITECTURE.md, enforced: each crate may depend only on the
//! crates listed for it here. Adding a dependency means adding it here, on purpose.

use std::path::Path;

/// Crate → the dependencies it may have (normal and dev).
const ALLOWED: &[(&str, &[&str])] = &[
    // Pure: YAML in, model out. No runtime, Python, Kafka, CLI or anyhow.
    ("weir-dsl", &["yaml-rust2", "indexmap", "serde_json"]),
    // Data model, plan, stores, embedded log, runtime. Owns the ports; names no adapter
    // technology (Python, Kafka, HTTP, CLI).
    // Notation libraries are named only in their codec modules (notation/<name>.rs).
    (
        "weir-engine",
        &[
            "weir-dsl",
            "indexmap",
            "thiserror",
            "crc32fast",
            "serde_json",
            "serde",
            "tracing",
            "apache-avro",
            "csv",
            "quick-xml",
            "jsonschema",
            "prost-reflect",
            "protox",
        ],
    ),
    // The only crate that names pyo3.
    ("weir-python", &["weir-dsl", "weir-engine", "indexmap", "pyo3", "tracing"]),
    // ureq: the schema registry clients (registry.rs).
    (
        "weir",
        &[
            "weir-dsl",
            "weir-engine",
            "weir-python",
            "clap",
            "anyhow",
            "serde_json",
            "tracing",
            "tracing-subscriber",
            "ctrlc",
            "indexmap",
            "ureq",
        ],
    ),
];

fn dependencies(manifest: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = matches!(line, "[dependencies]" | "[dev-dependencies]" | "[build-dependencies]");
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once('=') {
            let name = name.trim().trim_end_matches(".workspace").trim();
            if !name.is_empty() && !name.starts_with('#') {
                deps.push(name.to_string());
            }
        }
    }
    deps
}

#[test]
fn crates_depend_only_on_what_the_architecture_allows() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("crates dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
        found.push(name.clone());
        let allowed = ALLOWED
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("crate '{name}' is not in the dependency rule (tests/tidy.rs)"));
        for dep in dependencies(&manifest) {
            assert!(allowed.contains(&dep.as_str()), "crate '{name}' depends on '{dep}', which the dependency rule does not allow");
        }
    }
    assert_eq!(found.len(), ALLOWED.len(), "every crate of the rule exists: {found:?}");
}
