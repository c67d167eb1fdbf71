//! `weir-engine`: everything between a validated definition and records flowing: the data
//! model, the embedded log, and (to come) notations, the plan, operations, state stores and
//! the runtime. It owns the ports (traits) that adapters implement (Python functions, the
//! Kafka broker) and names no adapter technology itself.

pub mod log;
pub mod value;

pub use value::Value;
