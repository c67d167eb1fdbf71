//! `pythonContext` with every switch off (KSML's default): each kind of host access is
//! refused with an error naming the switch, while ordinary code and stdlib imports work.
//! (A separate test binary from `context_allowed.rs`: the audit hook is process-wide.)

use weir_dsl::runner::PythonContext;
use weir_engine::Value;
use weir_python::{Functions, PythonFunctions};

fn run(code: &str) -> Result<Value, String> {
    weir_python::context::install(&PythonContext::default(), None).expect("install");
    let yaml = format!(
        "functions:\n  f:\n    type: valueTransformer\n    code: |\n{}\n    resultType: string\n",
        code.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    let (def, diags) = weir_dsl::parse_definition("t.yaml", "ns", &yaml, &[]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    let functions = PythonFunctions::load(&def.expect("def")).map_err(|d| format!("{d:?}"))?;
    functions.call("f", &[Value::Null, Value::Null]).map_err(|e| e.message)
}

fn denied(code: &str, switch: &str) {
    let err = run(code).expect_err("must be denied");
    assert!(err.contains(&format!("pythonContext.{switch}: true")), "{code}: {err}");
}

#[test]
fn ordinary_code_and_stdlib_imports_work() {
    assert_eq!(run("import json, random, datetime, re\nreturn json.dumps({'a': 1})"), Ok(Value::String("{\"a\": 1}".into())));
}

#[test]
fn files_outside_python_are_refused() {
    denied("return open('/etc/hostname').read()", "allowHostFileAccess");
    denied("open('/tmp/weir-denied-write', 'w')\nreturn 'x'", "allowHostFileAccess");
    denied("import os\nos.remove('/tmp/nothing-here')\nreturn 'x'", "allowHostFileAccess");
}

#[test]
fn sockets_processes_native_threads_are_refused() {
    denied("import socket\nsocket.create_connection(('127.0.0.1', 9))\nreturn 'x'", "allowHostSocketAccess");
    denied("import subprocess\nsubprocess.run(['true'])\nreturn 'x'", "allowCreateProcess");
    denied("import os\nos.system('true')\nreturn 'x'", "allowCreateProcess");
    denied("import ctypes\nctypes.CDLL(None)\nreturn 'x'", "allowNativeAccess");
    denied("import threading\nthreading.Thread(target=print).start()\nreturn 'x'", "allowCreateThread");
}

#[test]
fn the_environment_is_empty() {
    assert_eq!(run("import os\nreturn str(os.environ.get('PATH'))"), Ok(Value::String("None".into())));
    denied("import os\nreturn os.environ['PATH']", "inheritEnvironmentVariables");
}

/// KSML's sandbox-escape fixtures, translated: reaching the host through the objects given
/// to functions still ends at the audit hook.
#[test]
fn escapes_through_builtins_are_refused() {
    denied("log.__class__.__init__.__globals__['__builtins__']['__import__']('os').system('true')\nreturn 'x'", "allowCreateProcess");
    denied(
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__['system']('true')\nreturn 'x'",
        "allowCreateProcess",
    );
}
