//! The ports: what the engine needs from the outside, as traits that adapters implement.
//!
//! - [`Functions`]: calling a definition's user functions (implemented by `weir-python`),
//!   with [`ForeignValue`] for values the function runtime keeps in its own objects, and
//!   [`ArgSchema`] for the schema of an argument's declared type (KSML's `@type`/`@schema`).
//! - [`ThreadScope`]: what worker threads run inside (attached to the interpreter), and how a
//!   batch of records takes the interpreter's lock once.
//!
//! The broker port (topics, records, consumer positions) has a module of its own,
//! [`crate::broker`].

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::Value;
use crate::value::Datum;
pub use crate::value::ForeignValue;

/// A failure while running a user function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionError {
    /// `<namespace>.<function>`.
    pub function: String,
    pub message: String,
    /// The language's traceback, when the function raised.
    pub traceback: Option<String>,
    /// The YAML file and line of the innermost frame in the definition, if any.
    pub location: Option<(String, u32)>,
    /// What the error itself says about the failure, for the dead letter's `weir.error.*`
    /// headers (a toolkit call's `call.endpoint`, `call.attempts`, `call.cause`).
    pub details: Box<[(String, String)]>,
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error while executing function {}: {}", self.function, self.message)?;
        if let Some((file, line)) = &self.location {
            write!(f, " (at {file}:{line})")?;
        }
        if let Some(tb) = &self.traceback {
            write!(f, "\n{}", tb.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for FunctionError {}

/// The schema of a function argument's declared type, for a struct type with a schema
/// (`avro:SensorData`): KSML shows it to Python as the dict's `@type` (the schema's name) and
/// `@schema` (the schema in KSML's schema notation) keys. Resolved once when the topology is
/// planned; a call passes a handle to it.
pub struct ArgSchema {
    /// The schema's name without namespace (`SensorData`), KSML's `@type`.
    pub name: String,
    /// The schema as KSML represents it, KSML's `@schema`.
    pub schema: Value,
    /// What the function runtime makes of it, made on first use and kept (the runtime's own
    /// objects for the two keys).
    runtime: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl ArgSchema {
    pub fn new(name: String, schema: Value) -> ArgSchema {
        ArgSchema { name, schema, runtime: OnceLock::new() }
    }

    /// The function runtime's form of this schema, made by `make` the first time. `make`
    /// runs without any lock held, so it may wait for the runtime's own lock (Python's GIL);
    /// two threads may both make it, and the first one kept is used. `None` if a different
    /// type was kept.
    pub fn runtime<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Option<&T> {
        if self.runtime.get().is_none() {
            let _ = self.runtime.set(Box::new(make()));
        }
        self.runtime.get().and_then(|r| r.downcast_ref::<T>())
    }
}

impl fmt::Debug for ArgSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArgSchema({})", self.name)
    }
}

/// The schemas of a function's fixed parameters, in order; `None` for a parameter whose
/// declared type has no schema. (A `Vec` behind the `Arc` keeps the handle one pointer wide.)
pub type ArgSchemas = Arc<Vec<Option<Arc<ArgSchema>>>>;

/// The user functions of one definition, called by name with their fixed parameters in
/// KSML's order (e.g. `key, value`); the result is already converted to the function's
/// result type.
pub trait Functions: Send + Sync {
    fn call(&self, name: &str, args: &[Value]) -> Result<Value, FunctionError>;

    /// [`Functions::call`] with arguments and result as [`Datum`]s: a runtime that keeps
    /// values in its own objects takes its [`ForeignValue`]s as they are and may return one,
    /// when the result's declared type would not change it
    /// ([`crate::value::converts_unchanged`]) and materializing it gives the same value.
    /// `schemas`, when given, has the schema of each argument's declared type (at most one
    /// per argument); a runtime that presents schemas shows them, others ignore them.
    /// The default materializes the arguments and calls [`Functions::call`].
    fn call_datum(&self, name: &str, args: &[&Datum], schemas: Option<&[Option<Arc<ArgSchema>>]>) -> Result<Datum, FunctionError> {
        let _ = schemas;
        let values = args.iter().map(|d| d.to_value()).collect::<Result<Vec<_>, _>>().map_err(|message| FunctionError {
            function: name.to_string(),
            message: format!("cannot pass the arguments: {message}"),
            traceback: None,
            location: None,
            details: Box::default(),
        })?;
        self.call(name, &values).map(Datum::Value)
    }

    /// Reads a JSON document straight into the runtime's own objects, giving exactly what
    /// decoding it into a [`Value`] and passing that to a function would give. `None` when
    /// the runtime cannot, or the top level is not an object or array (a scalar is as cheap
    /// as a [`Value`]), or the bytes are not JSON: the caller then decodes the usual way,
    /// which reports the error.
    fn decode_json(&self, bytes: &[u8]) -> Option<Box<dyn ForeignValue>> {
        let _ = bytes;
        None
    }
}

/// What a worker thread (stream thread, producer thread) runs inside for its whole life.
/// The Python runtime uses it to keep the thread attached to the interpreter: attaching
/// for every call instead costs a thread state set up and torn down each time.
pub trait ThreadScope: Send + Sync {
    fn run(&self, body: &mut (dyn FnMut() + Send));

    /// Runs a batch of records' processing with the runtime's lock held (Python's GIL), so
    /// the function calls inside do not each take it. Called inside [`ThreadScope::run`].
    /// The default just runs `body`.
    fn batch(&self, body: &mut dyn FnMut()) {
        body()
    }

    /// Runs `body` (a pause, a wait) with the lock of a surrounding [`ThreadScope::batch`]
    /// released, so other threads can call functions meanwhile. The default just runs `body`.
    fn outside(&self, body: &mut (dyn FnMut() + Send)) {
        body()
    }
}

/// A shared [`ThreadScope`] (a handle that `RunOptions` can carry and print).
#[derive(Clone)]
pub struct ScopeHandle(pub std::sync::Arc<dyn ThreadScope>);

impl fmt::Debug for ScopeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ThreadScope")
    }
}
