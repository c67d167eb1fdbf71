//! The runner config's `pythonContext`: what user functions may do, enforced by a CPython
//! audit hook (PEP 578) installed before any user code runs.
//!
//! Each switch defaults to off, as in KSML. With `allowHostFileAccess` off, files may only
//! be read under Python's own installation (standard library, site-packages) and
//! `modulePath`; with `allowHostSocketAccess` off, no socket connects, binds or resolves;
//! with `allowCreateProcess` off, no subprocess, `os.system`, `fork` or `exec`; with
//! `allowNativeAccess` off, no `ctypes`; with `allowCreateThread` off, no thread starts; with
//! `inheritEnvironmentVariables` off, `os.environ` is empty. A denied action raises
//! `PermissionError` (or, for the environment, `KeyError`) naming the switch that would
//! allow it.
//!
//! The hook is process-wide and cannot be removed, so the first context installed is the
//! one in force; installing a different one later is an error. Audit hooks are not a
//! sandbox against a determined attacker (CPython says so); they stop the accidental and the
//! obvious, as KSML's GraalPy settings do. C extension modules of installed packages load
//! (that is why Weir runs CPython); `ctypes` does not.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use weir_dsl::runner::PythonContext;

use crate::compile::bootstrap;

/// The switches in force, once installed.
static INSTALLED: Mutex<Option<(Switches, Option<String>)>> = Mutex::new(None);

type Switches = [(&'static str, bool); 6];

fn switches(ctx: &PythonContext) -> Switches {
    [
        ("allowHostFileAccess", ctx.allow_host_file_access),
        ("allowHostSocketAccess", ctx.allow_host_socket_access),
        ("allowNativeAccess", ctx.allow_native_access),
        ("allowCreateProcess", ctx.allow_create_process),
        ("allowCreateThread", ctx.allow_create_thread),
        ("inheritEnvironmentVariables", ctx.inherit_environment_variables),
    ]
}

/// Installs the context for this process. `module_path` is `pythonContext.modulePath`,
/// already resolved against the runner config's directory. Calling it again with the same
/// settings does nothing; with other settings it is an error.
pub fn install(ctx: &PythonContext, module_path: Option<&str>) -> Result<(), String> {
    let wanted = (switches(ctx), module_path.map(str::to_string));
    let mut installed = INSTALLED.lock().map_err(|_| "the Python context lock is poisoned (a bug in Weir)".to_string())?;
    if let Some(current) = installed.as_ref() {
        return if *current == wanted {
            Ok(())
        } else {
            Err("the Python context (pythonContext) is process-wide and was already installed with other settings".to_string())
        };
    }
    Python::attach(|py| -> PyResult<()> {
        let settings = PyDict::new(py);
        for (name, on) in wanted.0 {
            settings.set_item(name, on)?;
        }
        bootstrap(py)?.call_method1("install_guard", (settings, module_path))?;
        Ok(())
    })
    .map_err(|e| format!("could not install the Python context: {e}"))?;
    *installed = Some(wanted);
    Ok(())
}
