//! State stores, with Kafka Streams' semantics: the engine's own in-memory stores (not a
//! port: no adapter implements them), their changelogs, and the typed interface the runtime
//! and function runtimes use.
//!
//! | module | owns |
//! |---|---|
//! | `spec` | [`StoreFlavor`] (a definition's kind of store), [`StoreSpec`] (types, codecs, changelog topic) |
//! | [`keyvalue`], [`versioned`], [`window`], [`session`] | the byte-level stores: ordering, ranges, retention, versions |
//! | [`untyped`] | self-describing bytes for stores without declared types |
//! | `instance` | [`StoreInstance`]: one task's instance, pending changelog records, stream time, restoring |
//! | `view` | [`StoreView`]: KSML's store operations, typed, over one or all instances |
//! | `entry` | what queries return: [`Stamped`], [`VersionedRecord`], [`Entry`], [`StoreIter`], KSML's windowed-key struct |
//! | `tasks` | [`StateStores`] (every instance, by store and task), [`TaskStores`], changelog flushing and restoring, the change signal long-polling readers wait on |
//! | `query` | [`StoreQueries`], [`ReadOnlyStore`]: read-only queries from outside the runtime (the REST API) |
//! | `current` | [`in_task`] and [`current`]: the current task's stores for code called during a batch |
//!
//! **Kinds.** A KSML store definition (`type: keyValue | window | session` and its flags)
//! becomes one [`StoreFlavor`], following KSML's mapping onto Kafka Streams' builders (its
//! `StoreUtil`):
//!
//! | definition | flavor |
//! |---|---|
//! | `keyValue` with `versioned: true` and `persistent: true` | versioned key-value (`historyRetention`) |
//! | `keyValue` with `timestamped: true` (and not the above) | timestamped key-value |
//! | other `keyValue` (so `versioned` without `persistent` too) | key-value |
//! | `window` (`timestamped` too: KSML builds it with a plain window builder) | window (`retention`, `windowSize`, `retainDuplicates`) |
//! | `session` | session (`retention`) |
//!
//! The timestamped window flavor is what a windowed aggregation keeps its windows in.
//!
//! **Bytes, as in Kafka Streams.** Keys and values are stored serialized with the store's
//! `keyType`/`valueType` codecs ([`StoreSpec`]), as Kafka Streams' stores hold bytes: a key
//! or value is brought to the declared type ([`crate::value::convert`]) and encoded when put
//! (so what does not fit the type fails there), and decoded when read. Keys are ordered by
//! their serialized bytes (unsigned, byte-wise, Kafka's `Bytes` order), so iteration order
//! is the order Kafka Streams would give. The byte-level stores ([`keyvalue`],
//! [`versioned`], [`window`], [`session`]) carry the semantics: point lookups, ranges,
//! retention and stream time, versions.
//!
//! **Tasks.** There is one instance of every store per task (partition number), as in Kafka
//! Streams. [`StateStores`] holds an application's instances; the runtime opens a task's
//! instances when it creates the task and runs each batch of the task's records inside
//! [`in_task`], so code called during the batch (Python store proxies) reaches *that
//! task's* instance with [`current`]. [`StoreView`] is the typed interface over one instance
//! or, for inspection after a run (`weir test`), over all of a store's instances.
//!
//! **Changelogs and persistence.** A store with `logging: true` writes every change to its
//! changelog topic `<application.id>-<store>-changelog` (partition = task), which is
//! compacted for key-value stores and compacted with a retention of the store's retention
//! plus one day for window and session stores (Kafka Streams' settings). Changes are kept
//! with the instance and appended by the stream thread after each batch, with the batch's
//! output records, so they are durable before the commit that covers them (at least once).
//! When a task starts, its instances are restored from the changelog. Weir's stores are
//! in memory: a `persistent: true` store is an in-memory store restored from its changelog
//! at start, so `persistent: true` writes the changelog whether or not `logging` is set.
//! The versioned store's changelog is not compacted (compaction keeps the last record
//! written per key, which for out-of-order versions is not the latest version): it keeps
//! every change. Changelog records of key-value, window and session stores carry the wall
//! clock time; those of timestamped and versioned stores carry the value's timestamp.
//!
//! Changelog layouts (Kafka Streams' own): key-value stores log the serialized key and
//! value (a null value for a delete); window stores log `key ‖ windowStart (8 bytes,
//! big-endian) ‖ sequence number (4 bytes)`; session stores `key ‖ end ‖ start` (8 bytes
//! each).
//!
//! `caching` is accepted and has no effect: every change is visible (and logged) at once,
//! as with caching off.

mod current;
mod entry;
mod instance;
pub mod keyvalue;
mod query;
pub mod session;
mod spec;
mod tasks;
pub mod untyped;
pub mod versioned;
mod view;
pub mod window;

use std::fmt;

pub use current::{current, in_task};
pub use entry::{Entry, EntryKey, Stamped, StoreIter, VersionedRecord, instant_text, windowed_from_value, windowed_value};
pub use instance::StoreInstance;
pub use query::{QueryError, ReadOnlyStore, StoreQueries, split_windowed};
pub use spec::{StoreFlavor, StoreSpec, changelog_topic};
pub use tasks::{StateStores, TaskStores};
pub use versioned::{PUT_NOT_PUT, PUT_VALID_TO_UNDEFINED};
pub use view::StoreView;

/// What went wrong with a store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// A key or value that does not fit the store's types, a null key, an invalid window.
    Argument,
    /// Stored bytes that do not decode (a changelog written with other types).
    Data,
    /// The store was closed.
    Closed,
    /// No such store in the current task, or no task (a call outside a stream task).
    Unavailable,
    /// The operation belongs to another kind of store.
    WrongKind,
}

/// A failed store operation; the message names the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    pub message: String,
}

impl StoreError {
    pub(super) fn argument(message: String) -> StoreError {
        StoreError { kind: StoreErrorKind::Argument, message }
    }
    pub(super) fn data(message: String) -> StoreError {
        StoreError { kind: StoreErrorKind::Data, message }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests;
