//! Runs Python code as the body of a KSML function (the toolkit's tests).

use weir_engine::Value;
use weir_python::{Functions, PythonFunctions};

/// Runs `code` as a valueTransformer's `code` in a definition of its own (file name `file`),
/// then `return 'ok'`; panics with the error and its traceback unless it gets there.
pub fn run_ok(file: &str, code: &str) {
    let yaml = format!(
        "functions:\n  body:\n    type: valueTransformer\n    code: |\n{}\n      return 'ok'\n    resultType: string\n",
        code.lines().map(|l| if l.is_empty() { String::new() } else { format!("      {l}") }).collect::<Vec<_>>().join("\n")
    );
    let (def, diags) = weir_dsl::parse_definition(file, "ns", &yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let result = PythonFunctions::load(&def.expect("definition")).expect("load").call("body", &[Value::Null, Value::Null]);
    assert_eq!(result, Ok(Value::String("ok".into())), "{}", result.as_ref().err().map(ToString::to_string).unwrap_or_default());
}
