//! Which process holds a key of a store: the seam where queries will be routed between the
//! processes of one application on Kafka.
//!
//! On the embedded log one process owns every task, so every key is local and `/all` is
//! `/local/all` ([`ThisProcess`]). On Kafka each process holds the tasks of its partitions;
//! KSML then forwards `/get/{key}` to the key's owner's `/local/get/{key}` and adds every
//! other process's `/local/all` to `/all`. **That routing is not built yet**: it needs each
//! member's REST endpoint in the group's metadata (Kafka Streams' `application.server`) and
//! the key's partition. A routing implementation answers [`Owners`] from that; the query
//! code already asks it before reading locally.

use weir_engine::store::ReadOnlyStore;
use weir_engine::value::Value;

/// Where a key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// In this process's instances.
    Local,
    /// In another process, whose REST API is at this base URL (`http://host:port`).
    #[expect(dead_code, reason = "answered by the routing on Kafka, which is not built yet (see the module doc)")]
    Remote(String),
}

/// Answers which process holds what.
pub trait Owners: Send + Sync {
    /// The process holding `key` of `store`.
    fn owner_of(&self, store: &ReadOnlyStore, key: &Value) -> Owner;
    /// The base URLs of the other processes holding instances of `store`.
    fn others(&self, store: &ReadOnlyStore) -> Vec<String>;
}

/// Every key is here: the embedded log (and, until routing is built, Kafka too, where a
/// process then answers for its own partitions only).
pub struct ThisProcess;

impl Owners for ThisProcess {
    fn owner_of(&self, _store: &ReadOnlyStore, _key: &Value) -> Owner {
        Owner::Local
    }

    fn others(&self, _store: &ReadOnlyStore) -> Vec<String> {
        Vec::new()
    }
}
