//! Golden tests: each malformed definition under `tests/golden/` gives the diagnostics in the
//! `.out` file beside it, rendered as `weir check` prints them. Run with `WEIR_BLESS=1` to
//! rewrite the `.out` files, then review the diff.

use std::path::Path;

use weir_dsl::{Diagnostic, parse_definition, source_text};

fn render(file: &str, bytes: Vec<u8>) -> String {
    let (text, diags): (Option<String>, Vec<Diagnostic>) = match source_text(file, bytes) {
        Ok(text) => {
            let (_, diags) = parse_definition(file, "golden", &text, &[]);
            (Some(text), diags)
        }
        Err(d) => (None, vec![d]),
    };
    diags.iter().map(|d| d.render(text.as_deref())).collect::<Vec<_>>().join("\n")
}

#[test]
fn malformed_definitions_give_the_expected_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/golden")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 8, "golden inputs missing");
    let mut mismatches = Vec::new();
    for input in inputs {
        let name = format!("golden/{}", input.file_name().and_then(|n| n.to_str()).unwrap_or_default());
        let actual = render(&name, std::fs::read(&input).expect("read input"));
        assert!(actual.contains("error:"), "{name}: a malformed definition must give at least one error");
        let expected_path = input.with_extension("out");
        if bless {
            std::fs::write(&expected_path, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!("--- {}\n{actual}", expected_path.display()));
        }
    }
    assert!(mismatches.is_empty(), "golden output differs (rerun with WEIR_BLESS=1 and review the diff):\n{}", mismatches.join("\n"));
}
