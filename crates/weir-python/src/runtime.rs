//! Loading a definition's functions into CPython and calling them.
//!
//! [`PythonFunctions::load`] gives each definition one module namespace (KSML semantics:
//! all functions of a definition share globals and can call each other), runs each
//! function's `globalCode` there, and defines the function. [`PythonFunctions::call`]
//! converts the arguments into Python, calls, converts the result back and brings it to the
//! declared `resultType`. A Python exception becomes a [`FunctionError`] carrying the
//! function name, the traceback and the YAML line of the failing statement.
//!
//! The engine's fast data path ([`Functions::call_datum`], [`Functions::decode_json`]) keeps
//! values as Python objects between calls; [`crate::objects`] says when and why that gives
//! the same results.
//!
//! `log` messages go to `tracing` with the target `ksml` and the KSML logger name
//! (`<namespace>.function.<name>`) as a field.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use weir_dsl::model::{Definition, FunctionDef, ResultRule};
use weir_dsl::types::{UserType, parse_user_type};
use weir_dsl::{Diagnostic, Span};
use weir_engine::Value;
use weir_engine::hash::FastMap;
use weir_engine::metrics::{MetricId, MetricKind, user_metrics};
use weir_engine::ports::{ArgSchema, ForeignValue, FunctionError, Functions, ScopeHandle, ThreadScope};
use weir_engine::value::{Datum, convert, converts_unchanged};

use crate::compile::{LoggerKind, bootstrap, spec, syntax_diagnostic};
use crate::convert::{from_py, to_py};
use crate::objects::{DecodeCache, PyValue, container_kind, decode_json, same_text};

struct Loaded {
    callable: Py<PyAny>,
    def: FunctionDef,
    /// The declared result type, or the one the function type implies.
    result: Option<UserType>,
}

/// The functions of one definition, loaded into their shared namespace.
pub struct PythonFunctions {
    namespace: String,
    file: String,
    /// By name, in definition order (a later function of the same name replaces an earlier).
    functions: Vec<(String, Loaded)>,
    /// Where each name is in `functions`, for definitions with many functions.
    by_name: FastMap<String, usize>,
    /// What decoding JSON into Python keeps between records (shared by the stream threads;
    /// only ever tried, never waited for, see `decode_json`).
    decoding: Mutex<DecodeCache>,
}

#[pyfunction]
fn emit(level: &str, logger: &str, message: &str) {
    match level {
        "trace" => tracing::trace!(target: "ksml", logger, "{message}"),
        "debug" => tracing::debug!(target: "ksml", logger, "{message}"),
        "info" => tracing::info!(target: "ksml", logger, "{message}"),
        "warn" => tracing::warn!(target: "ksml", logger, "{message}"),
        _ => tracing::error!(target: "ksml", logger, "{message}"),
    }
}

fn metric_kind(kind: &str) -> MetricKind {
    match kind {
        "counter" => MetricKind::Counter,
        "meter" => MetricKind::Meter,
        "gauge" => MetricKind::Gauge,
        _ => MetricKind::Timer,
    }
}

/// Records on the user metrics registry (KSML's `metrics` built-in): `kind` counter, meter,
/// timer or gauge; `op` register, add (counters, meters), time (timers, nanoseconds), set
/// (gauges) or remove.
#[pyfunction]
fn record_metric(kind: &str, name: &str, tags: std::collections::BTreeMap<String, String>, op: &str, amount: i64) {
    let id = MetricId { kind: metric_kind(kind), name: name.to_string(), tags };
    let registry = user_metrics();
    match op {
        "register" => registry.register(&id),
        "add" => registry.add(&id, u64::try_from(amount).unwrap_or(0)),
        "time" => registry.record(&id, u64::try_from(amount).unwrap_or(0)),
        "set" => registry.set(&id, amount),
        _ => registry.remove(&id),
    }
}

/// One metric of the user metrics registry, resolved once (the toolkit's, `weir.py`): an
/// update converts no name or tags.
#[pyclass(frozen, module = "weir")]
pub(crate) struct Metric(MetricId);

#[pymethods]
impl Metric {
    /// Adds to a counter or marks a meter.
    fn add(&self, n: i64) {
        user_metrics().add(&self.0, u64::try_from(n).unwrap_or(0));
    }

    /// Records a duration (nanoseconds) on a timer.
    fn time(&self, nanos: i64) {
        user_metrics().record(&self.0, u64::try_from(nanos).unwrap_or(0));
    }

    /// Sets a gauge.
    fn set(&self, value: i64) {
        user_metrics().set(&self.0, value);
    }
}

/// Registers a metric (`kind` counter, meter, timer or gauge) and gives its handle.
#[pyfunction]
pub(crate) fn metric(kind: &str, name: &str, tags: std::collections::BTreeMap<String, String>) -> Metric {
    let id = MetricId { kind: metric_kind(kind), name: name.to_string(), tags };
    user_metrics().register(&id);
    Metric(id)
}

/// Keeps a worker thread attached to the interpreter for its whole life, with the GIL
/// released between calls: each call then only takes the GIL, instead of creating and
/// destroying a Python thread state (measured: half the time of a Python pipeline).
pub struct PythonThreads;

impl ThreadScope for PythonThreads {
    fn run(&self, body: &mut (dyn FnMut() + Send)) {
        Python::attach(|py| py.detach(body));
    }

    /// Holds the GIL for the batch: the calls inside find it held and only count.
    fn batch(&self, body: &mut dyn FnMut()) {
        Python::attach(|_| body());
    }

    fn outside(&self, body: &mut (dyn FnMut() + Send)) {
        Python::attach(|py| py.detach(body));
    }
}

/// The thread scope for the engine's worker threads.
pub fn thread_scope() -> ScopeHandle {
    ScopeHandle(std::sync::Arc::new(PythonThreads))
}

impl PythonFunctions {
    /// Loads every function of `def` (top-level and inline). Syntax errors and exceptions
    /// raised by `globalCode` are reported as diagnostics at their YAML line.
    pub fn load(def: &Definition) -> Result<PythonFunctions, Vec<Diagnostic>> {
        Python::attach(|py| {
            let internal = |e: PyErr| {
                vec![Diagnostic::error(&def.file, None, "", format!("internal error: Weir's Python bootstrap failed (a bug in Weir): {e}"))]
            };
            let module = bootstrap(py).map_err(internal)?;
            let emit = wrap_pyfunction!(emit, py).map_err(internal)?;
            let record = wrap_pyfunction!(record_metric, py).map_err(internal)?;
            let namespace = module.call_method1("new_namespace", (&def.namespace, emit, record)).map_err(internal)?;
            // Tracebacks show the definition's lines from this text, not from the file.
            if let Ok(text) = std::fs::read_to_string(&def.file) {
                module.call_method1("remember_source", (&def.file, text)).map_err(internal)?;
            }
            let mut functions: Vec<(String, Loaded)> = Vec::new();
            let mut by_name: FastMap<String, usize> = FastMap::default();
            let mut diags = Vec::new();
            for f in def.all_functions() {
                let path = if def.functions.contains_key(&f.name) { format!("functions.{}", f.name) } else { f.name.clone() };
                let loaded = spec(py, &def.namespace, &def.file, f, LoggerKind::Function)
                    .and_then(|s| module.call_method1("load_function", (&namespace, s)));
                // A function's store proxies are its `__weir_stores__` keyword default: bound
                // once, they find the current task's instances at each call.
                let loaded = loaded.and_then(|callable| {
                    if !f.stores.is_empty() {
                        let names: Vec<String> = f.stores.iter().map(|s| s.value.clone()).collect();
                        let proxies = crate::stores::function_stores(py, def, &names)?;
                        callable.getattr("__kwdefaults__")?.set_item("__weir_stores__", proxies)?;
                    }
                    Ok(callable)
                });
                match loaded {
                    Ok(callable) => {
                        let result = result_type(f);
                        let entry = (f.name.clone(), Loaded { callable: callable.unbind(), def: f.clone(), result });
                        match by_name.get(&f.name) {
                            Some(&i) => functions[i] = entry,
                            None => {
                                by_name.insert(f.name.clone(), functions.len());
                                functions.push(entry);
                            }
                        }
                    }
                    Err(err) if err.is_instance_of::<pyo3::exceptions::PySyntaxError>(py) => {
                        diags.push(syntax_diagnostic(py, &err, &def.file, f, &path));
                    }
                    Err(err) => {
                        let e = function_error(py, &def.namespace, &def.file, f, &err);
                        let span = e.location.as_ref().map(|(_, line)| Span::new(*line, 1, 1)).unwrap_or(f.span);
                        diags.push(
                            Diagnostic::error(
                                &def.file,
                                Some(span),
                                &path,
                                format!("globalCode of function '{}' failed: {}", f.name, e.message),
                            )
                            .with_hint(e.traceback.unwrap_or_default()),
                        );
                    }
                }
            }
            if diags.is_empty() {
                Ok(PythonFunctions {
                    namespace: def.namespace.clone(),
                    file: def.file.clone(),
                    functions,
                    by_name,
                    decoding: Mutex::default(),
                })
            } else {
                Err(diags)
            }
        })
    }
}

impl PythonFunctions {
    fn loaded(&self, name: &str) -> Result<&Loaded, FunctionError> {
        // A few names are compared quicker than one is hashed (twice per record and more).
        let found = if self.functions.len() <= 8 {
            self.functions.iter().find(|(n, _)| same_text(n, name))
        } else {
            self.by_name.get(name).and_then(|&i| self.functions.get(i))
        };
        found.map(|(_, f)| f).ok_or_else(|| FunctionError {
            function: format!("{}.{name}", self.namespace),
            message: "no such function (a bug in Weir: the plan refers to a function that was not loaded)".to_string(),
            traceback: None,
            location: None,
            details: Box::default(),
        })
    }

    fn fail(&self, name: &str, message: String) -> FunctionError {
        FunctionError { function: format!("{}.{name}", self.namespace), message, traceback: None, location: None, details: Box::default() }
    }

    /// Calls the function with arguments already in Python. `None`: the function type has
    /// no result (a `forEach`), whatever the code returned.
    fn invoke<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        f: &Loaded,
        args: &[Bound<'py, PyAny>],
    ) -> Result<Option<Bound<'py, PyAny>>, FunctionError> {
        let callable = f.callable.bind(py);
        // A function declaring `stores` takes its store proxies from its keyword defaults.
        let result = if !f.def.stores.is_empty() {
            let tuple = PyTuple::new(py, args).map_err(|e| self.fail(name, e.to_string()))?;
            callable.call(tuple, Some(&PyDict::new(py)))
        } else {
            // KSML's fixed parameters are at most four: a vectorcall, no argument tuple.
            match args {
                [] => callable.call0(),
                [a] => callable.call1((a,)),
                [a, b] => callable.call1((a, b)),
                [a, b, c] => callable.call1((a, b, c)),
                [a, b, c, d] => callable.call1((a, b, c, d)),
                _ => PyTuple::new(py, args).and_then(|t| callable.call1(t)),
            }
        };
        let result = result.map_err(|err| function_error(py, &self.namespace, &self.file, &f.def, &err))?;
        if f.def.fn_type.result() == ResultRule::Forbidden {
            return Ok(None);
        }
        if result.is_callable() {
            return Err(self.fail(name, "the code returns a function instead of a value".to_string()));
        }
        Ok(Some(result))
    }

    /// A struct argument whose declared type has `schema`, as a `SchemaStruct` of that
    /// schema's class; `None` when the argument is not a struct (a null passes as `None`).
    fn schema_struct<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        d: &Datum,
        schema: &ArgSchema,
    ) -> Result<Option<Bound<'py, PyAny>>, FunctionError> {
        let fail = |e: String| self.fail(name, format!("cannot pass the arguments to Python: {e}"));
        let class = schema
            .runtime(|| -> Result<Py<PyAny>, String> {
                let template = to_py(py, &schema.schema).map_err(|e| e.to_string())?;
                let class = bootstrap(py).and_then(|m| m.call_method1("schema_struct_class", (&schema.name, template)));
                class.map(Bound::unbind).map_err(|e| format!("internal error: Weir's SchemaStruct class (a bug in Weir): {e}"))
            })
            .ok_or_else(|| fail("internal error: another runtime's schema object (a bug in Weir)".to_string()))?
            .as_ref()
            .map_err(|e| fail(e.clone()))?
            .bind(py);
        let made = match d {
            Datum::Value(Value::Struct(fields)) => class.call0().and_then(|obj| {
                let dict = obj.cast::<PyDict>()?;
                for (k, v) in fields {
                    dict.set_item(k, to_py(py, v)?)?;
                }
                Ok(obj)
            }),
            Datum::Foreign(x) => match x.as_any().downcast_ref::<PyValue>().map(|o| o.bind(py)) {
                // Copies the fields (a `SchemaStruct`'s own `@type`/`@schema` stay behind).
                Some(obj) if obj.is_instance_of::<PyDict>() => class.call1((obj,)),
                _ => return Ok(None),
            },
            Datum::Value(_) => return Ok(None),
        };
        made.map(Some).map_err(|e| fail(e.to_string()))
    }

    /// A result as a [`Value`] of the declared result type.
    fn result_value(&self, name: &str, f: &Loaded, result: &Bound<'_, PyAny>) -> Result<Value, FunctionError> {
        let value = from_py(result).map_err(|e| self.fail(name, format!("the result cannot be converted: {e}")))?;
        match &f.result {
            Some(ty) => convert(value, ty).map_err(|e| self.fail(name, format!("the result does not fit the resultType '{ty}': {e}"))),
            None => Ok(value),
        }
    }
}

impl Functions for PythonFunctions {
    /// Calls a function with its fixed parameters, in KSML's order (e.g. `key, value`).
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, FunctionError> {
        let f = self.loaded(name)?;
        Python::attach(|py| {
            let py_args = args
                .iter()
                .map(|v| to_py(py, v))
                .collect::<PyResult<Vec<_>>>()
                .map_err(|e| self.fail(name, format!("cannot pass the arguments to Python: {e}")))?;
            match self.invoke(py, name, f, &py_args)? {
                Some(result) => self.result_value(name, f, &result),
                None => Ok(Value::Null),
            }
        })
    }

    /// As [`Functions::call`], with Python objects passed in as they are, and a result that
    /// is a lossless dict, list or tuple ([`PyValue::keep`]) handed back as it is when its
    /// declared type would not convert it.
    ///
    /// An argument whose declared type has a schema ([`ArgSchema`]) and that is a struct
    /// reaches Python as a `SchemaStruct` (bootstrap.py), a dict that also answers KSML's
    /// `@type` and `@schema`; a fresh one for each call, as KSML converts each time.
    fn call_datum(&self, name: &str, args: &[&Datum], schemas: Option<&[Option<Arc<ArgSchema>>]>) -> Result<Datum, FunctionError> {
        let f = self.loaded(name)?;
        Python::attach(|py| {
            let arg = |d: &Datum| match d {
                Datum::Foreign(x) => match x.as_any().downcast_ref::<PyValue>() {
                    Some(obj) => Ok(obj.bind(py).clone()),
                    None => x
                        .to_value()
                        .map_err(|e| self.fail(name, format!("cannot pass the arguments to Python: {e}")))
                        .and_then(|v| to_py(py, &v).map_err(|e| self.fail(name, format!("cannot pass the arguments to Python: {e}")))),
                },
                Datum::Value(v) => to_py(py, v).map_err(|e| self.fail(name, format!("cannot pass the arguments to Python: {e}"))),
            };
            // The usual (key, value) on the stack; other counts in a Vec.
            let result = match (schemas, args) {
                (None, [k, v]) => self.invoke(py, name, f, &[arg(k)?, arg(v)?])?,
                (None, _) => self.invoke(py, name, f, &args.iter().map(|d| arg(d)).collect::<Result<Vec<_>, _>>()?)?,
                (Some(schemas), _) => {
                    let py_args = args
                        .iter()
                        .enumerate()
                        .map(|(i, d)| match schemas.get(i) {
                            Some(Some(schema)) => match self.schema_struct(py, name, d, schema)? {
                                Some(obj) => Ok(obj),
                                None => arg(d),
                            },
                            _ => arg(d),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    self.invoke(py, name, f, &py_args)?
                }
            };
            let Some(result) = result else { return Ok(Datum::Value(Value::Null)) };
            if let Some(kind) = container_kind(&result)
                && f.result.as_ref().is_none_or(|ty| converts_unchanged(&ty.kind, kind))
                && let Some(kept) = PyValue::keep(&result)
            {
                return Ok(Datum::Foreign(Box::new(kept)));
            }
            self.result_value(name, f, &result).map(Datum::Value)
        })
    }

    fn decode_json(&self, bytes: &[u8]) -> Option<Box<dyn ForeignValue>> {
        Python::attach(|py| match self.decoding.try_lock() {
            Ok(mut cache) => decode_json(py, bytes, &mut cache),
            // Another thread has it (it can give up the GIL while decoding, when a garbage
            // collection runs Python code): never wait for it while holding the GIL, decode
            // without the cache instead.
            Err(_) => decode_json(py, bytes, &mut DecodeCache::default()),
        })
        .map(|v| Box::new(v) as Box<dyn ForeignValue>)
    }
}

fn result_type(f: &FunctionDef) -> Option<UserType> {
    match (&f.result_type, f.fn_type.result()) {
        (Some(t), _) => Some(t.value.clone()),
        (None, ResultRule::Default(text)) => parse_user_type(text, &[]).ok(),
        _ => None,
    }
}

/// A Python exception as a [`FunctionError`]: message, formatted traceback, and the YAML
/// line of the innermost frame that is in the definition file.
fn function_error(py: Python<'_>, namespace: &str, file: &str, f: &FunctionDef, err: &PyErr) -> FunctionError {
    let message = err.value(py).repr().map(|r| r.to_string()).unwrap_or_else(|_| err.to_string());
    let message = format!(
        "{}: {}",
        err.get_type(py).name().map(|n| n.to_string()).unwrap_or_default(),
        err.value(py).str().map(|s| s.to_string()).unwrap_or(message)
    );
    let mut location = None;
    let mut tb = err.traceback(py);
    while let Some(frame) = tb {
        let code = frame.getattr("tb_frame").and_then(|fr| fr.getattr("f_code"));
        let filename = code.and_then(|c| c.getattr("co_filename")).and_then(|n| n.extract::<String>()).unwrap_or_default();
        if filename == file
            && let Ok(line) = frame.getattr("tb_lineno").and_then(|l| l.extract::<u32>())
        {
            location = Some((file.to_string(), line));
        }
        tb = frame.getattr("tb_next").ok().and_then(|n| n.cast_into::<pyo3::types::PyTraceback>().ok());
    }
    let traceback = err.traceback(py).and_then(|t| format_traceback(&t));
    let details = error_details(err.value(py));
    FunctionError { function: format!("{namespace}.{}", f.name), message, traceback, location, details }
}

/// The `weir_headers()` of the exception or, when it has none, of the first exception in
/// its chain (`raise X from e`, or raised while handling `e`) that has them: a toolkit
/// `CallFailed` the function let through or wrapped.
fn error_details(exc: &Bound<'_, pyo3::exceptions::PyBaseException>) -> Box<[(String, String)]> {
    let mut current: Option<Bound<'_, PyAny>> = Some(exc.clone().into_any());
    // A chain is finite, but a cycle (e.__context__ set by hand) is not: a bound.
    for _ in 0..16 {
        let Some(e) = current else { break };
        if let Ok(headers) = e.call_method0("weir_headers")
            && let Ok(pairs) = headers.extract::<std::collections::BTreeMap<String, String>>()
        {
            return pairs.into_iter().collect();
        }
        current = ["__cause__", "__context__"].iter().find_map(|a| e.getattr(*a).ok().filter(|c| !c.is_none()));
    }
    Box::default()
}

/// A traceback as Python prints it, through the `traceback` module: it reads source lines
/// from `linecache`, where the definitions' texts are (C's traceback printer opens the
/// files, which a function's sandbox may forbid).
pub(crate) fn format_traceback(tb: &Bound<'_, pyo3::types::PyTraceback>) -> Option<String> {
    let py = tb.py();
    let lines = py.import("traceback").and_then(|m| m.call_method1("format_tb", (tb,))).ok()?;
    let lines: Vec<String> = lines.extract().ok()?;
    Some(format!("Traceback (most recent call last):\n{}", lines.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use weir_engine::ports::Functions;

    fn load(yaml: &str) -> PythonFunctions {
        let (def, d) = weir_dsl::parse_definition("defs/t.yaml", "ns", yaml, &[]);
        assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
        PythonFunctions::load(&def.expect("definition")).expect("load")
    }

    fn kv(k: &str, v: Value) -> [Value; 2] {
        [Value::String(k.into()), v]
    }

    #[test]
    fn functions_share_globals_and_call_each_other() {
        let f = load(
            "functions:\n  helper:\n    globalCode: |\n      counter = [0]\n      def bump():\n          counter[0] += 1\n          return counter[0]\n    expression: None\n  count:\n    type: valueTransformer\n    code: |\n      return bump()\n    resultType: int\n",
        );
        assert_eq!(f.call("count", &kv("k", Value::Null)), Ok(Value::Int(1)));
        assert_eq!(f.call("count", &kv("k", Value::Null)), Ok(Value::Int(2)));
    }

    /// Functions are found by name in small definitions (compared in turn) and large ones
    /// (an index); an unknown name is an error naming it.
    #[test]
    fn functions_are_found_by_name() {
        for count in [1, 3, 8, 9, 20] {
            let yaml: String = std::iter::once("functions:\n".to_string())
                .chain((0..count).map(|i| format!("  fn_{i}:\n    type: valueTransformer\n    expression: {i}\n    resultType: int\n")))
                .collect();
            let f = load(&yaml);
            for i in (0..count).rev() {
                assert_eq!(f.call(&format!("fn_{i}"), &kv("k", Value::Null)), Ok(Value::Int(i)), "{count} functions");
            }
            let e = f.call("fn_x", &kv("k", Value::Null)).expect_err("no such function");
            assert!(e.message.contains("no such function") && e.function == "ns.fn_x", "{e}");
        }
    }

    #[test]
    fn predicates_default_to_true_and_check_their_result() {
        let f = load(
            "functions:\n  yes:\n    type: predicate\n    code: x = 1\n  hot:\n    type: predicate\n    expression: value['t'] > 30\n",
        );
        assert_eq!(f.call("yes", &kv("k", Value::Null)), Ok(Value::Bool(true)));
        let v = Value::Struct(IndexMap::from([("t".to_string(), Value::Long(35))]));
        assert_eq!(f.call("hot", &kv("k", v)), Ok(Value::Bool(true)));
    }

    #[test]
    fn every_function_has_its_own_logger() {
        let f = load(
            "functions:\n  named:\n    type: valueTransformer\n    expression: log._name\n    resultType: string\n  shadowed:\n    type: valueTransformer\n    parameters:\n      - name: log\n        type: string\n    expression: log._name\n    resultType: string\n",
        );
        assert_eq!(f.call("named", &kv("k", Value::Null)), Ok(Value::String("ns.function.named".into())));
        assert_eq!(f.call("named", &kv("k", Value::Null)), Ok(Value::String("ns.function.named".into())));
        assert_eq!(f.call("shadowed", &kv("k", Value::Null)), Ok(Value::String("ns.function.shadowed".into())));
    }

    #[test]
    fn custom_parameters_take_their_defaults() {
        let f = load(
            "functions:\n  greet:\n    type: valueTransformer\n    parameters:\n      - name: greeting\n        type: string\n        defaultValue: hello\n      - name: times\n        type: int\n        defaultValue: 2\n    expression: greeting * times + value\n    resultType: string\n",
        );
        assert_eq!(f.call("greet", &kv("k", Value::String("!".into()))), Ok(Value::String("hellohello!".into())));
    }

    #[test]
    fn results_are_converted_to_the_result_type() {
        let f = load(
            "functions:\n  pair:\n    type: keyValueTransformer\n    expression: '[key, 5]'\n    resultType: (string, int)\n  bad:\n    type: valueTransformer\n    expression: '\"abc\"'\n    resultType: int\n",
        );
        assert_eq!(f.call("pair", &kv("k", Value::Null)), Ok(Value::Tuple(vec![Value::String("k".into()), Value::Int(5)])));
        let e = f.call("bad", &kv("k", Value::Null)).expect_err("abc is no int");
        assert!(e.message.contains("does not fit the resultType 'int'"), "{e}");
    }

    #[test]
    fn exceptions_carry_the_yaml_line_and_traceback() {
        let f = load(
            "functions:\n  boom:\n    type: valueTransformer\n    code: |\n      x = 1\n      y = value['missing']\n      return y\n    resultType: json\n",
        );
        let e = f.call("boom", &kv("k", Value::Struct(IndexMap::new()))).expect_err("KeyError");
        assert_eq!(e.function, "ns.boom");
        assert_eq!(e.message, "KeyError: 'missing'");
        assert_eq!(e.location, Some(("defs/t.yaml".to_string(), 6)));
        assert!(e.traceback.as_deref().is_some_and(|t| t.contains("defs/t.yaml\", line 6, in boom")), "{e}");
    }

    #[test]
    fn metrics_reach_the_registry() {
        let f = load(
            "functions:\n  count:\n    type: forEach\n    code: |\n      metrics.counter('weir_test_seen', {'color': value}).increment()\n      metrics.meter('weir_test_rate').mark(3)\n      metrics.timer('weir_test_time').updateMillis(2)\n",
        );
        f.call("count", &kv("k", Value::String("blue".into()))).expect("call");
        f.call("count", &kv("k", Value::String("blue".into()))).expect("call");
        let snap = user_metrics().snapshot();
        let find = |name: &str| snap.iter().find(|(id, _)| id.name == name).map(|(id, v)| (id.clone(), v.clone())).expect(name);
        let (id, v) = find("weir_test_seen");
        assert_eq!(id.tags.get("color").map(String::as_str), Some("blue"));
        assert_eq!(v, weir_engine::metrics::MetricValue::Counter { count: 2 });
        assert!(matches!(find("weir_test_rate").1, weir_engine::metrics::MetricValue::Meter { count: 6, .. }));
        assert!(matches!(find("weir_test_time").1, weir_engine::metrics::MetricValue::Timer { count: 2, sum_ns: 4_000_000, .. }));
    }

    fn text(s: &str) -> Value {
        Value::String(s.to_string())
    }

    fn fields(pairs: &[(&str, Value)]) -> Value {
        Value::Struct(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    /// A struct whose declared type has a schema answers KSML's `@type` and `@schema` (and
    /// forgets them when deleted or popped, takes them when assigned), while iteration,
    /// `len`, JSON and the returned value see its fields only; each call starts afresh.
    #[test]
    fn schema_structs_answer_type_and_schema() {
        let f = load(
            "functions:\n  probe:\n    type: valueTransformer\n    globalCode: import json\n    code: |\n      out = {'type': value['@type'], 'get': value.get('@type'), 'in': '@type' in value and '@schema' in value}\n      out['len'], out['keys'], out['json'] = len(value), list(value), json.dumps(value)\n      out['eq'] = value == {'a': 1, 'color': 'blue'}\n      schema = value['@schema']\n      schema['name'] = schema['name'] + 'NoColor'\n      del schema['fields'][1]\n      out['same_copy'] = value['@schema']['name']\n      del value['@type']\n      out['deleted'] = ['@type' in value, value.get('@type', 'gone'), value.pop('@type', 'gone')]\n      try:\n        value['@type']\n      except KeyError as e:\n        out['key_error'] = str(e)\n      value['@schema'] = {'name': 'Assigned'}\n      value['@type'] = 'T'\n      value['owner'] = 'Zack'\n      out['assigned'] = [value['@schema']['name'], value['@type'], value.pop('@schema')['name'], '@schema' in value]\n      out['after'] = sorted(value.keys())\n      out['value'] = value\n    expression: out\n    resultType: json\n  plain:\n    type: valueTransformer\n    expression: \"['@type' in value, value.get('@type', 'none'), type(value) is dict]\"\n    resultType: json\n",
        );
        let schema = fields(&[
            ("type", text("struct")),
            ("name", text("Sensor")),
            ("fields", Value::List(vec![fields(&[("name", text("a"))]), fields(&[("name", text("color"))])])),
        ]);
        let schemas: Vec<Option<Arc<ArgSchema>>> = vec![None, Some(Arc::new(ArgSchema::new("Sensor".to_string(), schema)))];
        let key = Datum::Value(text("k"));
        let value = Datum::Value(fields(&[("a", Value::Long(1)), ("color", text("blue"))]));
        let expected = fields(&[
            ("type", text("Sensor")),
            ("get", text("Sensor")),
            ("in", Value::Bool(true)),
            ("len", Value::Long(2)),
            ("keys", Value::List(vec![text("a"), text("color")])),
            ("json", text("{\"a\": 1, \"color\": \"blue\"}")),
            ("eq", Value::Bool(true)),
            ("same_copy", text("SensorNoColor")),
            ("deleted", Value::List(vec![Value::Bool(false), text("gone"), text("gone")])),
            ("key_error", text("'@type'")),
            ("assigned", Value::List(vec![text("Assigned"), text("T"), text("Assigned"), Value::Bool(false)])),
            ("after", Value::List(vec![text("a"), text("color"), text("owner")])),
            ("value", fields(&[("a", Value::Long(1)), ("color", text("blue")), ("owner", text("Zack"))])),
        ]);
        // A value passed on as a Python object (a previous function's result) too.
        let foreign = Python::attach(|py| {
            let obj = py.eval(c"{'a': 1, 'color': 'blue'}", None, None).expect("eval");
            Datum::Foreign(Box::new(PyValue::keep(&obj).expect("a plain dict is kept")))
        });
        // Twice: the second call gets the schema as it was, not the first call's changes.
        for v in [&value, &value, &foreign] {
            let out = f.call_datum("probe", &[&key, v], Some(&schemas)).expect("probe").into_value().expect("value");
            assert_eq!(out, expected);
        }
        let kept = f.call_datum("probe", &[&key, &value], None).err();
        assert!(kept.is_some_and(|e| e.message.contains("KeyError: '@type'")), "no schema, no @type");
        let plain = f.call_datum("plain", &[&key, &value], None).expect("plain").into_value().expect("value");
        assert_eq!(plain, Value::List(vec![Value::Bool(false), text("none"), Value::Bool(true)]));
        let null = f.call_datum("plain", &[&key, &Datum::Value(Value::Null)], Some(&schemas)).err();
        assert!(null.is_some_and(|e| e.message.contains("TypeError")), "None stays None");
    }

    #[test]
    fn global_code_errors_are_diagnostics() {
        let (def, _) = weir_dsl::parse_definition(
            "t.yaml",
            "ns",
            "functions:\n  f:\n    globalCode: |\n      import no_such_module_x\n    expression: None\n",
            &[],
        );
        let diags = PythonFunctions::load(&def.expect("def")).err().expect("import fails");
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("ModuleNotFoundError"), "{}", diags[0]);
        assert_eq!(diags[0].span.map(|s| s.line), Some(4));
    }
}
