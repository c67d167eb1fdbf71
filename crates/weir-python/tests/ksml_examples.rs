//! The Python code of every KSML example definition compiles: no syntax error is reported
//! where KSML's own examples have none.

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") && path.file_name().is_some_and(|n| n != "ksml-runner.yaml") {
            out.push(path);
        }
    }
}

#[test]
fn ksml_example_functions_compile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ksml");
    let mut files = Vec::new();
    for dir in ["docs-examples", "pipelines", "test-runner/pipelines"] {
        yaml_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 200);
    let mut compiled = 0;
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let (def, _) = weir_dsl::parse_definition(&file.display().to_string(), "ns", &text, &[]);
        let Some(def) = def else { continue };
        compiled += def.all_functions().len();
        problems.extend(weir_python::check_definition(&def).iter().map(ToString::to_string));
    }
    assert!(compiled > 500, "only {compiled} functions compiled");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
