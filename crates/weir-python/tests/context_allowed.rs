//! `pythonContext` with every switch on: the same actions that `context_denied.rs` shows
//! refused are allowed. (A separate test binary: the audit hook is process-wide.)

use weir_dsl::runner::PythonContext;
use weir_engine::Value;
use weir_python::{Functions, PythonFunctions};

fn run(code: &str) -> Result<Value, String> {
    let all = PythonContext {
        allow_host_file_access: true,
        allow_host_socket_access: true,
        allow_native_access: true,
        allow_create_process: true,
        allow_create_thread: true,
        inherit_environment_variables: true,
        module_path: None,
    };
    weir_python::context::install(&all, None).expect("install");
    let yaml = format!(
        "functions:\n  f:\n    type: valueTransformer\n    code: |\n{}\n    resultType: string\n",
        code.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    let (def, _) = weir_dsl::parse_definition("t.yaml", "ns", &yaml, &[]);
    let functions = PythonFunctions::load(&def.expect("def")).map_err(|d| format!("{d:?}"))?;
    functions.call("f", &[Value::Null, Value::Null]).map_err(|e| e.message)
}

#[test]
fn every_switch_on_allows_host_access() {
    let dir = std::env::temp_dir().join(format!("weir-ctx-{}", std::process::id()));
    let path = dir.to_string_lossy().replace('\\', "/");
    assert_eq!(
        run(&format!("import os\nos.makedirs('{path}', exist_ok=True)\nopen('{path}/f', 'w').write('hi')\nreturn open('{path}/f').read()")),
        Ok(Value::String("hi".into()))
    );
    assert_eq!(
        run("import subprocess\nreturn subprocess.run(['echo', 'ok'], capture_output=True, text=True).stdout.strip()"),
        Ok(Value::String("ok".into()))
    );
    assert_eq!(
        run("import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()\nreturn 'joined'"),
        Ok(Value::String("joined".into()))
    );
    assert_eq!(run("import ctypes\nreturn str(ctypes.sizeof(ctypes.c_int))"), Ok(Value::String("4".into())));
    assert_eq!(
        run("import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.close()\nreturn 'bound'"),
        Ok(Value::String("bound".into()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn installing_other_settings_later_is_an_error() {
    let _ = run("return 'x'");
    let err = weir_python::context::install(&PythonContext::default(), None).expect_err("already installed");
    assert!(err.contains("process-wide"), "{err}");
}
