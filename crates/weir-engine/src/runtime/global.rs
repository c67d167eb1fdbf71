//! Global tables: Kafka Streams' global stores in the embedded runtime.
//!
//! Each `globalTables:` topic a join reads has one store instance for the whole application
//! (not one per task), holding every partition of the topic. It is loaded to the end of the
//! topic when the application starts, before any stream record is processed, and a stream
//! thread catches it up to the end of the topic each time it has read a task's records,
//! before processing them (under a lock, so each record is applied once). So a record written
//! to the global topic before a stream record is visible to that record's join; in `weir test`, where the produce
//! blocks write before the topology runs, the join sees everything the test wrote to the
//! global topic. The instance is added to every task's stores, so it is reached like any
//! store ([`crate::store::current`]), and `weir test` can inspect it.
//!
//! The topic is the table's changelog: the store has none of its own, and a restart reloads
//! it from the topic. A record with a null key is skipped; a null value deletes the key. A
//! record that cannot be decoded goes to the consume error handler (skipped with
//! `continueOnFail`, else the application stops).

use std::sync::{Arc, Mutex};

use super::errors::{Decision, ErrorHandlers, Failure, Origin, Phase};
use super::process::Stop;
use crate::broker::Broker;
use crate::plan::{GlobalTable, Topology};
use crate::store::{StateStores, StoreInstance, StoreView, TaskStores};

/// The task number of global store instances (they belong to no task).
const GLOBAL_TASK: u32 = u32::MAX;

struct Global {
    table: GlobalTable,
    instance: Arc<StoreInstance>,
    /// The next offset to read, per partition.
    next: Mutex<Vec<u64>>,
}

/// The application's global tables.
#[derive(Default)]
pub(super) struct GlobalStores {
    tables: Vec<Global>,
}

impl GlobalStores {
    /// Opens (or reuses, in a second run in the same process) the global stores of the
    /// topology; they are loaded by the first [`GlobalStores::catch_up`].
    pub(super) fn open(topology: &Topology, broker: &dyn Broker, stores: &StateStores) -> Result<GlobalStores, String> {
        let mut tables = Vec::new();
        for table in &topology.global_tables {
            let partitions =
                broker.ensure_topic(&table.topic, 1).map_err(|e| format!("cannot open globalTable topic '{}': {e}", table.topic))?;
            let opened = stores.open_task(std::slice::from_ref(&table.store), GLOBAL_TASK, 1, broker)?;
            let Some(instance) = opened.iter().next().cloned() else {
                return Err(format!("the store of globalTable '{}' did not open (a bug in Weir)", table.topic));
            };
            let mut next = Vec::new();
            for p in 0..partitions {
                next.push(
                    broker.start_offset(&table.topic, p).map_err(|e| format!("cannot read globalTable topic '{}': {e}", table.topic))?,
                );
            }
            tables.push(Global { table: table.clone(), instance, next: Mutex::new(next) });
        }
        Ok(GlobalStores { tables })
    }

    /// A task's stores with the global instances added.
    pub(super) fn with_task(&self, task: &TaskStores) -> TaskStores {
        TaskStores::new(task.iter().cloned().chain(self.tables.iter().map(|g| Arc::clone(&g.instance))).collect())
    }

    /// Applies every record written to the global topics since the last call. Returns the
    /// number of records applied.
    pub(super) fn catch_up(&self, broker: &dyn Broker, handlers: &ErrorHandlers) -> Result<usize, Stop> {
        let mut applied = 0;
        for global in &self.tables {
            let topic = &global.table.topic;
            let mut next = global.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for (partition, at) in next.iter_mut().enumerate() {
                let partition = partition as u32;
                loop {
                    let records = broker
                        .read(topic, partition, *at, 1 << 20)
                        .map_err(|e| Stop(format!("cannot read globalTable topic {topic}/{partition}: {e}")))?;
                    let records: Vec<_> = records.into_iter().filter(|r| r.offset >= *at).collect();
                    let Some(last) = records.last().map(|r| r.offset) else { break };
                    for record in &records {
                        apply(global, partition, record, broker, handlers)?;
                        applied += 1;
                    }
                    *at = last + 1;
                }
            }
        }
        Ok(applied)
    }
}

fn apply(
    global: &Global,
    partition: u32,
    record: &crate::broker::StoredRecord,
    broker: &dyn Broker,
    handlers: &ErrorHandlers,
) -> Result<(), Stop> {
    let table = &global.table;
    let origin = Origin {
        topic: &table.topic,
        partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key.as_deref(),
        value: record.value.as_deref(),
        headers: &record.headers,
    };
    let fail = |message: String| {
        let failure = Failure {
            phase: Phase::Consume,
            message,
            function: None,
            node: Some(format!("globalTable {}", table.topic)),
            details: Vec::new(),
        };
        match handlers.handle(&failure, &origin, broker) {
            Decision::Continue => Ok(()),
            _ => Err(Stop(format!("consume error on {}/{partition}@{}: {}", table.topic, record.offset, failure.message))),
        }
    };
    let key = match table.format.key.decode(record.key.as_deref()) {
        Ok(k) => k,
        Err(e) => return fail(format!("cannot decode the key: {e}")),
    };
    if key == crate::value::Value::Null {
        return Ok(());
    }
    let value = match table.format.value.decode(record.value.as_deref()) {
        Ok(v) => v,
        Err(e) => return fail(format!("cannot decode the value: {e}")),
    };
    let instances = [Arc::clone(&global.instance)];
    let Some(view) = StoreView::new(&instances) else { return Ok(()) };
    if let Err(e) = view.put(&key, value, record.timestamp) {
        return fail(format!("cannot keep the record in globalTable store '{}': {e}", table.store.name));
    }
    Ok(())
}
