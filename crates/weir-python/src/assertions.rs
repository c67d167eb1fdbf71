//! The Python side of `weir test` (KSML's test-runner format): assert blocks, generators of
//! test data, and suites' module directories.
//!
//! - An assert block's `code` runs as the body of `def _run_assertions():`, as in KSML's
//!   runner, compiled with the suite file as file name and its YAML positions, so a failing
//!   `assert` is reported at its line in the suite. The blocks of one test share a
//!   namespace ([`Assertions`]); `records` is put in it before each block that reads a
//!   stream, and a block's `stores` are put in it as proxies over every instance of each
//!   store ([`Assertions::set_store`]). `AssertionError` is a failure, any other exception
//!   an error.
//! - A produce block's `generator` is a function without parameters whose result (the
//!   `expression`, default `result`) is a list of `(key, value)` tuples; [`TestGenerator`]
//!   loads it in a namespace of its own (KSML's namespace `test`) and calls it.

use indexmap::IndexMap;
use pyo3::exceptions::{PyAssertionError, PySyntaxError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTraceback, PyTuple};
use weir_dsl::model::{Code, Definition, FnType, FunctionDef};
use weir_dsl::suite::Generator;
use weir_dsl::types::{TypeKind, UserType};
use weir_dsl::{Diagnostic, Span};
use weir_engine::Value;
use weir_engine::ports::{FunctionError, Functions};

use crate::PythonFunctions;
use crate::compile::bootstrap;
use crate::convert::to_py;

/// A record read back from an output topic, as assert blocks see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRecord {
    pub key: Value,
    pub value: Value,
    pub timestamp: i64,
}

/// Why an assert block did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `AssertionError: <message>`, or `<ExceptionType>: <message>`.
    pub message: String,
    /// The line in the suite file of the innermost frame in the block's code.
    pub line: Option<u32>,
    /// Python's traceback.
    pub traceback: Option<String>,
}

/// The outcome of one assert block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// An `AssertionError`.
    Fail(Problem),
    /// Any other exception.
    Error(Problem),
}

/// The assert blocks of one test: a namespace they share.
pub struct Assertions {
    file: String,
    namespace: Py<PyDict>,
}

impl Assertions {
    /// A fresh namespace; `file` is the suite file's name as given to the parser (it names
    /// the code in tracebacks).
    pub fn new(file: &str) -> Result<Assertions, String> {
        Python::attach(|py| {
            let module = bootstrap(py).map_err(|e| format!("internal error: Weir's Python bootstrap failed (a bug in Weir): {e}"))?;
            let namespace = module
                .call_method0("new_assertion_namespace")
                .and_then(|n| n.cast_into::<PyDict>().map_err(PyErr::from))
                .map_err(|e| format!("internal error: cannot create the assertion namespace (a bug in Weir): {e}"))?;
            Ok(Assertions { file: file.to_string(), namespace: namespace.unbind() })
        })
    }

    /// Puts a proxy over `instances` (all of one store's instances) in the namespace under
    /// the store's name ([`crate::stores::inspection_proxy`]). Errors when there are none.
    pub fn set_store(&self, name: &str, instances: Vec<std::sync::Arc<weir_engine::store::StoreInstance>>) -> Result<(), String> {
        Python::attach(|py| {
            let proxy = crate::stores::inspection_proxy(py, instances)
                .map_err(|e| format!("internal error: cannot make a proxy for state store '{name}' (a bug in Weir): {e}"))?
                .ok_or_else(|| format!("State store '{name}' not found in topology"))?;
            self.namespace.bind(py).set_item(name, proxy).map_err(|e| format!("internal error: cannot bind state store '{name}': {e}"))
        })
    }

    /// Runs one block. `records`, when given, becomes the global `records`: a list of dicts
    /// with `key`, `value` and `timestamp`.
    pub fn run(&self, code: &Code, records: Option<&[OutputRecord]>) -> Outcome {
        Python::attach(|py| {
            let namespace = self.namespace.bind(py);
            let result = (|| -> PyResult<()> {
                if let Some(records) = records {
                    let list = PyList::empty(py);
                    for r in records {
                        let d = PyDict::new(py);
                        d.set_item("key", to_py(py, &r.key)?)?;
                        d.set_item("value", to_py(py, &r.value)?)?;
                        d.set_item("timestamp", r.timestamp)?;
                        list.append(d)?;
                    }
                    namespace.set_item("records", list)?;
                }
                bootstrap(py)?.call_method1("run_assertion", (namespace, code_tuple(py, code)?, &self.file))?;
                Ok(())
            })();
            match result {
                Ok(()) => Outcome::Pass,
                Err(err) => {
                    let problem = problem(py, &err, &self.file);
                    if err.is_instance_of::<PyAssertionError>(py) { Outcome::Fail(problem) } else { Outcome::Error(problem) }
                }
            }
        })
    }
}

fn code_tuple<'py>(py: Python<'py>, code: &Code) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [code.text.clone().into_pyobject(py)?.into_any(), code.line.into_pyobject(py)?.into_any(), code.col.into_pyobject(py)?.into_any()],
    )
}

fn problem(py: Python<'_>, err: &PyErr, file: &str) -> Problem {
    let kind = err.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".to_string());
    let text = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    let message = if text.is_empty() { kind } else { format!("{kind}: {text}") };
    let mut line = None;
    let mut tb = err.traceback(py);
    while let Some(frame) = tb {
        let code = frame.getattr("tb_frame").and_then(|f| f.getattr("f_code"));
        let name = code.and_then(|c| c.getattr("co_filename")).and_then(|n| n.extract::<String>()).unwrap_or_default();
        if name == file {
            line = frame.getattr("tb_lineno").and_then(|l| l.extract::<u32>()).ok().or(line);
        }
        tb = frame.getattr("tb_next").ok().and_then(|n| n.cast_into::<PyTraceback>().ok());
    }
    let traceback = err.traceback(py).and_then(|t| crate::runtime::format_traceback(&t));
    Problem { message, line, traceback }
}

/// Compiles an assert block without running it: a Python syntax error is a diagnostic at
/// its line and column in the suite file. `path` is the block's YAML path.
pub fn check_assertion(file: &str, code: &Code, path: &str) -> Option<Diagnostic> {
    Python::attach(|py| {
        let result = bootstrap(py).and_then(|m| m.call_method1("compile_assertion", (code_tuple(py, code)?, file)));
        let err = result.err()?;
        if !err.is_instance_of::<PySyntaxError>(py) {
            return Some(Diagnostic::error(
                file,
                Some(Span::new(code.line, code.col, 1)),
                path,
                format!("internal error compiling the assert block (a bug in Weir): {err}"),
            ));
        }
        let value = err.value(py);
        let line = value.getattr("lineno").and_then(|v| v.extract::<u32>()).unwrap_or(code.line);
        let col = value.getattr("offset").and_then(|v| v.extract::<u32>()).unwrap_or(1);
        let msg = value.getattr("msg").and_then(|v| v.extract::<String>()).unwrap_or_else(|_| err.to_string());
        Some(Diagnostic::error(
            file,
            Some(Span::new(line, col.max(1), 1)),
            &format!("{path}.code"),
            format!("Python syntax error in the assert block: {msg}"),
        ))
    })
}

/// The functions of the namespace generators run in, as KSML names it.
pub const GENERATOR_NAMESPACE: &str = "test";

/// A produce block's generator, loaded.
pub struct TestGenerator {
    functions: PythonFunctions,
    name: String,
}

/// The generator as a KSML function: no parameters, any result.
fn generator_definition(file: &str, g: &Generator) -> Definition {
    let f = FunctionDef {
        name: g.name.clone(),
        fn_type: FnType::Generic,
        parameters: Vec::new(),
        global_code: g.global_code.clone(),
        code: g.code.clone(),
        expression: Some(g.expression.clone()),
        result_type: Some(weir_dsl::model::Spanned::new(UserType { notation: None, kind: TypeKind::Any }, g.span)),
        stores: Vec::new(),
        span: g.span,
    };
    Definition {
        namespace: GENERATOR_NAMESPACE.to_string(),
        file: file.to_string(),
        name: None,
        version: None,
        description: None,
        topics: IndexMap::new(),
        stores: IndexMap::new(),
        functions: IndexMap::from([(g.name.clone(), f)]),
        pipelines: IndexMap::new(),
        producers: IndexMap::new(),
        schema_refs: Vec::new(),
    }
}

/// Python syntax errors in a generator, at their line in the suite file; `path` is the
/// generator's YAML path.
pub fn check_generator(file: &str, g: &Generator, path: &str) -> Vec<Diagnostic> {
    let mut diags = crate::check_definition(&generator_definition(file, g));
    for d in &mut diags {
        let field = d.path.rsplit('.').next().unwrap_or_default().to_string();
        d.path = format!("{path}.{field}");
        d.message = d.message.replace("in function", "in generator");
    }
    diags
}

impl TestGenerator {
    /// Loads the generator (running its `globalCode`) in a fresh namespace.
    pub fn load(file: &str, g: &Generator) -> Result<TestGenerator, Vec<Diagnostic>> {
        let functions = PythonFunctions::load(&generator_definition(file, g))?;
        Ok(TestGenerator { functions, name: g.name.clone() })
    }

    /// Calls the generator once: its `(key, value)` pairs. A single tuple is taken as one
    /// pair; anything else than a list of pairs is an error naming what was returned.
    pub fn call(&self) -> Result<Vec<(Value, Value)>, FunctionError> {
        let result = self.functions.call(&self.name, &[])?;
        let fail = |message: String| FunctionError {
            function: format!("{GENERATOR_NAMESPACE}.{}", self.name),
            message,
            traceback: None,
            location: None,
            details: Box::default(),
        };
        let pair = |v: Value| match v {
            Value::Tuple(mut items) | Value::List(mut items) if items.len() == 2 => {
                let value = items.pop().unwrap_or(Value::Null);
                let key = items.pop().unwrap_or(Value::Null);
                Some((key, value))
            }
            _ => None,
        };
        match result {
            Value::Tuple(_) => pair(result).map(|p| vec![p]).ok_or_else(|| {
                fail("the generator must return a list of (key, value) tuples, it returned a tuple that is not a pair".to_string())
            }),
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let shown = format!("{} '{item}'", item.type_name());
                    pair(item)
                        .ok_or_else(|| fail(format!("the generator must return a list of (key, value) tuples; element {i} is {shown}")))
                })
                .collect(),
            other => {
                Err(fail(format!("the generator must return a list of (key, value) tuples, it returned {} '{other}'", other.type_name())))
            }
        }
    }
}

/// Puts a suite's `moduleDirectory` first on Python's `sys.path`.
pub fn add_module_path(path: &str) -> Result<(), String> {
    Python::attach(|py| bootstrap(py).and_then(|m| m.call_method1("add_module_path", (path,))).map(|_| ()))
        .map_err(|e| format!("cannot add '{path}' to Python's module path: {e}"))
}

/// Takes a `moduleDirectory` off `sys.path` and forgets the modules imported from it, so
/// each test imports them afresh.
pub fn remove_module_path(path: &str) -> Result<(), String> {
    Python::attach(|py| bootstrap(py).and_then(|m| m.call_method1("remove_module_path", (path,))).map(|_| ()))
        .map_err(|e| format!("cannot remove '{path}' from Python's module path: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str, line: u32) -> Code {
        Code { text: text.to_string(), line, col: 11 }
    }

    #[test]
    fn assertion_errors_fail_at_their_yaml_line() {
        let a = Assertions::new("suite.yaml").expect("namespace");
        let records = [OutputRecord { key: Value::String("k".into()), value: Value::Long(5), timestamp: 7 }];
        assert_eq!(a.run(&code("assert len(records) == 1\nassert records[0]['timestamp'] == 7\n", 10), Some(&records)), Outcome::Pass);
        let Outcome::Fail(p) = a.run(&code("x = 1\nassert records[0]['value'] == 6, f\"got {records[0]['value']}\"\n", 20), None) else {
            panic!("an AssertionError is a failure")
        };
        assert_eq!(p.message, "AssertionError: got 5");
        assert_eq!(p.line, Some(21));
        let Outcome::Fail(p) = a.run(&code("assert False\n", 30), None) else { panic!("fail") };
        assert_eq!((p.message.as_str(), p.line), ("AssertionError", Some(30)));
        let Outcome::Error(p) = a.run(&code("y = undefined_name\n", 40), None) else { panic!("other exceptions are errors") };
        assert_eq!((p.message.as_str(), p.line), ("NameError: name 'undefined_name' is not defined", Some(40)));
    }

    #[test]
    fn syntax_errors_are_diagnostics() {
        let d = check_assertion("s.yaml", &code("x = (\n", 5), "tests.t.assert[0]").expect("syntax error");
        assert_eq!(d.span.map(|s| s.line), Some(5));
        assert!(d.message.starts_with("Python syntax error in the assert block"), "{d}");
        assert!(check_assertion("s.yaml", &code("assert True\n", 5), "p").is_none());
    }

    #[test]
    fn generators_return_pairs() {
        let g = |code: &str| Generator {
            name: "gen".into(),
            global_code: Some(Code { text: "N = 2\n".into(), line: 3, col: 5 }),
            code: Some(Code { text: code.into(), line: 4, col: 5 }),
            expression: Code { text: "result".into(), line: 5, col: 5 },
            span: Span::new(2, 5, 1),
        };
        let pairs = TestGenerator::load("s.yaml", &g("result = [(f'k{i}', i) for i in range(N)]\n")).expect("load");
        assert_eq!(
            pairs.call().expect("call"),
            vec![(Value::String("k0".into()), Value::Long(0)), (Value::String("k1".into()), Value::Long(1))]
        );
        let single = TestGenerator::load("s.yaml", &g("result = ('k', 'v')\n")).expect("load");
        assert_eq!(single.call().expect("call").len(), 1);
        let bad = TestGenerator::load("s.yaml", &g("result = 5\n")).expect("load");
        assert!(bad.call().expect_err("not pairs").message.contains("list of (key, value) tuples"));
        let boom = TestGenerator::load("s.yaml", &g("result = 1 / 0\n")).expect("load");
        let e = boom.call().expect_err("raises");
        assert_eq!(e.location, Some(("s.yaml".to_string(), 4)));
        assert!(e.to_string().starts_with("error while executing function test.gen: ZeroDivisionError"), "{e}");
    }
}
