//! `weir-engine`: everything between a validated definition and records flowing: the data
//! model, notations, the plan, the runtime and state stores. It owns the ports (traits) that
//! adapters implement ([`ports`] for Python functions, [`broker`] for the embedded log and
//! Kafka) and names no adapter itself.

pub mod broker;
pub mod hash;
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
