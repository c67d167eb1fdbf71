//! The dependency rule of ARCHITECTURE.md, enforced: each crate may depend only on the
//! crates listed for it here. Adding a dependency means adding it here, on purpose.

use std::path::Path;

/// Crate → the dependencies it may have (normal and dev).
const ALLOWED: &[(&str, &[&str])] = &[
    // Pure: YAML in, model out. No runtime, Python, Kafka, CLI or anyhow.
    ("weir-dsl", &["yaml-rust2", "indexmap", "serde_json"]),
    // Data model, plan, stores, runtime. Owns the ports (functions, broker); names no
    // adapter (Python, the embedded log, Kafka, HTTP, CLI).
    // Notation libraries are named only in their codec modules (notation/<name>.rs).
    (
        "weir-engine",
        &[
            "weir-dsl",
            "indexmap",
            "thiserror",
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
    // The embedded log: a broker adapter, beside the Kafka one; it knows the engine's port
    // and nothing of plans, stores or functions.
    ("weir-log", &["weir-engine", "thiserror", "crc32fast"]),
    // The Kafka adapter: the only crate that names rdkafka (librdkafka).
    ("weir-kafka", &["weir-engine", "rdkafka", "tracing"]),
    // The only crate that names pyo3.
    ("weir-python", &["weir-dsl", "weir-engine", "indexmap", "pyo3", "tracing"]),
    // ureq: the schema registry clients (registry.rs); rustix: the control socket's peer
    // check (serve.rs), safely (the workspace forbids unsafe code).
    (
        "weir",
        &[
            "weir-dsl",
            "weir-engine",
            "weir-python",
            "weir-log",
            "weir-kafka",
            "clap",
            "anyhow",
            "serde_json",
            "tracing",
            "tracing-subscriber",
            "ctrlc",
            "indexmap",
            "ureq",
            "tiny_http",
            "prometheus-client",
            "rustix",
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

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What a crate's sources must never name, beyond its manifest: the engine reaches the
/// outside only through its ports, so no adapter's crate or technology appears in it; the
/// embedded log implements the broker port and nothing above it.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("weir-dsl", &["weir_engine", "weir_log", "weir_kafka", "weir_python", "pyo3", "rdkafka"]),
    ("weir-engine", &["weir_log", "weir_kafka", "weir_python", "pyo3", "rdkafka", "ureq", "tiny_http", "prometheus_client", "crate::log"]),
    ("weir-log", &["weir_kafka", "weir_python", "weir_engine::plan", "weir_engine::runtime", "weir_engine::store", "weir_engine::ports"]),
    ("weir-python", &["weir_log", "weir_kafka", "rdkafka"]),
    ("weir-kafka", &["weir_log", "weir_python", "pyo3", "weir_engine::plan", "weir_engine::runtime", "weir_engine::store"]),
];

#[test]
fn crates_name_only_what_the_architecture_allows() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut offences = Vec::new();
    for (krate, words) in FORBIDDEN {
        let mut files = Vec::new();
        sources(&crates.join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "crate '{krate}' has sources");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for word in *words {
                    if code.contains(word) {
                        offences.push(format!("{}:{}: names '{word}'", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(offences.is_empty(), "layering broken (ARCHITECTURE.md, Invariants):\n{}", offences.join("\n"));
}

/// The engine's top-level modules, lowest layer first. A module may name (`crate::…`) only
/// modules before it in this list, so the modules import each other without cycles and each
/// can be read knowing only what is below it (ARCHITECTURE.md, Invariants).
const ENGINE_LAYERS: &[&str] = &[
    // Leaves: the wall clock and calendar, hashing, Kafka's partitioner, user metrics.
    "time",
    "hash",
    "partitioner",
    "metrics",
    // The data model (values, foreign values, the JSON writer they share with the codecs).
    "value",
    // The schema registry port, then the codecs over the data model.
    "registry",
    "notation",
    // The ports adapters implement: functions and worker threads, then the broker.
    "ports",
    "broker",
    // State stores over the broker and codecs; the plan over stores and ports; the runtime
    // over everything.
    "store",
    "plan",
    "runtime",
];

/// The top-level modules a source text names as `crate::<module>`, `crate::{<module>, …}`
/// included; comments are skipped.
fn crate_modules(text: &str) -> Vec<String> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `weir_crate::…`, not this crate
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of every item at the group's top level.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.push(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found
}

#[test]
fn engine_modules_import_each_other_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../weir-engine/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let declared: Vec<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    for module in &declared {
        assert!(ENGINE_LAYERS.contains(&module.as_str()), "engine module '{module}' has no place in ENGINE_LAYERS (tests/tidy.rs)");
    }
    let mut offences = Vec::new();
    for (layer, module) in ENGINE_LAYERS.iter().enumerate() {
        assert!(declared.iter().any(|d| d == module), "ENGINE_LAYERS names '{module}', which lib.rs does not declare");
        let mut files = Vec::new();
        let single = src.join(format!("{module}.rs"));
        if single.exists() {
            files.push(single);
        }
        if src.join(module).is_dir() {
            sources(&src.join(module), &mut files);
        }
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            for named in crate_modules(&text) {
                let Some(at) = ENGINE_LAYERS.iter().position(|m| *m == named) else { continue };
                if at > layer {
                    offences.push(format!("{}: '{module}' names 'crate::{named}', a layer above it", file.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "engine layering broken (ARCHITECTURE.md, Invariants):\n{}", offences.join("\n"));
}

#[test]
fn crate_modules_finds_paths_and_groups() {
    let text =
        "use crate::value::Value;\nuse crate::{broker::Broker, notation::{Codec, json}, store};\n// crate::runtime\nx = weir_crate::plan;";
    assert_eq!(crate_modules(text), ["value", "broker", "notation", "store"]);
}
