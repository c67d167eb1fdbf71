//! Every KSML definition shipped with KSML (docs examples, test pipelines, test-runner
//! pipelines) passes `weir check`, except the ones KSML itself rejects, listed below with
//! the reason and the exact diagnostic.

use std::path::{Path, PathBuf};

use weir_dsl::{Diagnostic, parse_definition};

fn ksml_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Definitions KSML itself rejects: the file (relative to `shared/ksml`), why, and exactly
/// the errors we give (`file:line:col: message (hint)`).
const REJECTED: &[(&str, &str, &[&str])] = &[
    (
        "docs-examples/introduction/example-pipeline-definition.yaml",
        "a documentation fragment: its source and target streams are not defined, and its valueTransformer has no resultType",
        &[
            "docs-examples/introduction/example-pipeline-definition.yaml:3:11: unknown stream, table or pipeline result 'my_input_stream' (define it under 'streams:', 'tables:' or 'globalTables:', or write an inline topic)",
            "docs-examples/introduction/example-pipeline-definition.yaml:10:11: inline valueTransformer function: functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
            "docs-examples/introduction/example-pipeline-definition.yaml:12:9: unknown stream, table or globalTable 'my_output_stream' (define it under 'streams:', or write an inline topic: 'to: {topic: name}')",
        ],
    ),
    (
        "docs-examples/reference/operations/selectkey-processor.yaml",
        "KSML requires a resultType on keyTransformer functions (since PR #300)",
        &[
            "docs-examples/reference/operations/selectkey-processor.yaml:18:11: inline keyTransformer function: functions of type 'keyTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
        ],
    ),
    (
        "docs-examples/use-cases/fraud-detection/fraud-detection-machine-learning.yaml",
        "valueTransformer without resultType; 'object' is not a KSML type",
        &[
            "docs-examples/use-cases/fraud-detection/fraud-detection-machine-learning.yaml:24:5: function 'ml_fraud_prediction': functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
            "docs-examples/use-cases/fraud-detection/fraud-detection-machine-learning.yaml:27:15: invalid type 'object': unknown type 'object' (a schema name needs a notation prefix, e.g. 'avro:object')",
        ],
    ),
    (
        "docs-examples/use-cases/fraud-detection/fraud-notifications.yaml",
        "valueTransformer without resultType",
        &[
            "docs-examples/use-cases/fraud-detection/fraud-notifications.yaml:16:5: function 'generate_notification': functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
        ],
    ),
    (
        "docs-examples/use-cases/fraud-detection/fraud-pattern-detection.yaml",
        "valueTransformer without resultType",
        &[
            "docs-examples/use-cases/fraud-detection/fraud-pattern-detection.yaml:85:5: function 'calculate_fraud_score': functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
        ],
    ),
    (
        "docs-examples/use-cases/iot-data-processing/edge-processing.yaml",
        "inline valueTransformer without resultType",
        &[
            "docs-examples/use-cases/iot-data-processing/edge-processing.yaml:26:11: inline valueTransformer function: functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
        ],
    ),
    (
        "docs-examples/use-cases/iot-data-processing/processing-geospatial-data.yaml",
        "valueTransformer without resultType",
        &[
            "docs-examples/use-cases/iot-data-processing/processing-geospatial-data.yaml:40:5: function 'calculate_distance': functions of type 'valueTransformer' need a 'resultType' (add e.g. 'resultType: json' saying what the function returns)",
        ],
    ),
];

fn definitions() -> Vec<PathBuf> {
    let root = ksml_dir();
    let mut files = Vec::new();
    for dir in ["docs-examples", "pipelines", "test-runner/pipelines"] {
        yaml_files(&root.join(dir), &mut files);
    }
    files.retain(|f| f.file_name().is_some_and(|n| n != "ksml-runner.yaml"));
    files
}

fn check(path: &Path) -> Vec<Diagnostic> {
    let root = ksml_dir();
    let rel = path.strip_prefix(&root).unwrap_or(path).display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let ns = path.file_stem().and_then(|s| s.to_str()).unwrap_or("ns").to_string();
    let (_, diags) = parse_definition(&rel, &ns, &text, &[]);
    diags.into_iter().filter(|d| d.is_error()).collect()
}

#[test]
fn ksml_definitions_pass_check() {
    let files = definitions();
    assert!(files.len() > 200, "expected KSML's examples under {}, found {}", ksml_dir().display(), files.len());
    let mut failures = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(ksml_dir()).unwrap_or(path).display().to_string();
        let errors = check(path);
        match REJECTED.iter().find(|(f, _, _)| *f == rel) {
            Some((_, _, expected)) => {
                let got: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
                if got != *expected {
                    failures.push(format!("{rel}: expected exactly {expected:#?}, got {got:#?}"));
                }
            }
            None => {
                for d in errors {
                    failures.push(d.to_string());
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}
