//! Compiling KSML function definitions to Python code objects.
//!
//! The work is done by `bootstrap.py` (loaded as the module `weir_bootstrap`), which
//! assembles each function with `ast` so that user code keeps its YAML positions. This
//! module builds the specification it needs from a [`FunctionDef`] and turns Python's
//! `SyntaxError` into a [`Diagnostic`] at the YAML line and column.

use pyo3::exceptions::PySyntaxError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyTuple};
use weir_dsl::model::{Code, Definition, FunctionDef, ResultRule};
use weir_dsl::types::TypeKind;
use weir_dsl::{Diagnostic, Span};

const BOOTSTRAP: &str = include_str!("bootstrap.py");
/// The resilience toolkit functions import as `weir` (docs/external-systems.md).
const TOOLKIT: &str = include_str!("weir.py");
/// The name the toolkit's code carries in tracebacks (its text is in `linecache`).
const TOOLKIT_FILE: &str = "<weir>/weir.py";

/// What KSML calls the function in logger names: `<namespace>.<kind>.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggerKind {
    Function,
    Generator,
    Condition,
}

impl LoggerKind {
    fn name(self) -> &'static str {
        match self {
            LoggerKind::Function => "function",
            LoggerKind::Generator => "generator",
            LoggerKind::Condition => "condition",
        }
    }
}

/// The Python name of a KSML function: its name with anything that cannot appear in a
/// Python identifier replaced by `_` (inline functions are named after their YAML path).
pub fn python_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c == '_' || c.is_alphanumeric() { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The bootstrap module, loaded once per interpreter (and only used once fully executed:
/// another thread may see it in `sys.modules` while it is still loading).
pub(crate) fn bootstrap(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || {
        let source = std::ffi::CString::new(BOOTSTRAP).map_err(|e| PySyntaxError::new_err(e.to_string()))?;
        let module = PyModule::from_code(py, &source, c"weir_bootstrap.py", c"weir_bootstrap")?;
        module.getattr("install_java_shim")?.call1((crate::stores::java_proxies(py)?,))?;
        install_toolkit(py, &module)?;
        Ok::<_, PyErr>(module.unbind())
    })?;
    Ok(module.bind(py).clone())
}

/// Loads the toolkit as the module `weir` (and `weir.http`) into `sys.modules`, its metrics
/// going to the user metrics registry. A definition that does not import it pays nothing
/// per call.
fn install_toolkit(py: Python<'_>, bootstrap: &Bound<'_, PyModule>) -> PyResult<()> {
    let source = std::ffi::CString::new(TOOLKIT).map_err(|e| PySyntaxError::new_err(e.to_string()))?;
    let file = std::ffi::CString::new(TOOLKIT_FILE).map_err(|e| PySyntaxError::new_err(e.to_string()))?;
    let toolkit = PyModule::from_code(py, &source, &file, c"weir")?;
    toolkit.getattr("_install")?.call1((wrap_pyfunction!(crate::runtime::metric, py)?,))?;
    bootstrap.getattr("remember_source")?.call1((TOOLKIT_FILE, TOOLKIT))?;
    py.import("sys")?.getattr("modules")?.set_item("weir", toolkit)?;
    Ok(())
}

/// Whether KSML emits `return <expression>` for this function: when it has a result type,
/// declared or implied by its function type.
fn returns(f: &FunctionDef) -> bool {
    f.result_type.is_some() || matches!(f.fn_type.result(), ResultRule::Default(_))
}

fn code_tuple<'py>(py: Python<'py>, code: &Code) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [code.text.clone().into_pyobject(py)?.into_any(), code.line.into_pyobject(py)?.into_any(), code.col.into_pyobject(py)?.into_any()],
    )
}

/// The specification `weir_bootstrap.compile_function` takes.
pub(crate) fn spec<'py>(py: Python<'py>, namespace: &str, file: &str, f: &FunctionDef, kind: LoggerKind) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", python_name(&f.name))?;
    d.set_item("logger", format!("{namespace}.{}.{}", kind.name(), f.name))?;
    d.set_item("filename", file)?;
    d.set_item("line", f.span.line)?;
    d.set_item("params", f.fn_type.params().to_vec())?;
    let custom: Vec<(String, Option<String>)> = f
        .parameters
        .iter()
        .filter(|p| !f.fn_type.params().contains(&p.name.as_str()))
        .map(|p| {
            let default = p.default_value.as_ref().map(|v| match p.ty.kind {
                TypeKind::String => python_string_literal(v),
                _ => v.clone(),
            });
            (p.name.clone(), default)
        })
        .collect();
    d.set_item("custom", custom)?;
    d.set_item("stores", f.stores.iter().map(|s| s.value.clone()).collect::<Vec<_>>())?;
    d.set_item("returns", returns(f))?;
    let code = |c: &Option<Code>| -> PyResult<Option<Bound<'py, PyTuple>>> { c.as_ref().map(|c| code_tuple(py, c)).transpose() };
    d.set_item("global_code", code(&f.global_code)?)?;
    d.set_item("code", code(&f.code)?)?;
    let expression = match (&f.expression, f.fn_type.default_expression()) {
        (Some(e), _) => Some(code_tuple(py, e)?),
        (None, Some(default)) => Some(code_tuple(py, &Code { text: default.to_string(), line: f.span.line, col: 1 })?),
        (None, None) => None,
    };
    d.set_item("expression", expression)?;
    Ok(d)
}

fn python_string_literal(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Python `SyntaxError` raised by the bootstrap as a diagnostic at the YAML position.
pub(crate) fn syntax_diagnostic(py: Python<'_>, err: &PyErr, file: &str, f: &FunctionDef, path: &str) -> Diagnostic {
    let value = err.value(py);
    let get = |name: &str| value.getattr(name).ok();
    let line = get("lineno").and_then(|v| v.extract::<u32>().ok()).unwrap_or(f.span.line);
    let col = get("offset").and_then(|v| v.extract::<u32>().ok()).unwrap_or(1);
    let msg = get("msg").and_then(|v| v.extract::<String>().ok()).unwrap_or_else(|| err.to_string());
    let field = get("field").and_then(|v| v.extract::<String>().ok()).unwrap_or_else(|| "code".to_string());
    Diagnostic::error(
        file,
        Some(Span::new(line, col.max(1), 1)),
        &format!("{path}.{field}"),
        format!("Python syntax error in function '{}': {msg}", f.name),
    )
}

/// Compiles every function of a definition (without running anything) and reports each
/// Python syntax error at its YAML line, as `weir check` does.
pub fn check_definition(def: &Definition) -> Vec<Diagnostic> {
    Python::attach(|py| {
        let module = match bootstrap(py) {
            Ok(m) => m,
            Err(e) => {
                return vec![Diagnostic::error(
                    &def.file,
                    None,
                    "",
                    format!("internal error: Weir's Python bootstrap failed to load (a bug in Weir): {e}"),
                )];
            }
        };
        let mut diags = Vec::new();
        for f in def.all_functions() {
            let path = if def.functions.contains_key(&f.name) { format!("functions.{}", f.name) } else { f.name.replace('_', ".") };
            let result =
                spec(py, &def.namespace, &def.file, f, LoggerKind::Function).and_then(|s| module.call_method1("compile_function", (s,)));
            if let Err(err) = result {
                if err.is_instance_of::<PySyntaxError>(py) {
                    diags.push(syntax_diagnostic(py, &err, &def.file, f, &path));
                } else {
                    diags.push(Diagnostic::error(
                        &def.file,
                        Some(f.span),
                        &path,
                        format!("internal error compiling function '{}' (a bug in Weir): {err}", f.name),
                    ));
                }
            }
        }
        diags
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diags(yaml: &str) -> Vec<String> {
        let (def, d) = weir_dsl::parse_definition("t.yaml", "ns", yaml, &[]);
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        check_definition(&def.expect("definition"))
            .iter()
            .map(|d| format!("{}:{} {}", d.span.map_or(0, |s| s.line), d.span.map_or(0, |s| s.col), d.message))
            .collect()
    }

    #[test]
    fn valid_functions_compile() {
        let yaml = "functions:\n  f:\n    type: predicate\n    globalCode: |\n      def helper(x):\n          return x\n    code: |\n      y = helper(value)\n    expression: y is not None\n  g:\n    type: forEach\n    parameters:\n      - name: prefix\n        type: string\n        defaultValue: hi\n    code: print(prefix, key)\n";
        assert_eq!(diags(yaml), Vec::<String>::new());
    }

    #[test]
    fn syntax_errors_point_at_the_yaml_line() {
        let yaml = "functions:\n  f:\n    type: predicate\n    code: |\n      x = 1\n      if x >\n        pass\n    expression: True\n";
        let d = diags(yaml);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("6:") && d[0].ends_with("Python syntax error in function 'f': invalid syntax"), "{d:?}");
    }

    #[test]
    fn expression_errors_point_at_the_expression() {
        let yaml = "functions:\n  f:\n    type: predicate\n    expression: value is\n";
        let d = diags(yaml);
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("4:"), "{d:?}");
    }

    #[test]
    fn python_names_are_identifiers() {
        assert_eq!(python_name("pipelines_my-pipe_via_step1_if"), "pipelines_my_pipe_via_step1_if");
        assert_eq!(python_name("1x"), "_1x");
    }
}
