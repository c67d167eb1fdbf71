//! `weir-python`: KSML's Python functions on CPython, through PyO3. The only crate that
//! names pyo3.
//!
//! [`compile`] turns each function of a definition into Python code objects the way KSML
//! defines them (fixed parameters, custom parameters with defaults, `globalCode` at module
//! level, `code` + `expression`, `stores` as locals, a `log` per function), with every
//! position moved to the YAML file, so a syntax error or a traceback points at the YAML line.
//! [`stores`] has the state store proxies functions and assert blocks use.

pub mod assertions;
pub mod compile;
pub mod context;
pub mod convert;
pub mod objects;
pub mod runtime;
pub mod stores;

pub use compile::{check_definition, python_name};
pub use runtime::{PythonFunctions, thread_scope};
pub use weir_engine::ports::{FunctionError, Functions};
