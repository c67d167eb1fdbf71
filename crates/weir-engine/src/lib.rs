//! `weir-engine`: everything between a validated definition and records flowing: the data
//! model, notations, the embedded log, the plan, the runtime and state stores. It owns the
//! ports (traits) that adapters implement (Python functions, the Kafka broker) and names no
//! adapter technology itself.

pub mod log;
pub mod metrics;
pub mod notation;
pub mod partitioner;
pub mod plan;
pub mod ports;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod time;
pub mod value;

pub use value::Value;
